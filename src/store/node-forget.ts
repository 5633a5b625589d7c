import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import { appendAudit, type AuditEntryInput } from './audit.js';
import { JOB_SCHEMA } from './job-queue.js';
import { MISSED_HEARTBEATS, type NodeState } from './nodes.js';
import { inTransaction } from './tx.js';
import { ConflictError } from './users.js';

/**
 * `srs node forget` and `DELETE /api/v1/nodes/{id}`: a node that is gone for good (its machine
 * deleted) leaves the registry. Its registry row and its rows in the live-call registry go (the
 * node's heartbeat, addresses, instance token and drain flag are that row; pipeline leases are
 * session locks of its process, gone with it), in one transaction with the audit entry. Refused
 * while the node is alive, and while recordings still wait for its data directory: a dead node's
 * calls are recovered only by a node started on that directory (their audio is only there,
 * docs/cluster.md), and the registry is the one place that says where they wait.
 */

/** What a forgotten node was, for the audit entry and the caller's message. */
export interface ForgottenNode {
  id: string;
  /** `stopped`, or `down` (its heartbeat late). */
  status: 'stopped' | 'down';
  sipAddress: string;
  httpAddress: string;
  heartbeatAt: string;
  heartbeatAgeSeconds: number;
  /** Rows of the live-call registry removed with it (calls of a dead process, all finished). */
  calls: number;
}

/** Why a node may not be forgotten: `alive`, or recordings `pending` on its data directory. */
export class NodeForgetRefused extends ConflictError {
  constructor(
    message: string,
    readonly reason: 'alive' | 'pending',
    readonly recordingIds: string[] = [],
  ) {
    super(message);
  }
}

/** How many recording ids a refusal names (the count says the rest). */
const NAMED = 5;

interface Raw {
  state: NodeState;
  sip_address: string;
  http_address: string;
  heartbeat_seconds: number;
  heartbeat_at: Date;
  age: number;
  late: boolean;
  finalize_queue: string | null;
}

/**
 * The finalize queues' names (src/pipeline/routing.ts): the shared queue of the versions before
 * the per-directory queues, and `<FINALIZE_QUEUE>.<data directory id>`.
 */
const FINALIZE_QUEUE = 'finalize-recording';

/**
 * Recordings that still wait for the node's data directory: calls it held when it died (still in
 * the live-call registry) that are not stored nor failed, and the unfinished finalize jobs of its
 * directory's queue unless a live node works that queue (a shared data directory). A node
 * registered before its queue was recorded (`queue` null, migration 050) may have left jobs in any
 * finalize queue: then those of every queue no live node works count.
 */
async function pendingRecordings(
  c: pg.PoolClient,
  id: string,
  queue: string | null,
  hasJobs: boolean,
): Promise<string[]> {
  const calls = await c.query<{ id: string }>(
    `SELECT r.id::text AS id FROM cluster_calls k JOIN recordings r ON r.id = k.recording_id
     WHERE k.node_id = $1 AND r.state IN ('recording', 'processing') ORDER BY r.started_at`,
    [id],
  );
  const out = calls.rows.map((r) => r.id);
  if (!hasJobs) return out;
  const jobs = await c.query<{ id: string }>(
    `SELECT j.id::text AS id FROM ${JOB_SCHEMA}.job j
     WHERE (j.name = $1::text OR ($1::text IS NULL AND (j.name = $3 OR starts_with(j.name, $3 || '.'))))
       AND j.state IN ('created', 'retry', 'active')
       AND NOT EXISTS (SELECT 1 FROM cluster_nodes n WHERE n.finalize_queue = j.name AND n.id <> $2
         AND n.state <> 'stopped'
         AND n.heartbeat_at >= now() - make_interval(secs => n.heartbeat_seconds * ${MISSED_HEARTBEATS}))
     ORDER BY j.created_on`,
    [queue, id, FINALIZE_QUEUE],
  );
  for (const j of jobs.rows) if (!out.includes(j.id)) out.push(j.id);
  return out;
}

/**
 * Forgets node `id` (above) and appends `entry(node)` to the audit trail in the same transaction.
 * NotFoundError: no such node. NodeForgetRefused (a ConflictError): alive, or recordings pending.
 * The node row is locked first, so a heartbeat or a restart of that id waits for the outcome: a
 * heartbeat that came first makes the node alive (refused); a restart after it registers anew.
 */
export async function forgetNode(
  pool: pg.Pool,
  id: string,
  entry: (n: ForgottenNode) => AuditEntryInput,
): Promise<ForgottenNode> {
  // pg-boss's table is missing when no pipeline ever ran on this database: no job can wait then.
  const hasJobs = (
    await pool.query<{ ok: boolean }>(`SELECT to_regclass('${JOB_SCHEMA}.job') IS NOT NULL AS ok`)
  ).rows[0]?.ok;
  return inTransaction(pool, async (c) => {
    const r = await c.query<Raw>(
      `SELECT state, sip_address, http_address, heartbeat_seconds, heartbeat_at, finalize_queue,
         extract(epoch FROM clock_timestamp() - heartbeat_at)::float8 AS age,
         heartbeat_at < clock_timestamp() - make_interval(secs => heartbeat_seconds * ${MISSED_HEARTBEATS}) AS late
       FROM cluster_nodes WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = r.rows[0];
    if (!row) throw new NotFoundError(`no node "${id}" in the registry (srs node list)`);
    const age = Math.max(0, Math.round(row.age * 10) / 10);
    if (row.state !== 'stopped' && !row.late)
      throw new NodeForgetRefused(
        `node "${id}" is alive (${row.state}, heartbeat ${age} s ago; down after ${row.heartbeat_seconds * MISSED_HEARTBEATS} s without one): stop it first (srs node drain ${id})`,
        'alive',
      );
    const pending = await pendingRecordings(c, id, row.finalize_queue, hasJobs === true);
    const unknown =
      row.finalize_queue === null
        ? ` (its finalize queue is unknown, registered by a version that did not record it: the waiting jobs of every finalize queue no live node works count)`
        : '';
    if (pending.length > 0)
      throw new NodeForgetRefused(
        `node "${id}" has ${pending.length} recording(s) not yet stored (${pending.slice(0, NAMED).join(', ')}${pending.length > NAMED ? ', ...' : ''})${unknown}: their audio is only in its data directory; start a node on that directory (any SRS_NODE_ID) to recover and store them, then forget "${id}"`,
        'pending',
        pending,
      );
    const calls = await c.query('DELETE FROM cluster_calls WHERE node_id = $1', [id]);
    await c.query('DELETE FROM cluster_nodes WHERE id = $1', [id]);
    const node: ForgottenNode = {
      id,
      status: row.state === 'stopped' ? 'stopped' : 'down',
      sipAddress: row.sip_address,
      httpAddress: row.http_address,
      heartbeatAt: row.heartbeat_at.toISOString(),
      heartbeatAgeSeconds: age,
      calls: calls.rowCount ?? 0,
    };
    await appendAudit(c, entry(node));
    return node;
  });
}
