import type pg from 'pg';

/**
 * Retention in the catalogue: which stored recordings are old enough to purge, and the purge
 * itself. A purged recording keeps its row (state 'purged', purged_at) and its files' rows with
 * their hashes as a tombstone; its chain entry stays; an audit entry names it.
 */

export interface PurgeCandidate {
  id: string;
  startedAt: Date;
  /** Recording groups it belongs to (through participants' numbers, as the access rules see it). */
  groups: string[];
}

export interface RetentionRepository {
  /** Stored, not preserved recordings that started before `before`, oldest first. */
  candidates(before: Date, limit: number): Promise<PurgeCandidate[]>;
  /**
   * Marks it purged (only if still stored and not preserved), writes the audit entry, and returns
   * the paths of its files to wipe; undefined when it was not purged (preserved meanwhile).
   */
  purge(id: string, policy: string): Promise<string[] | undefined>;
  /** File paths of recordings purged since `since` (to finish wipes a crash interrupted). */
  recentlyPurgedFiles(since: Date): Promise<string[]>;
}

export function retentionRepository(pool: pg.Pool): RetentionRepository {
  return {
    async candidates(before, limit) {
      const r = await pool.query<{ id: string; started_at: Date; groups: string[] }>(
        `SELECT r.id, r.started_at,
                COALESCE((SELECT array_agg(DISTINCT u.group_name) FROM participants p
                  JOIN users u ON srs_aor_number(p.aor) = ANY (u.numbers)
                  WHERE p.recording_id = r.id AND u.group_name IS NOT NULL), '{}') AS groups
         FROM recordings r
         WHERE r.state = 'stored' AND r.preserved_at IS NULL AND r.started_at < $1
         ORDER BY r.started_at LIMIT $2`,
        [before, limit],
      );
      return r.rows.map((x) => ({ id: x.id, startedAt: x.started_at, groups: x.groups }));
    },
    async purge(id, policy) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const upd = await c.query(
          `UPDATE recordings SET state = 'purged', purged_at = now(), updated_at = now()
           WHERE id = $1 AND state = 'stored' AND preserved_at IS NULL`,
          [id],
        );
        if (upd.rowCount !== 1) {
          await c.query('ROLLBACK');
          return undefined;
        }
        const files = await c.query<{ path: string; kind: string; sha256_cipher: string }>(
          'SELECT path, kind, sha256_cipher FROM files WHERE recording_id = $1 ORDER BY kind',
          [id],
        );
        await c.query(
          `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
           VALUES ('retention', 'system', '', 'system', 'retention.purge', 'recording', $1, $2::jsonb)`,
          [id, JSON.stringify({ policy, files: files.rows.map((f) => ({ kind: f.kind, path: f.path })) })],
        );
        await c.query('COMMIT');
        return files.rows.map((f) => f.path);
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    },
    async recentlyPurgedFiles(since) {
      const r = await pool.query<{ path: string }>(
        `SELECT f.path FROM files f JOIN recordings r ON r.id = f.recording_id
         WHERE r.state = 'purged' AND r.purged_at >= $1`,
        [since],
      );
      return r.rows.map((x) => x.path);
    },
  };
}
