import type pg from 'pg';
import { LEADER_LOCK } from './common.js';
import type { OffloadRepository } from './types.js';

/** One delivery runner per feature across nodes (session advisory lock). */
export type LocksRepository = Pick<OffloadRepository, 'exclusive'>;

export function locksRepository(pool: pg.Pool): LocksRepository {
  return {
    async exclusive(name, fn, opts) {
      const c = await pool.connect();
      /** The locks this session holds, to give back: [name, shared]. */
      const held: [string, boolean][] = [];
      const take = async (lock: string, shared: boolean): Promise<boolean> => {
        const fnName = shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
        const r = await c.query<{ ok: boolean }>(`SELECT ${fnName}($1, hashtext($2)) AS ok`, [
          LEADER_LOCK,
          lock,
        ]);
        if (r.rows[0]?.ok) held.push([lock, shared]);
        return r.rows[0]?.ok === true;
      };
      let broken: Error | undefined;
      try {
        // The shared name first: a node holding it exclusively (the previous version's single
        // lock) keeps this runner off without it taking `name` even for a moment.
        if (opts?.shared !== undefined && !(await take(opts.shared, true))) return undefined;
        if (!(await take(name, false))) return undefined;
        return await fn();
      } finally {
        for (const [lock, shared] of held.reverse()) {
          const fnName = shared ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock';
          await c.query(`SELECT ${fnName}($1, hashtext($2))`, [LEADER_LOCK, lock]).catch((err: unknown) => {
            broken ??= err as Error;
          });
        }
        // A session whose lock could not be given back is closed (its locks go with it), not
        // handed to the next user of the pool still holding them.
        c.release(broken);
      }
    },
  };
}
