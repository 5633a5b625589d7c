import type PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import type { ArtifactStore } from '../storage/index.js';
import type { Database } from '../store/db.js';
import { orphanCandidates, waitingForStore, type NodeLease } from '../store/jobs.js';
import { purgeOnce } from './retention.js';
import { spoolsHere } from './routing.js';
import type { PipelineOptions, RetentionFaults } from './types.js';

/**
 * The pipeline's periodic work on a node that runs jobs: jobs orphaned by a dead node back to the
 * queue, recordings waiting for an unavailable artifact store queued again once it answers, and
 * the retention purge.
 */
export async function startMaintenance(m: {
  boss: PgBoss;
  queue: string;
  retryDelaySeconds: number;
  o: PipelineOptions;
  lease: NodeLease;
  log: Logger;
  /** The artifact store when it is not local. */
  remoteStore: ArtifactStore | undefined;
  /** Queues one more attempt of a recording's finalize. */
  enqueue: (recordingId: string) => Promise<void>;
}): Promise<{
  timers: NodeJS.Timeout[];
  deletesRefused: () => number;
  retentionFaults: () => RetentionFaults;
}> {
  const { boss, o, log, queue } = m;
  const pool = o.db.pool;
  const timers: NodeJS.Timeout[] = [];
  const every = (seconds: number, fn: () => void) => timers.push(setInterval(fn, seconds * 1000));

  /** Claimed runs whose node held no lock at the last check. */
  let suspects = new Set<string>();
  const reap = async () => {
    // While this node's own lock is lost, its own runs look orphaned: judge none until it is back.
    if (!m.lease.held()) return;
    const seen = new Set<string>();
    // Running jobs of this queue only (another data directory's are left to the nodes working its
    // queue), unclaimed ones started a minute ago.
    for (const { id, claimed } of await orphanCandidates(pool, queue, 60)) {
      // A live node whose connection dropped takes its lock again within seconds (store/jobs.ts
      // acquireNodeLease): a run is orphaned only if its node's lock is still missing one check later.
      if (claimed) {
        seen.add(id);
        if (!suspects.has(id)) continue;
      }
      log.warn({ recordingId: id }, 'finalize job orphaned by a dead node: queued again');
      await boss.fail(queue, id, { message: 'the node running this job died' });
    }
    suspects = seen;
  };
  /** The check in progress: a slow database does not pile checks up. */
  let reaping = false;
  const reapLogged = async () => {
    if (reaping) return;
    reaping = true;
    await reap()
      .catch((err: unknown) => log.warn({ err }, 'orphaned job check failed'))
      .finally(() => (reaping = false));
  };
  await reapLogged();
  every(o.orphanCheckSeconds ?? 10, () => void reapLogged());

  // Recordings whose last attempt found the store unavailable (not marked failed): queued again
  // once the store answers, checked every six retry delays (5 s to 5 min).
  const store = m.remoteStore;
  if (store) {
    let checking = false;
    const retryWaiting = async () => {
      const ids = await waitingHere(pool, o.dataDir, queue);
      if (ids.length === 0) return;
      await store.exists('srs-availability-probe'); // throws while the store is unavailable
      // One more attempt each (a job archived meanwhile is queued anew).
      for (const id of ids) await m.enqueue(id);
      log.info({ count: ids.length }, 'artifact store available: recordings waiting for it queued again');
    };
    every(Math.min(300, Math.max(5, m.retryDelaySeconds * 6)), () => {
      if (checking) return;
      checking = true;
      retryWaiting()
        .catch((err: unknown) =>
          log.warn({ err: (err as Error).message }, 'recordings still waiting for the artifact store'),
        )
        .finally(() => (checking = false));
    });
  }

  let deletesRefused = 0;
  const faults: RetentionFaults = {
    removalsFailed: 0,
    clockSkewSkips: 0,
    clockSkewMs: 0,
    pendingDeletions: 0,
  };
  if (o.retention) {
    const r = o.retention;
    let purging = false;
    const state = { lockedUntil: new Map<string, number>() };
    every(r.intervalSeconds, () => {
      if (purging) return;
      purging = true;
      purgeOnce({
        retention: o.db.retention,
        // The policy in force now: an admin may change it while the server runs.
        policy: o.retentionNow?.() ?? r,
        dataDir: o.dataDir,
        log,
        store: o.artifacts,
        pending: (o.db as Partial<Pick<Database, 'pendingDeletions'>>).pendingDeletions,
        onPending: (n) => (faults.pendingDeletions = n),
        state,
        onRefused: () => deletesRefused++,
        onRemovalFailed: () => faults.removalsFailed++,
        onClockSkew: (skewMs) => {
          faults.clockSkewSkips++;
          faults.clockSkewMs = skewMs;
        },
      })
        .then((r) => {
          if (!r.skipped) faults.clockSkewMs = 0;
        })
        .catch((err: unknown) => log.error({ err }, 'retention purge failed'))
        .finally(() => (purging = false));
    });
  }
  for (const t of timers) t.unref();
  return { timers, deletesRefused: () => deletesRefused, retentionFaults: () => ({ ...faults }) };
}

/**
 * Recordings of `queue` whose attempts all found the artifact store unavailable, and whose spool
 * is in this data directory (another data directory's are its own nodes' to queue again).
 */
export async function waitingHere(
  pool: PipelineOptions['db']['pool'],
  dataDir: string,
  queue: string,
): Promise<string[]> {
  return spoolsHere(dataDir, await waitingForStore(pool, queue));
}
