import { setTimeout as sleep } from 'node:timers/promises';
import { rateLimited } from '../log.js';
import { S3ArtifactStore } from '../storage/index.js';
import { groupCommit } from '../store/recordings.js';
import { acquireNodeLease, failedFinalizes, type NodeLease } from '../store/jobs.js';
import { ensureQueue, startBoss } from './boss.js';
import { BACKGROUND_MAX_AUDIO_BYTES, dynamicGate, tieredGate } from './capacity.js';
import type { FinalizeContext } from './finalize.js';
import { objectLockFor, type RetentionPolicy } from './retention.js';
import { startMaintenance, waitingHere } from './maintenance.js';
import { adoptQueuedJobs, FINALIZE_QUEUE } from './routing.js';
import type { Pipeline, PipelineOptions } from './types.js';
import { startFinalizeWorkers, startHookWorker } from './workers.js';

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
  policyInMs,
  effectivePolicy,
  newlyDue,
  parseRetention,
  retentionProblem,
  objectLockFor,
  removeArtifact,
  type RetentionPolicy,
  type RefusedDeletion,
  type PurgeResult,
} from './retention.js';
export { artifactMetadata, ARTIFACT_META } from './store-step.js';
export { encodeMp3, wipeDir, DEFAULT_MP3_QUALITY, type Mp3Options } from './artifacts.js';
export {
  PipelineCapacity,
  BYE_TO_STORED_BUCKETS,
  type Backlog,
  type CapacityOptions,
  type CapacitySnapshot,
} from './capacity.js';
export { backlogFromDatabase, capacityMetrics } from './capacity-store.js';
export { FINALIZE_QUEUE, dataDirId, finalizeQueueOf } from './routing.js';
export type { HookOptions, HookDocument } from './hooks.js';
export type { Pipeline, PipelineOptions, RetentionFaults } from './types.js';

/**
 * Durable post-call processing on pg-boss (its own schema, `pgboss`, in the catalogue database).
 * One `finalize-recording` job per recording: the job id is the recording id, so enqueueing twice
 * queues it once. A job interrupted by a crash is retried (by a node working its queue) and,
 * because each step of finalizeRecording is idempotent, completes exactly once. The server
 * queues per data directory (`finalizeQueue`, src/pipeline/routing.ts): a job runs where its
 * spool is.
 */

export const HOOK_QUEUE = 'recording-hook';

export async function startPipeline(o: PipelineOptions): Promise<Pipeline> {
  const log = o.log.child({ part: 'pipeline' });
  const pool = o.db.pool;
  const { boss, inFlight: pgBossQueries } = await startBoss(pool, log);

  const finalizeQueue = o.finalizeQueue ?? FINALIZE_QUEUE;
  const queue = {
    name: finalizeQueue,
    policy: 'standard' as const,
    retryLimit: o.retryLimit ?? 5,
    retryDelay: o.retryDelaySeconds ?? 10,
    retryBackoff: true,
    expireInSeconds: o.expireInSeconds ?? 900,
  };
  await ensureQueue(boss, finalizeQueue, queue);

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
    inMemoryMaxBytes: o.inMemoryMaxBytes,
  };
  // WORM: each object locked from its upload until its retention policy would purge it (or the
  // configured days, if later).
  const lockConfig = o.artifacts instanceof S3ArtifactStore ? o.artifacts.objectLock : undefined;
  if (lockConfig) {
    const configured: RetentionPolicy = o.retention ?? { default: 'keep', groups: {} };
    ctx.objectRetention = async (rec) => {
      const policy = o.retentionNow?.() ?? configured;
      const groups = Object.keys(policy.groups).length > 0 ? await o.db.retention.groupsOf(rec.id) : [];
      return objectLockFor(lockConfig, policy, rec.startedAt, groups);
    };
  }
  /** The artifact store is not local: a job it cannot reach waits for it instead of failing. */
  const remoteStore = o.artifacts && o.artifacts.backend !== 'local' ? o.artifacts : undefined;

  // This node's liveness lock: jobs it runs are recorded under its key, and a node whose lock is
  // gone (kill -9) has its active jobs handed back to the queue by whichever node notices first.
  // A lost connection (a Postgres restart) is taken again under the same key; meanwhile no run
  // begins here (workers.ts) and this node reaps nothing (maintenance.ts).
  const notRetaken = rateLimited(log, 'warn', 'pipeline: liveness lock not taken again yet', {
    burst: 1,
    windowMs: 60_000,
  });
  const lease: NodeLease | undefined =
    o.concurrency > 0
      ? await acquireNodeLease(o.db.connectionString, {
          lost: (err) =>
            log.error(
              { err: err?.message },
              'pipeline: liveness connection lost; no new finalize runs until the lock is taken again',
            ),
          regained: () => log.info('pipeline: liveness lock taken again'),
          retryFailed: (err, delayMs) => notRetaken({ err: err.message, retryInMs: delayMs }),
        })
      : undefined;
  const hooksOn = Boolean(o.hooks?.url || o.hooks?.command);
  if (hooksOn) {
    await ensureQueue(boss, HOOK_QUEUE, {
      name: HOOK_QUEUE,
      policy: 'standard',
      retryLimit: 8,
      retryDelay: 5,
      retryBackoff: true,
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
  ctx.encodeSlot = async (encode, what) => {
    const slot = await encodeGate.acquire(what.audioBytes <= BACKGROUND_MAX_AUDIO_BYTES);
    try {
      return await encode({ background: slot.background });
    } finally {
      slot.release();
    }
  };

  const workers = await startFinalizeWorkers({
    boss,
    queue: finalizeQueue,
    o,
    ctx,
    lease,
    log,
    jobGate,
    storedNow,
    queueHook,
  });
  const { ids: workerIds, running } = workers;
  if (hooksOn && o.concurrency > 0) await startHookWorker({ boss, queue: HOOK_QUEUE, o, log });

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
  const maintenance = lease
    ? await startMaintenance({
        boss,
        queue: finalizeQueue,
        retryDelaySeconds: queue.retryDelay,
        o,
        lease,
        log,
        remoteStore,
        enqueue: enqueueOne,
      })
    : undefined;
  const timers = maintenance?.timers ?? [];

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
    deletesRefused: () => maintenance?.deletesRefused() ?? 0,
    retentionFaults: () =>
      maintenance?.retentionFaults() ?? {
        removalsFailed: 0,
        clockSkewSkips: 0,
        clockSkewMs: 0,
        pendingDeletions: 0,
      },
    waitingForStore: async () =>
      remoteStore ? (await waitingHere(pool, o.dataDir, finalizeQueue)).length : 0,
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
