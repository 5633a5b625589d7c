import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DB_CONNECT_TIMEOUT_MS } from './db.js';
import { JOB_SCHEMA } from './job-queue.js';

/**
 * Crash-safe job ownership for the pipeline. Every server process holds a session advisory lock
 * (NODE_LOCK, nodeKey) on a dedicated connection for as long as it lives; a kill -9 closes that
 * connection and Postgres releases the lock. A finalize job that pg-boss still shows as active but
 * whose node holds no lock was orphaned by a crash, and any node may hand it back to the queue.
 * A live node whose connection drops takes the same lock again (acquireNodeLease).
 */

export const NODE_LOCK = 78_660_005;

export interface NodeLease {
  readonly nodeKey: number;
  /** Whether the lock is held now: not from the loss of its connection until it is taken again. */
  held(): boolean;
  /** Resolves once the lock is held (at once while it is); rejects once the lease is closed. */
  whenHeld(): Promise<void>;
  close(): Promise<void>;
}

export interface NodeLeaseEvents {
  /** The lock's connection was lost (a Postgres restart or failover, a dropped connection). */
  lost(err: Error | undefined): void;
  /** The lock is held again, under the same key. */
  regained(): void;
  /** An attempt to take it again failed; the next one follows after `delayMs`. */
  retryFailed?(err: Error, delayMs: number): void;
}

/** Backoff of the attempts to take the lock again: at most this long, well within a reap check. */
const RETAKE_MIN_MS = 250;
const RETAKE_MAX_MS = 5_000;

async function leaseClient(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: DB_CONNECT_TIMEOUT_MS,
    // A connection a firewall or pooler drops silently is noticed in about a minute.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // Errors end the connection: 'end' (below) takes the lock again.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/**
 * Takes this process's liveness lock on its own connection, and keeps it: when that connection
 * is lost (the lock with it), it connects again (with a backoff) and takes the same key again,
 * so the runs recorded under the key are not taken for a dead node's. Until then `held()` is
 * false: the pipeline begins no run and judges no other node's runs.
 */
export async function acquireNodeLease(
  connectionString: string,
  events: NodeLeaseEvents,
): Promise<NodeLease> {
  let client = await leaseClient(connectionString);
  let nodeKey = 0;
  for (;;) {
    const key = 1 + Math.floor(Math.random() * 0x7ffffffe);
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
      NODE_LOCK,
      key,
    ]);
    if (r.rows[0]?.ok) {
      nodeKey = key;
      break;
    }
  }
  let held = true;
  let closed = false;
  /** A connection taking the lock again (ended by close, even while it waits for the lock). */
  let retaking: pg.Client | undefined;
  let waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const watch = (c: pg.Client) => {
    let lastError: Error | undefined;
    c.on('error', (err: Error) => (lastError = err));
    c.once('end', () => {
      if (closed || c !== client) return;
      held = false;
      events.lost(lastError);
      void retake();
    });
  };
  const retake = async () => {
    for (let delay = RETAKE_MIN_MS; !closed; delay = Math.min(delay * 2, RETAKE_MAX_MS)) {
      await sleep(delay, undefined, { ref: false });
      if (closed) return;
      let c: pg.Client | undefined;
      try {
        c = retaking = await leaseClient(connectionString);
        // The same key, waiting while an old session of this process still holds it (a dropped
        // connection the server has not noticed yet).
        await c.query('SELECT pg_advisory_lock($1, $2)', [NODE_LOCK, nodeKey]);
      } catch (err) {
        retaking = undefined;
        await c?.end().catch(() => undefined);
        events.retryFailed?.(err as Error, Math.min(delay * 2, RETAKE_MAX_MS));
        continue;
      }
      retaking = undefined;
      if (closed) {
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      watch(c);
      held = true;
      for (const w of waiters) w.resolve();
      waiters = [];
      events.regained();
      return;
    }
  };
  watch(client);
  return {
    nodeKey,
    held: () => held,
    whenHeld: () =>
      held
        ? Promise.resolve()
        : closed
          ? Promise.reject(new Error('the node lease is closed'))
          : new Promise((resolve, reject) => waiters.push({ resolve, reject })),
    async close() {
      closed = true;
      held = false;
      for (const w of waiters) w.reject(new Error('the node lease is closed'));
      waiters = [];
      await retaking?.end().catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

export async function clearRun(pool: pg.Pool, recordingId: string, nodeKey: number): Promise<void> {
  await pool.query({
    name: 'srs-run-clear',
    text: 'DELETE FROM pipeline_runs WHERE recording_id = $1 AND node_key = $2',
    values: [recordingId, nodeKey],
  });
}

/**
 * Finalize jobs of `queue` that a dead node may have orphaned, each running (`active` in pg-boss)
 * and: claimed by a node that no longer holds its lock, or started `unclaimedSeconds` ago and
 * claimed by no node (a crash between pg-boss's fetch and beginRun in store/recording-rows.ts).
 * Only running jobs: a job still queued (a backlog) is waiting, not orphaned. Before, every
 * recording that had ended a minute ago and was not claimed was a candidate, so a backlog of
 * thousands was read back one job at a time every 10 s, on the load that had made the backlog.
 */
export async function orphanCandidates(
  pool: pg.Pool,
  queue: string,
  unclaimedSeconds = 60,
): Promise<{ id: string; claimed: boolean }[]> {
  const r = await pool.query<{ id: string; claimed: boolean }>(
    `SELECT r.recording_id::text AS id, true AS claimed FROM pipeline_runs r
       JOIN ${JOB_SCHEMA}.job j ON j.id = r.recording_id AND j.name = $3 AND j.state = 'active'
     WHERE NOT EXISTS (
       SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
         AND l.classid = $1::bigint::oid AND l.objid = r.node_key::bigint::oid AND l.objsubid = 2)
     UNION ALL
     SELECT j.id::text, false FROM ${JOB_SCHEMA}.job j JOIN recordings c ON c.id = j.id
     WHERE j.name = $3 AND j.state = 'active' AND j.started_on < now() - make_interval(secs => $2)
       AND c.state IN ('recording', 'processing') AND c.ended_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pipeline_runs r WHERE r.recording_id = c.id)`,
    [NODE_LOCK, unclaimedSeconds, queue],
  );
  return r.rows;
}

/** Recordings whose finalize failed for good (the pipeline marks them 'failed' on the last attempt). */
export async function failedFinalizes(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM recordings WHERE state = 'failed'`,
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * Recordings left 'processing' (not marked failed) with no finalize job queued, waiting or
 * running: their last attempt found the artifact store unavailable (the job failed for good, or
 * was archived since). pg-boss's job id is the recording id.
 */
export async function waitingForStore(pool: pg.Pool, queue: string, limit = 1000): Promise<string[]> {
  const r = await pool.query<{ id: string }>(
    `SELECT r.id::text AS id FROM recordings r
     WHERE r.state = 'processing' AND r.updated_at < now() - interval '5 seconds'
       AND NOT EXISTS (SELECT 1 FROM ${JOB_SCHEMA}.job j WHERE j.id = r.id AND j.name = $1
                         AND j.state IN ('created', 'retry', 'active', 'completed'))
     ORDER BY r.started_at LIMIT $2`,
    [queue, limit],
  );
  return r.rows.map((x) => x.id);
}

/*
 * The reads of pg-boss's job table below have no equivalent in pg-boss 10's API (getQueueSize
 * counts, getJobById reads one job, fetch claims jobs): docs/architecture.md names them.
 */

/** How many failed recordings (oldest first) the backlog reads: their spools may still be on disk. */
export const FAILED_SPOOLS_READ = 1000;

/**
 * The finalize jobs queued, waiting for a retry or running (pg-boss's job id is the recording id),
 * their audio, and the start of the oldest recording whose plaintext spool is still on disk.
 * Every 2 s: read through indexes of the unfinished jobs (srs_job_unfinished_idx, job-queue.ts)
 * and recordings (migration 045), never the completed ones (test/unit/catalogue-timer-queries.test.ts).
 */
export const BACKLOG_SQL = `SELECT (SELECT count(*)::int FROM ${JOB_SCHEMA}.job j
                WHERE j.name = $1 AND j.state IN ('created', 'retry', 'active')) AS jobs,
              (SELECT coalesce(sum(r.duration_ms), 0)::float8 FROM ${JOB_SCHEMA}.job j JOIN recordings r ON r.id = j.id
                WHERE j.name = $1 AND j.state IN ('created', 'retry', 'active')) AS ms,
              (SELECT min(started_at) FROM recordings WHERE state IN ('recording', 'processing')) AS oldest,
              (SELECT coalesce(json_agg(json_build_object('id', f.id, 'at', f.started_at) ORDER BY f.started_at), '[]')
                FROM (SELECT id, started_at FROM recordings WHERE state = 'failed'
                      ORDER BY started_at LIMIT ${FAILED_SPOOLS_READ}) f) AS failed`;

export interface FinalizeBacklog {
  jobs: number;
  audioSeconds: number;
  /** The oldest recording still recording or processing (its spool is on some node's disk). */
  oldestSpoolStartedAt: Date | null;
  /**
   * Failed recordings (finalize gave up), oldest first: their plaintext spool stays until retention
   * or a deletion wipes it, on the disk of the node that recorded them.
   */
  failed: { id: string; startedAt: Date }[];
}

/** The backlog of the finalize queue `queue` (BACKLOG_SQL). */
export async function finalizeBacklog(pool: Pick<pg.Pool, 'query'>, queue: string): Promise<FinalizeBacklog> {
  const r = await pool.query<{
    jobs: number;
    ms: number;
    oldest: Date | null;
    failed: { id: string; at: string }[];
  }>(BACKLOG_SQL, [queue]);
  const row = r.rows[0];
  return {
    jobs: row?.jobs ?? 0,
    audioSeconds: (row?.ms ?? 0) / 1000,
    oldestSpoolStartedAt: row?.oldest ?? null,
    failed: (row?.failed ?? []).map((f) => ({ id: f.id, startedAt: new Date(f.at) })),
  };
}

/** The ids of `queue`'s jobs waiting to run (queued or waiting for a retry), oldest first; not claimed. */
export async function waitingJobIds(pool: Pick<pg.Pool, 'query'>, queue: string): Promise<string[]> {
  const r = await pool.query<{ id: string }>(
    `SELECT id::text AS id FROM ${JOB_SCHEMA}.job WHERE name = $1 AND state IN ('created', 'retry') ORDER BY created_on`,
    [queue],
  );
  return r.rows.map((x) => x.id);
}
