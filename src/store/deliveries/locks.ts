import type pg from 'pg';
import { LEADER_LOCK } from './common.js';
import type { OffloadRepository } from './types.js';

/** One delivery runner per feature across nodes (session advisory lock). */
export type LocksRepository = Pick<OffloadRepository, 'exclusive'>;

export function locksRepository(pool: pg.Pool): LocksRepository {
  return {
    async exclusive(name, fn) {
      const c = await pool.connect();
      try {
        const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
          LEADER_LOCK,
          name,
        ]);
        if (!r.rows[0]?.ok) return undefined;
        try {
          return await fn();
        } finally {
          await c
            .query('SELECT pg_advisory_unlock($1, hashtext($2))', [LEADER_LOCK, name])
            .catch(() => undefined);
        }
      } finally {
        c.release();
      }
    },
  };
}
