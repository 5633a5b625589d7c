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
 * docs/cluster.md), and the registry is the one place that says where they wait. When that
 * directory is lost for good, the caller may give those recordings up (`abandon`): each is marked
 * failed with the reason, its finalize job cancelled, and each is audited `recording.abandon`, in
 * the same transaction.
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
  /** Recordings given up with it (`abandon`): marked failed, their finalize jobs cancelled. */
  abandoned: string[];
}

/**
 * The `node.forget` audit entry's details: the node as it was, and the count and reason of the
 * recordings given up (their ids are in their own `recording.abandon` entries).
 */
export function forgetDetails(n: ForgottenNode, reason: string): Record<string, unknown> {
  const { abandoned, ...node } = n;
  return abandoned.length > 0 ? { ...node, abandonedRecordings: abandoned.length, reason } : { ...node };
}

/** The longest reason for giving recordings up (it goes into each one's error and audit entry). */
export const ABANDON_REASON_MAX = 500;

/** What is wrong with a reason given for giving recordings up, or undefined. */
export function abandonReasonProblem(reason: string): string | undefined {
  if (reason.trim() === '') return 'a reason is required (why the data directory is lost)';
  if (reason.length > ABANDON_REASON_MAX)
    return `the reason is ${reason.length} characters long, at most ${ABANDON_REASON_MAX}`;
  return undefined;
}

/** Giving up the recordings that wait for a lost data directory: why, for the record. */
export interface AbandonRecordings {
  reason: string;
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
 * finalize queue: then those of every queue no live node works count (`all`), but only its calls
 * are surely its own (`own`, what giving up may touch).
 */
async function pendingRecordings(
  c: pg.PoolClient,
  id: string,
  queue: string | null,
  hasJobs: boolean,
): Promise<{ all: string[]; own: string[] }> {
  const calls = await c.query<{ id: string }>(
    `SELECT r.id::text AS id FROM cluster_calls k JOIN recordings r ON r.id = k.recording_id
     WHERE k.node_id = $1 AND r.state IN ('recording', 'processing') ORDER BY r.started_at`,
    [id],
  );
  const callIds = calls.rows.map((r) => r.id);
  if (!hasJobs) return { all: callIds, own: callIds };
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
  const all = [...callIds, ...jobs.rows.map((j) => j.id).filter((j) => !callIds.includes(j))];
  // Surely its own: its calls, and the jobs of the queue it registered (when it did).
  return { all, own: queue === null ? callIds : all };
}

/**
 * Gives up recordings waiting for node `id`'s lost data directory: the ones not stored, purged or
 * already failed are marked failed (the error names the node and the reason), their finalize jobs
 * are cancelled so no node retries them, and their pipeline claims go. Returns the ids marked.
 * Nothing on any disk is touched: if the directory turns up after all, its spool is still there.
 */
async function giveUp(
  c: pg.PoolClient,
  id: string,
  ids: string[],
  reason: string,
  hasJobs: boolean,
): Promise<string[]> {
  const marked = await c.query<{ id: string }>(
    `UPDATE recordings SET state = 'failed', error = $2, updated_at = now()
     WHERE id = ANY($1::uuid[]) AND state NOT IN ('stored', 'purged', 'failed')
     RETURNING id::text AS id`,
    [ids, `abandoned with node ${id}'s data directory: ${reason}`],
  );
  if (hasJobs)
    await c.query(
      `UPDATE ${JOB_SCHEMA}.job SET state = 'cancelled', completed_on = now()
       WHERE id = ANY($1::uuid[]) AND state IN ('created', 'retry', 'active')`,
      [ids],
    );
  await c.query('DELETE FROM pipeline_runs WHERE recording_id = ANY($1::uuid[])', [ids]);
  const done = new Set(marked.rows.map((r) => r.id));
  return ids.filter((x) => done.has(x));
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
  abandon?: AbandonRecordings,
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
    const waiting = await pendingRecordings(c, id, row.finalize_queue, hasJobs === true);
    const pending = waiting.all;
    const unknown =
      row.finalize_queue === null
        ? ` (its finalize queue is unknown, registered by a version that did not record it: the waiting jobs of every finalize queue no live node works count)`
        : '';
    if (pending.length > 0 && !abandon)
      throw new NodeForgetRefused(
        `node "${id}" has ${pending.length} recording(s) not yet stored (${pending.slice(0, NAMED).join(', ')}${pending.length > NAMED ? ', ...' : ''})${unknown}: their audio is only in its data directory; start a node on that directory (any SRS_NODE_ID) to recover and store them, then forget "${id}" (or, if that directory is lost for good, give them up: srs node forget ${id} --abandon-recordings --reason <why>)`,
        'pending',
        pending,
      );
    // A node of unknown queue gives up only its own calls: the jobs waiting in queues no live node
    // works may be another dead node's, so they stay queued (its directory may still turn up).
    const abandoned =
      abandon && waiting.own.length > 0
        ? await giveUp(c, id, waiting.own, abandon.reason, hasJobs === true)
        : [];
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
      abandoned,
    };
    const base = entry(node);
    await appendAudit(c, base);
    // One entry per recording given up, so a recording's own trail says where its audio went.
    for (const rid of abandoned)
      await appendAudit(c, {
        ...base,
        action: 'recording.abandon',
        resource: 'recording',
        resourceId: rid,
        details: { node: id, reason: abandon?.reason ?? '' },
      });
    return node;
  });
}
