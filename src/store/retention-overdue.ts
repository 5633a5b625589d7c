import type pg from 'pg';
import { retentionMsOf, type PolicyMs } from './retention.js';
import { GROUPS_OF } from './users-access.js';

/**
 * Recordings past their retention that retention does not purge because they were never stored:
 * still `processing` (a finalize waiting for an unreachable object store, say), or `recording`
 * though their call has ended (no finalize ran). Their plaintext spool is still on disk. They are
 * reported (src/pipeline/retention-overdue.ts), not purged: their job may still store them.
 */

export interface OverdueRecording {
  id: string;
  state: 'processing' | 'recording';
  startedAt: Date;
  endedAt: Date | null;
  groups: string[];
  /** Audited already (`retention.overdue`). */
  reported: boolean;
}

/** The audit action of a report; one entry per recording, whichever node or pass wrote it. */
export const OVERDUE_ACTION = 'retention.overdue';

/**
 * Not preserved recordings still processing, or recording with an end, started longer ago than
 * their own policy by the database's clock (the policy as the purge query takes it: $1 the
 * default in ms, $2 the groups' policies), oldest first, up to $3; `total` counts them all.
 * Through recordings_unfinished_idx (migration 045): these rows are few.
 */
export const OVERDUE_SQL = `SELECT r.id, r.state, r.started_at, r.ended_at, ${GROUPS_OF} AS groups,
         count(*) OVER ()::int AS total,
         EXISTS (SELECT 1 FROM audit a WHERE a.resource = 'recording' AND a.resource_id = r.id::text
                   AND a.action = '${OVERDUE_ACTION}') AS reported
       FROM recordings r
       ${retentionMsOf('$1', '$2')}
       WHERE r.state IN ('recording', 'processing') AND (r.state = 'processing' OR r.ended_at IS NOT NULL)
         AND r.preserved_at IS NULL
         AND own.ms IS NOT NULL AND r.started_at < now() - own.ms * interval '1 millisecond'
       ORDER BY r.started_at, r.id LIMIT $3`;

export interface OverdueRepository {
  /** The overdue recordings under `policy` (up to `limit`), and how many there are in all. */
  overdue(policy: PolicyMs, limit: number): Promise<{ items: OverdueRecording[]; total: number }>;
  /** Audits one (`retention.overdue`) unless it was already; true when this call wrote the entry. */
  report(id: string, details: Record<string, unknown>): Promise<boolean>;
}

export function overdueRepository(pool: Pick<pg.Pool, 'query'>): OverdueRepository {
  return {
    async overdue(policy, limit) {
      const r = await pool.query<{
        id: string;
        state: 'processing' | 'recording';
        started_at: Date;
        ended_at: Date | null;
        groups: string[];
        total: number;
        reported: boolean;
      }>(OVERDUE_SQL, [policy.defaultMs, JSON.stringify(policy.groupMs), limit]);
      return {
        items: r.rows.map((x) => ({
          id: x.id,
          state: x.state,
          startedAt: x.started_at,
          endedAt: x.ended_at,
          groups: x.groups,
          reported: x.reported,
        })),
        total: r.rows[0]?.total ?? 0,
      };
    },
    async report(id, details) {
      const r = await pool.query(
        `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
         SELECT 'retention', 'system', '', 'system', $3, 'recording', $1, $2::jsonb
         WHERE NOT EXISTS (
           SELECT 1 FROM audit WHERE resource = 'recording' AND resource_id = $1 AND action = $3)`,
        [id, JSON.stringify(details), OVERDUE_ACTION],
      );
      return r.rowCount === 1;
    },
  };
}
