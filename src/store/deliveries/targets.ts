import type pg from 'pg';
import { inTransaction } from '../tx.js';
import { audit } from './common.js';
import type { OffloadRepository } from './types.js';

/** Health of each delivery destination (up, down, backoff), audited when it changes. */
export type TargetsRepository = Pick<OffloadRepository, 'targetDue' | 'targetOk' | 'targetError'>;

export function targetsRepository(pool: pg.Pool): TargetsRepository {
  return {
    async targetDue(name) {
      const r = await pool.query<{ due: boolean }>(
        `SELECT ok OR next_attempt_at IS NULL OR next_attempt_at <= now() AS due
         FROM delivery_targets WHERE name = $1`,
        [name],
      );
      return r.rows[0]?.due ?? true;
    },
    async targetOk(name) {
      await inTransaction(pool, async (c) => {
        const prev = await c.query<{ ok: boolean; failures: number; last_error: string | null }>(
          'SELECT ok, failures, last_error FROM delivery_targets WHERE name = $1 FOR UPDATE',
          [name],
        );
        await c.query(
          `INSERT INTO delivery_targets (name, ok, last_ok_at) VALUES ($1, true, now())
           ON CONFLICT (name) DO UPDATE SET ok = true, last_ok_at = now(), failures = 0,
             next_attempt_at = NULL, updated_at = now()`,
          [name],
        );
        const p = prev.rows[0];
        if (p && !p.ok)
          await audit(c, {
            action: 'delivery.target.up',
            resource: 'delivery-target',
            resourceId: name,
            details: { failures: p.failures, lastError: p.last_error },
          });
      });
    },
    async targetError(name, error, backoff) {
      await inTransaction(pool, async (c) => {
        const prev = await c.query<{ ok: boolean; failures: number }>(
          'SELECT ok, failures FROM delivery_targets WHERE name = $1 FOR UPDATE',
          [name],
        );
        const p = prev.rows[0];
        const failures = (p && !p.ok ? p.failures : 0) + 1;
        const delay = backoff?.(failures) ?? 0;
        await c.query(
          `INSERT INTO delivery_targets (name, ok, last_error, last_error_at, failures, next_attempt_at)
           VALUES ($1, false, $2, now(), $3, now() + $4 * interval '1 millisecond')
           ON CONFLICT (name) DO UPDATE SET ok = false, last_error = $2, last_error_at = now(),
             failures = $3, next_attempt_at = EXCLUDED.next_attempt_at, updated_at = now()`,
          [name, error.slice(0, 2000), failures, delay],
        );
        if (!p || p.ok)
          await audit(c, {
            action: 'delivery.target.down',
            resource: 'delivery-target',
            resourceId: name,
            details: { error: error.slice(0, 500) },
          });
      });
    },
  };
}
