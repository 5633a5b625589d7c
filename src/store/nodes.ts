import type pg from 'pg';
import { ConflictError } from './users.js';

/**
 * The cluster's node registry and live-call registry (migration 024). SQL only: src/cluster decides
 * when to register, heartbeat and drain.
 */

export type NodeState = 'up' | 'draining' | 'stopped';
/** What a listing shows: the stored state, or `down` when the heartbeat is late. */
export type NodeStatus = NodeState | 'down';

export interface NodeRegistration {
  id: string;
  instance: string;
  sipAddress: string;
  mediaAddress: string;
  httpAddress: string;
  maxSessions: number;
  heartbeatSeconds: number;
  /** The finalize queue of its data directory (`srs node forget` checks it for waiting jobs). */
  finalizeQueue?: string;
}

export interface NodeRow {
  id: string;
  status: NodeStatus;
  state: NodeState;
  drainRequested: boolean;
  sipAddress: string;
  mediaAddress: string;
  httpAddress: string;
  activeCalls: number;
  maxSessions: number;
  heartbeatSeconds: number;
  startedAt: string;
  heartbeatAt: string;
  /** Seconds since the last heartbeat, by the database clock. */
  heartbeatAgeSeconds: number;
}

export interface ClusterCall {
  nodeId: string;
  /** The node's HTTP base URL (listen-in relay). */
  httpAddress: string;
  /** The node's process instance token (the audience of a peer credential, src/cluster/live.ts). */
  instance: string;
  recordingId: string;
  call: Record<string, unknown>;
}

/** The NOTIFY channel: payload `drain:<node id>`, `calls:<node id>`. */
export const CLUSTER_CHANNEL = 'srs_cluster';

/** A node is down after this many of its heartbeat intervals without one. */
export const MISSED_HEARTBEATS = 3;

const SELECT_NODES = `SELECT id, state, drain_requested, sip_address, media_address, http_address,
    active_calls, max_sessions, heartbeat_seconds, started_at, heartbeat_at,
    extract(epoch FROM now() - heartbeat_at)::float8 AS age,
    (state <> 'stopped' AND heartbeat_at < now() - make_interval(secs => heartbeat_seconds * ${MISSED_HEARTBEATS})) AS late
  FROM cluster_nodes`;

interface Raw {
  id: string;
  state: NodeState;
  drain_requested: boolean;
  sip_address: string;
  media_address: string;
  http_address: string;
  active_calls: number;
  max_sessions: number;
  heartbeat_seconds: number;
  started_at: Date;
  heartbeat_at: Date;
  age: number;
  late: boolean;
}

const toRow = (r: Raw): NodeRow => ({
  id: r.id,
  status: r.late ? 'down' : r.state,
  state: r.state,
  drainRequested: r.drain_requested,
  sipAddress: r.sip_address,
  mediaAddress: r.media_address,
  httpAddress: r.http_address,
  activeCalls: r.active_calls,
  maxSessions: r.max_sessions,
  heartbeatSeconds: r.heartbeat_seconds,
  startedAt: r.started_at.toISOString(),
  heartbeatAt: r.heartbeat_at.toISOString(),
  heartbeatAgeSeconds: Math.max(0, Math.round(r.age * 10) / 10),
});

export interface NodesRepository {
  /**
   * Registers (or re-registers) this process as node `id`, state up. ConflictError when another
   * process holds the id and still heartbeats (unless it had this process's addresses: a restart).
   */
  register(n: NodeRegistration): Promise<void>;
  /**
   * Stores the heartbeat and the calls in use; returns whether a drain was requested, and whether
   * this process still holds the id (`held` false: another process registered as `id` since).
   */
  heartbeat(
    id: string,
    instance: string,
    activeCalls: number,
  ): Promise<{ drainRequested: boolean; held: boolean }>;
  setState(id: string, instance: string, state: NodeState): Promise<void>;
  /** Sets the drain flag and notifies the node; false when there is no such node. */
  requestDrain(id: string): Promise<boolean>;
  list(): Promise<NodeRow[]>;
  get(id: string): Promise<NodeRow | undefined>;
  /** The live-call registry: this node's call started / ended. */
  addCall(nodeId: string, recordingId: string, call: Record<string, unknown>, startedAt: Date): Promise<void>;
  removeCall(recordingId: string): Promise<void>;
  /** Forgets every call of the node (start and stop of a node). */
  clearCalls(nodeId: string): Promise<void>;
  /**
   * Forgets the node's calls other than `live` (a call-end whose delete failed, the database away);
   * returns the recording ids the registry still holds for the node.
   */
  syncCalls(nodeId: string, live: string[]): Promise<string[]>;
  /** Those of these recordings not yet stored nor failed (a drain waits for none). */
  unfinished(recordingIds: string[]): Promise<string[]>;
  /** Live calls of the nodes other than `exceptNode` that are up or draining (not down). */
  remoteCalls(exceptNode: string): Promise<ClusterCall[]>;
  /**
   * The node other than `exceptNode` holding this recording as a live call while it still
   * heartbeats (not stopped, not down), with its HTTP address, or null.
   */
  liveOwner(recordingId: string, exceptNode: string): Promise<{ nodeId: string; httpAddress: string } | null>;
}

export function nodesRepository(pool: pg.Pool): NodesRepository {
  const notify = (payload: string) => pool.query('SELECT pg_notify($1, $2)', [CLUSTER_CHANNEL, payload]);
  return {
    async register(n) {
      const r = await pool.query<{ instance: string }>(
        `INSERT INTO cluster_nodes AS c (id, instance, sip_address, media_address, http_address, state,
           drain_requested, active_calls, max_sessions, heartbeat_seconds, finalize_queue)
         VALUES ($1, $2, $3, $4, $5, 'up', false, 0, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET instance = EXCLUDED.instance, sip_address = EXCLUDED.sip_address,
           media_address = EXCLUDED.media_address, http_address = EXCLUDED.http_address, state = 'up',
           drain_requested = false, active_calls = 0, max_sessions = EXCLUDED.max_sessions,
           heartbeat_seconds = EXCLUDED.heartbeat_seconds, finalize_queue = EXCLUDED.finalize_queue,
           started_at = now(), heartbeat_at = now()
         WHERE c.state = 'stopped' OR c.instance = EXCLUDED.instance
           -- Same SIP and HTTP addresses: we hold those ports now, so that process is gone (kill -9).
           OR (c.sip_address = EXCLUDED.sip_address AND c.http_address = EXCLUDED.http_address)
           OR c.heartbeat_at < now() - make_interval(secs => c.heartbeat_seconds * ${MISSED_HEARTBEATS})
         RETURNING instance`,
        [
          n.id,
          n.instance,
          n.sipAddress,
          n.mediaAddress,
          n.httpAddress,
          n.maxSessions,
          n.heartbeatSeconds,
          n.finalizeQueue ?? null,
        ],
      );
      if (r.rowCount === 0) {
        const other = await this.get(n.id);
        throw new ConflictError(
          `node id "${n.id}" is in use by a running node (SIP ${other?.sipAddress ?? '?'}, heartbeat ${other?.heartbeatAgeSeconds ?? '?'} s ago); give each node its own SRS_NODE_ID`,
        );
      }
    },
    async heartbeat(id, instance, activeCalls) {
      const r = await pool.query<{ drain_requested: boolean }>(
        `UPDATE cluster_nodes SET heartbeat_at = now(), active_calls = $3
         WHERE id = $1 AND instance = $2 RETURNING drain_requested`,
        [id, instance, activeCalls],
      );
      return { drainRequested: r.rows[0]?.drain_requested ?? false, held: r.rows.length > 0 };
    },
    async setState(id, instance, state) {
      await pool.query(
        `UPDATE cluster_nodes SET state = $3, heartbeat_at = now() WHERE id = $1 AND instance = $2`,
        [id, instance, state],
      );
    },
    async requestDrain(id) {
      const r = await pool.query(
        `UPDATE cluster_nodes SET drain_requested = true WHERE id = $1 AND state <> 'stopped'`,
        [id],
      );
      if (r.rowCount === 0) return false;
      await notify(`drain:${id}`);
      return true;
    },
    async list() {
      return (await pool.query<Raw>(`${SELECT_NODES} ORDER BY id`)).rows.map(toRow);
    },
    async get(id) {
      const r = await pool.query<Raw>(`${SELECT_NODES} WHERE id = $1`, [id]);
      return r.rows[0] ? toRow(r.rows[0]) : undefined;
    },
    async addCall(nodeId, recordingId, call, startedAt) {
      await pool.query(
        `INSERT INTO cluster_calls (recording_id, node_id, call, started_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (recording_id) DO UPDATE SET call = EXCLUDED.call`,
        [recordingId, nodeId, JSON.stringify(call), startedAt],
      );
    },
    async removeCall(recordingId) {
      await pool.query('DELETE FROM cluster_calls WHERE recording_id = $1', [recordingId]);
    },
    async clearCalls(nodeId) {
      await pool.query('DELETE FROM cluster_calls WHERE node_id = $1', [nodeId]);
    },
    async syncCalls(nodeId, live) {
      await pool.query('DELETE FROM cluster_calls WHERE node_id = $1 AND recording_id <> ALL($2::uuid[])', [
        nodeId,
        live,
      ]);
      const r = await pool.query<{ recording_id: string }>(
        'SELECT recording_id FROM cluster_calls WHERE node_id = $1',
        [nodeId],
      );
      return r.rows.map((x) => x.recording_id);
    },
    async unfinished(ids) {
      if (ids.length === 0) return [];
      const r = await pool.query<{ id: string }>(
        `SELECT id FROM recordings WHERE id = ANY($1::uuid[]) AND state IN ('recording', 'processing')`,
        [ids],
      );
      return r.rows.map((x) => x.id);
    },
    async liveOwner(recordingId, exceptNode) {
      const r = await pool.query<{ node_id: string; http_address: string }>(
        `SELECT k.node_id, n.http_address FROM cluster_calls k JOIN cluster_nodes n ON n.id = k.node_id
         WHERE k.recording_id = $1 AND k.node_id <> $2 AND n.state <> 'stopped'
           AND n.heartbeat_at >= now() - make_interval(secs => n.heartbeat_seconds * ${MISSED_HEARTBEATS})`,
        [recordingId, exceptNode],
      );
      const row = r.rows[0];
      return row ? { nodeId: row.node_id, httpAddress: row.http_address } : null;
    },
    async remoteCalls(exceptNode) {
      const r = await pool.query<{
        node_id: string;
        http_address: string;
        instance: string;
        recording_id: string;
        call: Record<string, unknown>;
      }>(
        `SELECT k.node_id, n.http_address, n.instance, k.recording_id, k.call FROM cluster_calls k JOIN cluster_nodes n ON n.id = k.node_id
         WHERE k.node_id <> $1 AND n.state <> 'stopped'
           AND n.heartbeat_at >= now() - make_interval(secs => n.heartbeat_seconds * ${MISSED_HEARTBEATS})
         ORDER BY k.started_at`,
        [exceptNode],
      );
      return r.rows.map((x) => ({
        nodeId: x.node_id,
        httpAddress: x.http_address,
        instance: x.instance,
        recordingId: x.recording_id,
        call: x.call,
      }));
    },
  };
}

/** A connection of its own LISTENing on the cluster channel (CLUSTER_CHANNEL). */
export interface ClusterListener {
  /** Takes a connection from the pool and listens; `onPayload` gets each notification's payload. */
  listen(): Promise<void>;
  /** Whether its connection listens now (false before listen(), after close() or a lost connection). */
  readonly listening: boolean;
  /** Stops listening (UNLISTEN, errors ignored) and gives the connection back; safe to call twice. */
  close(): Promise<void>;
}

export function clusterListener(
  pool: Pick<pg.Pool, 'connect'>,
  onPayload: (payload: string | undefined) => void,
  onError: (err: Error) => void,
): ClusterListener {
  let client: pg.PoolClient | undefined;
  let closed = false;
  return {
    get listening() {
      return client !== undefined;
    },
    async listen() {
      if (closed || client) return;
      const c = await pool.connect();
      if (closed) return void c.release();
      client = c;
      c.on('notification', (m) => {
        if (m.channel === CLUSTER_CHANNEL) onPayload(m.payload);
      });
      // A lost connection goes back to the pool to be destroyed: listen() may then be called again.
      c.on('error', (err) => {
        if (client !== c) return;
        client = undefined;
        c.removeAllListeners('notification');
        c.release(err);
        onError(err);
      });
      try {
        await c.query(`LISTEN ${CLUSTER_CHANNEL}`);
      } catch (err) {
        if (client === c) {
          client = undefined;
          c.release(err as Error);
        }
        throw err;
      }
    },
    async close() {
      closed = true;
      const c = client;
      if (!c) return;
      client = undefined;
      c.removeAllListeners('notification');
      await c.query(`UNLISTEN ${CLUSTER_CHANNEL}`).catch(() => undefined);
      c.release();
    },
  };
}
