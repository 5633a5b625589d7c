import type pg from 'pg';
import type { OffloadRepository } from './types.js';

/** Per-user notification subscriptions. */
export type SubscriptionsRepository = Pick<OffloadRepository, 'subscribe'>;

export function subscriptionsRepository(pool: pg.Pool): SubscriptionsRepository {
  return {
    async subscribe(username, email, attach, enabled) {
      const r = await pool.query(
        `INSERT INTO notification_subscriptions (user_id, email, attach, enabled)
         SELECT id, $2, $3, $4 FROM users WHERE username = $1
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, attach = EXCLUDED.attach,
           enabled = EXCLUDED.enabled, updated_at = now()`,
        [username, email, attach, enabled],
      );
      return (r.rowCount ?? 0) > 0;
    },
  };
}
