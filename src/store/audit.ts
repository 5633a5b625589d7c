import type pg from 'pg';
import { countRows } from './tx.js';

/**
 * The audit trail: append-only (the database refuses UPDATE, DELETE and TRUNCATE on it) and
 * chained by hash (each row's SHA-256 covers its content and the previous row's hash; computed
 * by a trigger under an advisory lock, so concurrent writers from several nodes chain correctly).
 */

export interface AuditEntryInput {
  actor: string;
  actorRole: string;
  /** Client address. */
  ip: string;
  /** 'web', 'api-token', 'admin-token', 'system'. */
  via: string;
  /** e.g. 'login', 'login-failed', 'playback', 'download', 'delete', 'preserve', 'note.add', 'setting.update'. */
  action: string;
  /** 'session', 'recording', 'user', 'setting', 'key', 'token', ... */
  resource: string;
  resourceId?: string;
  details?: Record<string, unknown>;
}

export interface AuditEntry extends Required<AuditEntryInput> {
  id: number;
  at: Date;
  prevHash: string;
  hash: string;
}

export interface AuditSearch {
  from?: Date;
  to?: Date;
  actor?: string;
  action?: string;
  resource?: string;
  resourceId?: string;
  /** Case-insensitive text searched in the details. */
  q?: string;
  limit?: number;
  offset?: number;
  /** Count the matches only up to this many (`totalExact` false past it); default all. */
  countUpTo?: number;
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  /** The first row whose hash or link does not match. */
  firstBadId: number | null;
}

export interface AuditRepository {
  append(e: AuditEntryInput): Promise<AuditEntry>;
  search(s: AuditSearch): Promise<{ total: number; totalExact: boolean; items: AuditEntry[] }>;
  verify(): Promise<AuditVerification>;
}

interface Row {
  id: string;
  at: Date;
  actor: string;
  actor_role: string;
  ip: string;
  via: string;
  action: string;
  resource: string;
  resource_id: string;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

const toEntry = (r: Row): AuditEntry => ({
  id: Number(r.id),
  at: r.at,
  actor: r.actor,
  actorRole: r.actor_role,
  ip: r.ip,
  via: r.via,
  action: r.action,
  resource: r.resource,
  resourceId: r.resource_id,
  details: r.details,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/**
 * Appends an entry through `q`: the pool, or a transaction's client, so that an action and its entry
 * commit together (or neither does).
 */
export async function appendAudit(q: Pick<pg.Pool, 'query'>, e: AuditEntryInput): Promise<AuditEntry> {
  // id, at, prev_hash and hash are set by the audit_chain trigger.
  const r = await q.query<Row>(
    `INSERT INTO audit (id, at, actor, actor_role, ip, via, action, resource, resource_id, details, prev_hash, hash)
     VALUES (0, now(), $1, $2, $3, $4, $5, $6, $7, $8::jsonb, '', '') RETURNING *`,
    [
      e.actor,
      e.actorRole,
      e.ip,
      e.via,
      e.action,
      e.resource,
      e.resourceId ?? '',
      JSON.stringify(e.details ?? {}),
    ],
  );
  return toEntry(r.rows[0] as Row);
}

export function auditRepository(pool: pg.Pool): AuditRepository {
  return {
    append: (e) => appendAudit(pool, e),
    async search(s) {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        args.push(v);
        where.push(sql.replace('?', `$${args.length}`));
      };
      if (s.from) add('at >= ?', s.from);
      if (s.to) add('at < ?', s.to);
      if (s.actor) add('actor = ?', s.actor);
      if (s.action) add('action = ?', s.action);
      if (s.resource) add('resource = ?', s.resource);
      if (s.resourceId) add('resource_id = ?', s.resourceId);
      if (s.q) add(`details::text ILIKE '%' || ? || '%'`, s.q);
      const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const limit = Math.max(1, Math.min(s.limit ?? 50, 1000));
      const offset = Math.max(0, s.offset ?? 0);
      const total = await countRows(pool, `FROM audit ${w}`, args, s.countUpTo);
      const rows = await pool.query<Row>(
        `SELECT * FROM audit ${w} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}`,
        args,
      );
      return { total: total.total, totalExact: total.exact, items: rows.rows.map(toEntry) };
    },
    async verify() {
      const r = await pool.query<{ id: string; ok: boolean; n: string }>(
        `SELECT id, ok, count(*) OVER () AS n FROM (
           SELECT id,
                  hash = audit_row_hash(prev_hash, id, at, actor, actor_role, ip, via, action, resource,
                                        resource_id, details)
                  AND prev_hash = coalesce(lag(hash) OVER (ORDER BY id), '') AS ok
           FROM audit) x
         ORDER BY ok, id LIMIT 1`,
      );
      const row = r.rows[0];
      if (!row) return { ok: true, rows: 0, firstBadId: null };
      return { ok: row.ok, rows: Number(row.n), firstBadId: row.ok ? null : Number(row.id) };
    },
  };
}
