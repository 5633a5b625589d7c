import pg from 'pg';

/**
 * Crash-safe job ownership for the pipeline. Every server process holds a session advisory lock
 * (NODE_LOCK, nodeKey) on a dedicated connection for as long as it lives; a kill -9 closes that
 * connection and Postgres releases the lock. A finalize job that pg-boss still shows as active but
 * whose node holds no lock was orphaned by a crash, and any node may hand it back to the queue.
 */

export const NODE_LOCK = 78_660_005;

export interface NodeLease {
  readonly nodeKey: number;
  close(): Promise<void>;
}

/** Takes this process's liveness lock on its own connection. */
export async function acquireNodeLease(
  connectionString: string,
  onError: (err: Error) => void,
): Promise<NodeLease> {
  const client = new pg.Client({ connectionString });
  client.on('error', onError);
  await client.connect();
  for (;;) {
    const nodeKey = 1 + Math.floor(Math.random() * 0x7ffffffe);
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
      NODE_LOCK,
      nodeKey,
    ]);
    if (r.rows[0]?.ok) {
      return {
        nodeKey,
        async close() {
          await client.end().catch(() => undefined);
        },
      };
    }
  }
}

/** Notes that this node now runs the job of this recording. */
export async function recordRun(pool: pg.Pool, recordingId: string, nodeKey: number): Promise<void> {
  await pool.query({
    name: 'srs-run-record',
    text: `INSERT INTO pipeline_runs (recording_id, node_key) VALUES ($1, $2)
     ON CONFLICT (recording_id) DO UPDATE SET node_key = EXCLUDED.node_key, started_at = now()`,
    values: [recordingId, nodeKey],
  });
}

export async function clearRun(pool: pg.Pool, recordingId: string, nodeKey: number): Promise<void> {
  await pool.query({
    name: 'srs-run-clear',
    text: 'DELETE FROM pipeline_runs WHERE recording_id = $1 AND node_key = $2',
    values: [recordingId, nodeKey],
  });
}

/**
 * Active jobs of this queue whose node is dead: its lock is gone, or no node claimed the job
 * within `unclaimedSeconds` of its start (a crash between pg-boss's fetch and recordRun).
 */
export async function orphanedJobs(pool: pg.Pool, queue: string, unclaimedSeconds = 60): Promise<string[]> {
  const r = await pool.query<{ id: string }>(
    `SELECT j.id::text AS id FROM pgboss.job j LEFT JOIN pipeline_runs r ON r.recording_id = j.id
     WHERE j.name = $1 AND j.state = 'active' AND (
       (r.recording_id IS NULL AND j.started_on < now() - make_interval(secs => $3))
       OR (r.recording_id IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
           AND l.classid = $2::bigint::oid AND l.objid = r.node_key::bigint::oid AND l.objsubid = 2)))`,
    [queue, NODE_LOCK, unclaimedSeconds],
  );
  return r.rows.map((x) => x.id);
}

/** Number of jobs of a queue not finished yet (created, retry or active). */
export async function pendingJobs(pool: pg.Pool, queue: string): Promise<number> {
  const r = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
    [queue],
  );
  return r.rows[0]?.n ?? 0;
}
