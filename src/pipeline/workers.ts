import type PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import type { NodeLease } from '../store/jobs.js';
import { clearRun } from '../store/jobs.js';
import { beginRun } from '../store/recordings.js';
import { StorageError } from '../storage/index.js';
import type { PipelineCapacity } from './capacity.js';
import { finalizeRecording, type FinalizeContext } from './finalize.js';
import { hookDocument, postWebhook, runHookCommand } from './hooks.js';
import type { PipelineOptions } from './types.js';

/** The pg-boss workers of the finalize queue and of the hook queue. */

interface FinalizeJob {
  recordingId: string;
}

export interface FinalizeWorkers {
  /** pg-boss worker ids (enqueues wake them at once). */
  ids: string[];
  /** Finalize handlers running now: stop() lets them finish before the database closes. */
  running: Set<Promise<unknown>>;
}

export async function startFinalizeWorkers(w: {
  boss: PgBoss;
  queue: string;
  o: PipelineOptions;
  ctx: FinalizeContext;
  lease: NodeLease | undefined;
  log: Logger;
  /** Job slots: acquired once the recording is begun, released when its job ends. */
  jobGate: { acquire(): Promise<() => void> };
  /** Stored recordings' audio length and BYE-to-stored seconds, set by ctx.onStored. */
  storedNow: Map<string, { audioSeconds: number; byeToStoredSeconds: number }>;
  queueHook: (recordingId: string) => Promise<void>;
}): Promise<FinalizeWorkers> {
  const { boss, o, ctx, lease, log, storedNow } = w;
  const capacity: PipelineCapacity | undefined = o.capacity;
  const pool = o.db.pool;
  const ids: string[] = [];
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
      w.queue,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: o.pollingIntervalSeconds ?? 2 },
      track(async ([job]: PgBoss.JobWithMetadata<FinalizeJob>[]) => {
        if (!job) return;
        if (self.id) boss.notifyWorker(self.id);
        const id = job.data.recordingId;
        // Never a run under a key whose lock is lost: the reaper would take it for a dead node's.
        await lease?.whenHeld();
        // This node runs it, the recording as it was and the active key: one statement.
        const begun = lease ? await beginRun(pool, id, lease.nodeKey) : undefined;
        const jobCtx: FinalizeContext = begun
          ? {
              ...ctx,
              recordings: { ...ctx.recordings, beginProcessing: () => Promise.resolve(begun.recording) },
              activeKey: () => Promise.resolve(begun.activeKey),
            }
          : ctx;
        const release = await w.jobGate.acquire();
        capacity?.jobStarted();
        let stored: { audioSeconds: number; byeToStoredSeconds: number } | undefined;
        try {
          const outcome = await finalizeRecording(jobCtx, id);
          stored = outcome === 'stored' ? storedNow.get(id) : undefined;
          storedNow.delete(id);
          if (outcome !== 'purged') await w.queueHook(id);
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
          capacity?.jobFinished(stored);
        }
      }),
    );
    ids.push(self.id);
  }
  return { ids, running };
}

/** The parts of a hook job (webhook, command) already done, by job id, while the job is retried. */
const hookPartsDone = new Map<string, Set<string>>();

/** Hook jobs run at once by default (SRS_HOOK_CONCURRENCY). */
const HOOK_CONCURRENCY = 4;

/**
 * Delivers each stored recording's hook (webhook and/or command) once, with retries. Up to
 * `hooks.concurrency` jobs run at once, each in a pg-boss worker of its own (batchSize 1: a batch
 * would complete or fail its jobs together, and wait for its slowest): a receiver that keeps one
 * recording's request until the timeout holds back no other recording's hook. The workers take no
 * finalize slot (jobGate): a hook mostly waits (on the receiver, on the command), and however many
 * hang, the finalize jobs run as before.
 */
export async function startHookWorker(h: {
  boss: PgBoss;
  queue: string;
  o: PipelineOptions;
  log: Logger;
}): Promise<void> {
  const { boss, o, log } = h;
  const timeout = o.hooks?.timeoutSeconds ?? 30;
  const deliver = async (job: PgBoss.JobWithMetadata<FinalizeJob>) => {
    const rec = await o.db.recordings.get(job.data.recordingId);
    if (!rec || rec.state !== 'stored') return { skipped: rec?.state ?? 'missing' };
    const doc = hookDocument(rec, await o.db.fields.valuesOf(rec.id));
    const last = job.retryCount >= job.retryLimit;
    // The webhook and the command at once, each on its own: one that hangs until its timeout no
    // longer holds the other back, and one that fails no longer keeps the other from running.
    // A part that succeeded is not run again on this job's retries in this process (after a
    // restart both run again: at-least-once, as before).
    const done = hookPartsDone.get(job.id) ?? new Set<string>();
    const parts: [string, () => Promise<void>][] = [];
    if (o.hooks?.url)
      parts.push(['webhook', () => postWebhook(o.hooks?.url as string, doc, timeout, o.hooks?.tlsPolicy)]);
    if (o.hooks?.command)
      parts.push(['command', () => runHookCommand(o.hooks?.command as string, doc, timeout, o.hooks?.env)]);
    const results = await Promise.allSettled(
      parts
        .filter(([part]) => !done.has(part))
        .map(async ([part, run]) => {
          await run();
          done.add(part);
        }),
    );
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (errors.length > 0 && !last) {
      if (hookPartsDone.size >= 10_000) hookPartsDone.clear();
      hookPartsDone.set(job.id, done);
    } else hookPartsDone.delete(job.id);
    if (errors.length > 0) {
      log.warn(
        { recordingId: rec.id, attempt: job.retryCount + 1, last, err: errors.join('; '), done: [...done] },
        'recording hook failed',
      );
      throw new Error(errors.join('; '));
    }
    log.info({ recordingId: rec.id }, 'recording hook delivered');
    return { delivered: true };
  };
  for (let i = 0; i < (o.hooks?.concurrency ?? HOOK_CONCURRENCY); i++) {
    // As for the finalize workers: a worker that just ran a job looks for the next one at once,
    // instead of sleeping out the rest of its polling interval (one hook per 2 s per worker).
    const self: { id?: string } = {};
    self.id = await boss.work<FinalizeJob>(
      h.queue,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: o.pollingIntervalSeconds ?? 2 },
      async ([job]) => {
        if (!job) return;
        if (self.id) boss.notifyWorker(self.id);
        return deliver(job);
      },
    );
  }
}
