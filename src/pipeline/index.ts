import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { dynamicGate, tieredGate, type PipelineCapacity } from './capacity.js';
import PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/types.js';
import type { Database } from '../store/db.js';
import { beginRun, groupCommit } from '../store/recordings.js';
import { adoptQueuedJobs, FINALIZE_QUEUE, spoolsHere } from './routing.js';
import type { Mp3Options } from './artifacts.js';
import { finalizeRecording, type FinalizeContext } from './finalize.js';
import {
  acquireNodeLease,
  clearRun,
  failedFinalizes,
  orphanCandidates,
  waitingForStore,
  type NodeLease,
} from '../store/jobs.js';
import { hookDocument, postWebhook, runHookCommand, type HookOptions } from './hooks.js';
import { objectLockFor, purgeOnce, type RetentionPolicy } from './retention.js';
import { S3ArtifactStore, StorageError } from '../storage/index.js';

export { ensureKeyPair, loadPrivateKey, KeyPassphraseError, type KeyPairInfo, type KeyType } from './keys.js';
export {
  artifactDir,
  finalizeRecording,
  spoolDirOf,
  type AudioOutput,
  type FinalizeStep,
  type PauseMode,
} from './finalize.js';
export {
  purgeOnce,
  policyMs,
  effectivePolicy,
  objectLockFor,
  removeArtifact,
  type RetentionPolicy,
  type RefusedDeletion,
} from './retention.js';
export { artifactMetadata, ARTIFACT_META } from './store-step.js';
export { wipeDir, DEFAULT_MP3_QUALITY } from './artifacts.js';
export {
  PipelineCapacity,
  BYE_TO_STORED_BUCKETS,
  type Backlog,
  type CapacityOptions,
  type CapacitySnapshot,
} from './capacity.js';
export { backlogFromDatabase, capacityMetrics } from './capacity-store.js';
export { FINALIZE_QUEUE, dataDirId, finalizeQueueOf } from './routing.js';
import type { ArtifactStore } from '../storage/index.js';
export type { HookOptions, HookDocument } from './hooks.js';

/**
 * Durable post-call processing on pg-boss (its own schema, `pgboss`, in the catalogue database).
 * One `finalize-recording` job per recording: the job id is the recording id, so enqueueing twice
 * queues it once. A job interrupted by a crash is retried (by a node working its queue) and,
 * because each step of finalizeRecording is idempotent, completes exactly once. The server
 * queues per data directory (`finalizeQueue`, src/pipeline/routing.ts): a job runs where its
 * spool is.
 */

export const HOOK_QUEUE = 'recording-hook';

export interface PipelineOptions {
  db: Pick<Database, 'pool' | 'recordings' | 'keys' | 'chain' | 'retention' | 'connectionString'>;
  mixer: Pick<MediaEngine, 'mix'>;
  dataDir: string;
  /** Where the encrypted artifacts go (docs/storage.md); default: the data directory. */
  artifacts?: ArtifactStore;
  /**
   * The finalize queue this pipeline fills and works (default `finalize-recording`). The server
   * passes its data directory's queue (finalizeQueueOf), so that only nodes holding the spool run
   * the job; then waiting jobs of the old shared queue whose spool is here are moved to it.
   */
  finalizeQueue?: string;
  log: Logger;
  /**
   * MP3 encodes run at once by this process at most; 0 = enqueue only (another node does the
   * work). Twice this plus one jobs are in progress, so that jobs' mixing, encryption, fsyncs,
   * commit and wipe overlap the others' encodes instead of leaving a core idle. With `capacity`,
   * the number at once follows the live load (capacity.concurrency(), at most this).
   */
  concurrency: number;
  /** Measured cost and live load: sets the jobs at once, and is told when each job ends. */
  capacity?: PipelineCapacity;
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
  /** User hooks after a recording is stored (none when both are unset). */
  hooks?: HookOptions;
  /** Retention purge (none when absent or everything is `keep`). */
  retention?: RetentionPolicy & { intervalSeconds: number };
  /** How often this node looks for jobs orphaned by a dead node (default 10 s). */
  orphanCheckSeconds?: number;
  /** Audio files per recording (config media.outputs) and the pause mode (media.pauseMode). */
  outputs?: FinalizeContext['outputs'];
  pauseMode?: FinalizeContext['pauseMode'];
}

export interface Pipeline {
  /** Queues the finalize job once; for a recording whose job failed, queues one more attempt. */
  enqueueFinalize(recordingId: string): Promise<void>;
  /** Stops taking jobs and waits (up to 30 s) for the running ones. Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves when no finalize job is queued, waiting for retry, or active (for tests and drains). */
  idle(): Promise<void>;
  /**
   * Post-call jobs by state for /metrics, from pg-boss's public API: created, retry and active
   * over all queues (getQueues, getQueueSize); failed as the recordings whose finalize failed for
   * good (pg-boss offers no count of failed jobs).
   */
  jobCounts(): Promise<Record<string, number>>;
  /** Deletions of artifacts the store refused (Object Lock) since the start, for /metrics. */
  deletesRefused(): number;
  /** Recordings whose attempts all found the artifact store unavailable, waiting for it. */
  waitingForStore(): Promise<number>;
}

interface FinalizeJob {
  recordingId: string;
}

/** Names of pg-boss's parameterised statements (a few fixed texts), by text. */
const statementNames = new Map<string, string>();

/**
 * pg-boss's statement as a named (prepared) one: planned once per connection instead of at every
 * job (its job table is partitioned, so planning cost more than running the fetch, the complete
 * and the insert of each job). Only statements with parameters (one command each); 100 texts at most.
 */
function pgBossStatement(text: string, values?: unknown[]): pg.QueryConfig {
  if (!values || values.length === 0) return { text, values };
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < 100) {
    name = `pgboss-${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

export async function startPipeline(o: PipelineOptions): Promise<Pipeline> {
  const log = o.log.child({ part: 'pipeline' });
  const pool = o.db.pool;
  /** pg-boss's statements in flight: a worker's fetch can return a job after stop() began. */
  const pgBossQueries = new Set<Promise<unknown>>();
  const boss = new PgBoss({
    // Share the catalogue's pool: no second set of connections, and the same database either way.
    db: {
      executeSql: (text, values) => {
        const q = pool.query(pgBossStatement(text, values));
        pgBossQueries.add(q);
        const forget = (): void => void pgBossQueries.delete(q);
        q.then(forget, forget);
        return q;
      },
    },
    schema: 'pgboss',
    schedule: false,
    supervise: true,
    migrate: true,
  });
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();

  const finalizeQueue = o.finalizeQueue ?? FINALIZE_QUEUE;
  const queue = {
    name: finalizeQueue,
    policy: 'standard' as const,
    retryLimit: o.retryLimit ?? 5,
    retryDelay: o.retryDelaySeconds ?? 10,
    retryBackoff: true,
    expireInSeconds: o.expireInSeconds ?? 900,
  };
  if (!(await boss.getQueue(finalizeQueue))) {
    await boss.createQueue(finalizeQueue, queue).catch(async (err: unknown) => {
      if (!(await boss.getQueue(finalizeQueue))) throw err; // not a lost race with another node
    });
  }

  /** Stored recordings' audio length and BYE-to-stored seconds, taken by the job that stored them. */
  const storedNow = new Map<string, { audioSeconds: number; byeToStoredSeconds: number }>();
  const ctx: FinalizeContext = {
    recordings: o.db.recordings,
    mixer: o.mixer,
    dataDir: o.dataDir,
    log,
    mp3: o.mp3,
    key: o.key,
    activeKey: async () => {
      const k = await o.db.keys.active();
      return k?.publicKey ? { fingerprint: k.fingerprint, publicKeyArmored: k.publicKey } : undefined;
    },
    chain: o.db.chain,
    afterStep: o.afterStep,
    onStored: (recordingId, r) =>
      storedNow.set(recordingId, {
        audioSeconds: r.durationMs / 1000,
        byeToStoredSeconds: r.endedAt ? (Date.now() - r.endedAt.getTime()) / 1000 : 0,
      }),
    outputs: o.outputs,
    pauseMode: o.pauseMode,
    artifacts: o.artifacts,
  };
  // WORM: each object locked from its upload until its retention policy would purge it (or the
  // configured days, if later).
  const lockConfig = o.artifacts instanceof S3ArtifactStore ? o.artifacts.objectLock : undefined;
  if (lockConfig) {
    const policy: RetentionPolicy = o.retention ?? { default: 'keep', groups: {} };
    ctx.objectRetention = async (rec) => {
      const groups = Object.keys(policy.groups).length > 0 ? await o.db.retention.groupsOf(rec.id) : [];
      return objectLockFor(lockConfig, policy, rec.startedAt, groups);
    };
  }
  /** The artifact store is not local: a job it cannot reach waits for it instead of failing. */
  const remoteStore = o.artifacts && o.artifacts.backend !== 'local' ? o.artifacts : undefined;

  // This node's liveness lock: jobs it runs are recorded under its key, and a node whose lock is
  // gone (kill -9) has its active jobs handed back to the queue by whichever node notices first.
  const lease: NodeLease | undefined =
    o.concurrency > 0
      ? await acquireNodeLease(o.db.connectionString, (err) =>
          log.error({ err: err.message }, 'pipeline: liveness connection lost'),
        )
      : undefined;
  const hooksOn = Boolean(o.hooks?.url || o.hooks?.command);
  if (hooksOn && !(await boss.getQueue(HOOK_QUEUE))) {
    await boss
      .createQueue(HOOK_QUEUE, {
        name: HOOK_QUEUE,
        policy: 'standard',
        retryLimit: 8,
        retryDelay: 5,
        retryBackoff: true,
      })
      .catch(async (err: unknown) => {
        if (!(await boss.getQueue(HOOK_QUEUE))) throw err;
      });
  }
  const queueHook = async (recordingId: string) => {
    if (!hooksOn) return;
    // Same id as the recording: a finalize retried after its hook was queued queues nothing more.
    await boss.send(
      HOOK_QUEUE,
      { recordingId },
      {
        id: recordingId,
        retryLimit: 8,
        retryDelay: Math.max(1, Math.min(o.retryDelaySeconds ?? 5, 5)),
        retryBackoff: true,
      },
    );
  };

  // Encode slots (at most `concurrency` MP3 encodes) and job slots (twice that plus one), handed
  // out in arrival order; with a capacity, their number follows the live load. A job spends about
  // twice as long outside its encode (mix, encryption, fsyncs, commit, wipe; mostly waiting on the
  // disk) as in it: with one job ahead, the encode slots sat idle about half the time. No job ever
  // sleeps to make way for calls: the reserved CPU share keeps the pipeline going at any call rate.
  // Beyond the reserved slots, the capacity lends slots whose encodes run in the background
  // (SCHED_IDLE): they use the CPU the calls leave idle and yield it the moment a call needs it.
  const encodes = (): number => o.capacity?.concurrency() ?? o.concurrency;
  const borrowed = (): number => o.capacity?.borrowable() ?? 0;
  const encodeGate = tieredGate(encodes, borrowed);
  const jobGate = dynamicGate(() => encodes() * 2 + 1 + borrowed());
  ctx.encodeSlot = async (encode) => {
    const slot = await encodeGate.acquire();
    try {
      return await encode({ background: slot.background });
    } finally {
      slot.release();
    }
  };

  const workerIds: string[] = [];
  /** Finalize handlers running now: stop() lets them finish before the database closes. */
  const running = new Set<Promise<unknown>>();
  const track =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      const p = fn(...args);
      running.add(p);
      const forget = (): void => void running.delete(p);
      p.then(forget, forget);
      return p;
    };
  // As many workers as jobs the gates admit at most (reserved + borrowed encodes = concurrency).
  for (let i = 0; i < (o.concurrency > 0 ? o.concurrency * 2 + 1 : 0); i++) {
    // pg-boss sleeps out the rest of its polling interval after a job that took less than that;
    // with work queued that idles the worker, so a worker that just ran a job wakes itself.
    const self: { id?: string } = {};
    self.id = await boss.work<FinalizeJob>(
      finalizeQueue,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: o.pollingIntervalSeconds ?? 2 },
      track(async ([job]: PgBoss.JobWithMetadata<FinalizeJob>[]) => {
        if (!job) return;
        if (self.id) boss.notifyWorker(self.id);
        const id = job.data.recordingId;
        // This node runs it, the recording as it was and the active key: one statement.
        const begun = lease ? await beginRun(pool, id, lease.nodeKey) : undefined;
        const jobCtx: FinalizeContext = begun
          ? {
              ...ctx,
              recordings: { ...ctx.recordings, beginProcessing: () => Promise.resolve(begun.recording) },
              activeKey: () => Promise.resolve(begun.activeKey),
            }
          : ctx;
        const release = await jobGate.acquire();
        o.capacity?.jobStarted();
        let stored: { audioSeconds: number; byeToStoredSeconds: number } | undefined;
        try {
          const outcome = await finalizeRecording(jobCtx, id);
          stored = outcome === 'stored' ? storedNow.get(id) : undefined;
          storedNow.delete(id);
          await queueHook(id);
          if (lease) await clearRun(pool, id, lease.nodeKey);
          return { outcome };
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          const last = job.retryCount >= job.retryLimit;
          // The store out of reach: nothing is lost (the spool stays), the recording waits for it.
          const waits = err instanceof StorageError && err.retryable;
          log.warn(
            { recordingId: id, attempt: job.retryCount + 1, last, err: message, ...(waits ? { waits } : {}) },
            waits ? 'finalize: the artifact store is unavailable, the recording waits' : 'finalize failed',
          );
          if (last && !waits) {
            await o.db.recordings
              .markFailed(id, message)
              .catch((e: unknown) =>
                log.error({ recordingId: id, err: e }, 'could not mark the recording failed'),
              );
          }
          throw err;
        } finally {
          storedNow.delete(id);
          release();
          o.capacity?.jobFinished(stored);
        }
      }),
    );
    workerIds.push(self.id);
  }

  if (hooksOn && o.concurrency > 0) {
    const timeout = o.hooks?.timeoutSeconds ?? 30;
    await boss.work<FinalizeJob>(
      HOOK_QUEUE,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: o.pollingIntervalSeconds ?? 2 },
      async ([job]) => {
        if (!job) return;
        const rec = await o.db.recordings.get(job.data.recordingId);
        if (!rec || rec.state !== 'stored') return { skipped: rec?.state ?? 'missing' };
        const doc = hookDocument(rec);
        try {
          if (o.hooks?.url) await postWebhook(o.hooks.url, doc, timeout);
          if (o.hooks?.command) await runHookCommand(o.hooks.command, doc, timeout, o.hooks.env);
        } catch (err) {
          log.warn(
            {
              recordingId: rec.id,
              attempt: job.retryCount + 1,
              last: job.retryCount >= job.retryLimit,
              err: (err as Error).message,
            },
            'recording hook failed',
          );
          throw err;
        }
        log.info({ recordingId: rec.id }, 'recording hook delivered');
        return { delivered: true };
      },
    );
  }

  const timers: NodeJS.Timeout[] = [];
  const reap = async () => {
    const unclaimedSeconds = 60;
    for (const { id, claimed } of await orphanCandidates(pool, unclaimedSeconds)) {
      // Another data directory's job (not in this queue) is left to the nodes working its queue.
      const job = await boss.getJobById(finalizeQueue, id);
      if (job?.state !== 'active') continue;
      if (!claimed && Date.now() - new Date(job.startedOn).getTime() < unclaimedSeconds * 1000) continue;
      log.warn({ recordingId: id }, 'finalize job orphaned by a dead node: queued again');
      await boss.fail(finalizeQueue, id, { message: 'the node running this job died' });
    }
  };
  if (lease) {
    await reap().catch((err: unknown) => log.warn({ err }, 'orphaned job check failed'));
    timers.push(
      setInterval(
        () => {
          reap().catch((err: unknown) => log.warn({ err }, 'orphaned job check failed'));
        },
        (o.orphanCheckSeconds ?? 10) * 1000,
      ),
    );
  }
  // Recordings whose last attempt found the store unavailable (not marked failed): queued again
  // once the store answers, checked every six retry delays (5 s to 5 min).
  // Only those whose spool is here: another data directory's are its own nodes' to queue again.
  const waitingHere = async (): Promise<string[]> =>
    spoolsHere(o.dataDir, await waitingForStore(pool, finalizeQueue));
  if (remoteStore && lease) {
    let checking = false;
    const retryWaiting = async () => {
      const ids = await waitingHere();
      if (ids.length === 0) return;
      await remoteStore.exists('srs-availability-probe'); // throws while the store is unavailable
      // One more attempt each (a job archived meanwhile is queued anew).
      for (const id of ids) await enqueueOne(id);
      log.info({ count: ids.length }, 'artifact store available: recordings waiting for it queued again');
    };
    timers.push(
      setInterval(
        () => {
          if (checking) return;
          checking = true;
          retryWaiting()
            .catch((err: unknown) =>
              log.warn({ err: (err as Error).message }, 'recordings still waiting for the artifact store'),
            )
            .finally(() => (checking = false));
        },
        Math.min(300, Math.max(5, queue.retryDelay * 6)) * 1000,
      ),
    );
  }
  let deletesRefused = 0;
  if (o.retention && lease) {
    const r = o.retention;
    let purging = false;
    const state = { lockedUntil: new Map<string, number>() };
    const purge = () => {
      if (purging) return;
      purging = true;
      purgeOnce({
        retention: o.db.retention,
        policy: r,
        dataDir: o.dataDir,
        log,
        store: o.artifacts,
        state,
        onRefused: () => deletesRefused++,
      })
        .catch((err: unknown) => log.error({ err }, 'retention purge failed'))
        .finally(() => (purging = false));
    };
    timers.push(setInterval(purge, r.intervalSeconds * 1000));
  }
  for (const t of timers) t.unref();

  const enqueueOne = async (recordingId: string): Promise<void> => {
    // The id makes a second enqueue a no-op; retry settings travel with the job (the queue's are
    // fixed when it is first created).
    const { retryLimit, retryDelay, retryBackoff, expireInSeconds } = queue;
    const id = await boss.send(
      finalizeQueue,
      { recordingId },
      { id: recordingId, retryLimit, retryDelay, retryBackoff, expireInSeconds },
    );
    if (id) {
      log.debug({ recordingId }, 'finalize queued');
    } else {
      // Already known: if its last attempt failed (e.g. an operator retries after fixing the
      // cause), give it one more attempt; queued, active or completed jobs are left alone.
      const job = await boss.getJobById(finalizeQueue, recordingId);
      if (job?.state === 'failed') {
        await boss.retry(finalizeQueue, recordingId);
        log.info({ recordingId }, 'failed finalize queued again');
      }
    }
    for (const w of workerIds) boss.notifyWorker(w);
  };
  // Calls ending together (bench:cps: hundreds a second) are queued in one insert, with the same
  // once-only and failed-gets-another-attempt rules as one by one.
  const enqueueBatched = groupCommit<string>(
    async (ids) => {
      const { retryLimit, retryDelay, retryBackoff, expireInSeconds } = queue;
      await boss.insert(
        ids.map((id) => ({
          id,
          name: finalizeQueue,
          data: { recordingId: id },
          retryLimit,
          retryDelay,
          retryBackoff,
          expireInSeconds,
        })),
      );
      // pg-boss's retry moves only failed jobs back (queued, active or completed ones are left alone).
      // Its typings say void; it resolves to { jobs, requested, affected } (pg-boss 10 manager.js).
      const res = (await boss.retry(finalizeQueue, ids)) as unknown as { affected?: number } | undefined;
      const affected = res?.affected ?? 0;
      if (affected > 0) log.info({ count: affected }, 'failed finalizes queued again');
      for (const w of workerIds) boss.notifyWorker(w);
      return ids.map(() => undefined);
    },
    enqueueOne,
    { lingerMs: 50 },
  );

  // Waiting jobs of the shared queue of an older version whose spool is here: to this queue.
  if (finalizeQueue !== FINALIZE_QUEUE && o.concurrency > 0) {
    const moved = await adoptQueuedJobs({
      pool,
      from: FINALIZE_QUEUE,
      dataDir: o.dataDir,
      send: enqueueOne,
      remove: (name, id) => boss.deleteJob(name, id),
    }).catch((err: unknown) => {
      log.warn({ err }, 'could not move the shared queue’s waiting jobs; they stay there');
      return [];
    });
    if (moved.length > 0)
      log.info(
        { count: moved.length, from: FINALIZE_QUEUE, to: finalizeQueue },
        'finalize jobs moved to this data directory’s queue',
      );
  }

  const jobCounts = async (): Promise<Record<string, number>> => {
    const counts = { created: 0, retry: 0, active: 0, failed: 0 };
    for (const { name } of await boss.getQueues()) {
      // This node's finalize queue and the shared ones (hooks), not the other data directories'.
      if (name.startsWith(`${FINALIZE_QUEUE}.`) && name !== finalizeQueue) continue;
      const beforeRetry = await boss.getQueueSize(name, { before: 'retry' });
      const beforeActive = await boss.getQueueSize(name, { before: 'active' });
      const beforeCompleted = await boss.getQueueSize(name, { before: 'completed' });
      counts.created += beforeRetry;
      counts.retry += beforeActive - beforeRetry;
      counts.active += beforeCompleted - beforeActive;
    }
    counts.failed = await failedFinalizes(pool);
    return counts;
  };

  let stopped: Promise<void> | undefined;
  return {
    jobCounts,
    deletesRefused: () => deletesRefused,
    waitingForStore: async () => (remoteStore ? (await waitingHere()).length : 0),
    enqueueFinalize: (recordingId) => enqueueBatched(recordingId),
    stop() {
      for (const t of timers) clearInterval(t);
      stopped ??= boss
        .stop({ graceful: true, wait: true, close: false, timeout: 30_000 })
        .then(async () => {
          // pg-boss's stop does not wait for a fetch in flight, whose job then starts, nor for
          // the complete/fail it sends (unawaited) after a handler: both would hit the closed
          // pool and fail unhandled. Wait until none of ours and none of its are left.
          const deadline = Date.now() + 30_000;
          while ((running.size > 0 || pgBossQueries.size > 0) && Date.now() < deadline) {
            await sleep(50);
          }
        })
        .finally(() => lease?.close());
      return stopped;
    },
    async idle() {
      for (;;) {
        // While this node's own jobs run, wait for them (no query); then ask the queue.
        if (running.size > 0) {
          await Promise.race([...running].map((p) => p.catch(() => undefined)));
          continue;
        }
        // Jobs before state 'completed': created, retry and active.
        if ((await boss.getQueueSize(finalizeQueue, { before: 'completed' })) === 0) return;
        await sleep(25);
      }
    },
  };
}
