import { setTimeout as sleep } from 'node:timers/promises';
import PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/types.js';
import type { Database } from '../store/db.js';
import type { Mp3Options } from './artifacts.js';
import { finalizeRecording, type FinalizeContext } from './finalize.js';

export { ensureKeyPair, loadPrivateKey, KeyPassphraseError, type KeyPairInfo, type KeyType } from './keys.js';
export { artifactDir, finalizeRecording, spoolDirOf, type FinalizeStep } from './finalize.js';

/**
 * Durable post-call processing on pg-boss (its own schema, `pgboss`, in the catalogue database).
 * One `finalize-recording` job per recording: the job id is the recording id, so enqueueing twice
 * queues it once. A job interrupted by a crash is retried (by any node) and, because each step
 * of finalizeRecording is idempotent, completes exactly once.
 */

export const FINALIZE_QUEUE = 'finalize-recording';

export interface PipelineOptions {
  db: Pick<Database, 'pool' | 'recordings'>;
  mixer: Pick<MediaEngine, 'mix'>;
  dataDir: string;
  log: Logger;
  /** Jobs processed at once by this process; 0 = enqueue only (another node does the work). */
  concurrency: number;
  mp3: Mp3Options;
  key: { fingerprint: string; publicKeyArmored: string };
  /** Attempts after the first (default 5), with exponential backoff from retryDelaySeconds (default 10). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** A job still active after this long is presumed dead and retried (default 900). */
  expireInSeconds?: number;
  /** How often idle workers look for jobs (default 2, pg-boss minimum 0.5). Enqueues here wake them at once. */
  pollingIntervalSeconds?: number;
  /** Test hook, see FinalizeContext.afterStep. */
  afterStep?: FinalizeContext['afterStep'];
}

export interface Pipeline {
  /** Queues the finalize job once; for a recording whose job failed, queues one more attempt. */
  enqueueFinalize(recordingId: string): Promise<void>;
  /** Stops taking jobs and waits (up to 30 s) for the running ones. Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves when no finalize job is queued, waiting for retry, or active (for tests and drains). */
  idle(): Promise<void>;
}

interface FinalizeJob {
  recordingId: string;
}

export async function startPipeline(o: PipelineOptions): Promise<Pipeline> {
  const log = o.log.child({ part: 'pipeline' });
  const pool = o.db.pool;
  const boss = new PgBoss({
    // Share the catalogue's pool: no second set of connections, and the same database either way.
    db: { executeSql: (text, values) => pool.query(text, values) },
    schema: 'pgboss',
    schedule: false,
    supervise: true,
    migrate: true,
  });
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();

  const queue = {
    name: FINALIZE_QUEUE,
    policy: 'standard' as const,
    retryLimit: o.retryLimit ?? 5,
    retryDelay: o.retryDelaySeconds ?? 10,
    retryBackoff: true,
    expireInSeconds: o.expireInSeconds ?? 900,
  };
  if (!(await boss.getQueue(FINALIZE_QUEUE))) {
    await boss.createQueue(FINALIZE_QUEUE, queue).catch(async (err: unknown) => {
      if (!(await boss.getQueue(FINALIZE_QUEUE))) throw err; // not a lost race with another node
    });
  }

  const ctx: FinalizeContext = {
    recordings: o.db.recordings,
    mixer: o.mixer,
    dataDir: o.dataDir,
    log,
    mp3: o.mp3,
    key: o.key,
    afterStep: o.afterStep,
  };

  const workerIds: string[] = [];
  for (let i = 0; i < o.concurrency; i++) {
    workerIds.push(
      await boss.work<FinalizeJob>(
        FINALIZE_QUEUE,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: o.pollingIntervalSeconds ?? 2 },
        async ([job]) => {
          if (!job) return;
          const id = job.data.recordingId;
          try {
            const outcome = await finalizeRecording(ctx, id);
            return { outcome };
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            const last = job.retryCount >= job.retryLimit;
            log.warn({ recordingId: id, attempt: job.retryCount + 1, last, err: message }, 'finalize failed');
            if (last) {
              await o.db.recordings
                .markFailed(id, message)
                .catch((e: unknown) =>
                  log.error({ recordingId: id, err: e }, 'could not mark the recording failed'),
                );
            }
            throw err;
          }
        },
      ),
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    async enqueueFinalize(recordingId) {
      // The id makes a second enqueue a no-op; retry settings travel with the job (the queue's are
      // fixed when it is first created).
      const { retryLimit, retryDelay, retryBackoff, expireInSeconds } = queue;
      const id = await boss.send(
        FINALIZE_QUEUE,
        { recordingId },
        { id: recordingId, retryLimit, retryDelay, retryBackoff, expireInSeconds },
      );
      if (id) {
        log.debug({ recordingId }, 'finalize queued');
      } else {
        // Already known: if its last attempt failed (e.g. an operator retries after fixing the
        // cause), give it one more attempt; queued, active or completed jobs are left alone.
        const job = await boss.getJobById(FINALIZE_QUEUE, recordingId);
        if (job?.state === 'failed') {
          await boss.retry(FINALIZE_QUEUE, recordingId);
          log.info({ recordingId }, 'failed finalize queued again');
        }
      }
      for (const w of workerIds) boss.notifyWorker(w);
    },
    stop() {
      stopped ??= boss.stop({ graceful: true, wait: true, close: false, timeout: 30_000 });
      return stopped;
    },
    async idle() {
      for (;;) {
        const r = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
          [FINALIZE_QUEUE],
        );
        if ((r.rows[0]?.n ?? 0) === 0) return;
        await sleep(100);
      }
    },
  };
}
