import type pg from 'pg';
import { NotFoundError } from '../../errors.js';
import { inTransaction } from '../tx.js';
import type { NotificationSubscription, OffloadRepository } from './types.js';

/** Per-user notification subscriptions. */
export type SubscriptionsRepository = Pick<
  OffloadRepository,
  'subscribe' | 'subscription' | 'allSubscriptions' | 'setSubscription'
>;

/**
 * The audit action of a change made through the API (src/api/resources/notifications.ts). A user
 * with one keeps what the API set, a removal included: the config file's seed leaves them alone.
 */
export const SETTINGS_CHANGED = 'notification-settings.update';

interface Row {
  email: string;
  enabled: boolean;
  attach: boolean;
}
const toSubscription = (r: Row): NotificationSubscription => ({
  email: r.email,
  enabled: r.enabled,
  attach: r.attach,
});

export function subscriptionsRepository(pool: pg.Pool): SubscriptionsRepository {
  return {
    async subscribe(username, email, attach, enabled) {
      // The audit trail is append-only (006_users_audit.sql): an API change is never forgotten.
      const r = await pool.query(
        `WITH u AS (
           SELECT id, EXISTS (SELECT 1 FROM audit a WHERE a.resource = 'user' AND a.resource_id = users.id::text
                                AND a.action = $5) AS kept
           FROM users WHERE username = $1
         ), seeded AS (
           INSERT INTO notification_subscriptions (user_id, email, attach, enabled)
           SELECT id, $2, $3, $4 FROM u WHERE NOT kept
           ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, attach = EXCLUDED.attach,
             enabled = EXCLUDED.enabled, updated_at = now()
           RETURNING user_id
         )
         SELECT kept FROM u`,
        [username, email, attach, enabled, SETTINGS_CHANGED],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async subscription(userId) {
      const r = await pool.query<Row>(
        'SELECT email, enabled, attach FROM notification_subscriptions WHERE user_id = $1',
        [userId],
      );
      return r.rows[0] ? toSubscription(r.rows[0]) : undefined;
    },
    async allSubscriptions() {
      const r = await pool.query<Row & { user_id: string }>(
        'SELECT user_id, email, enabled, attach FROM notification_subscriptions',
      );
      return new Map(r.rows.map((x) => [x.user_id, toSubscription(x)]));
    },
    async setSubscription(userId, to) {
      return inTransaction(pool, async (c) => {
        // The user's row locked: two changes at once each see what the other left.
        const u = await c.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
        if (u.rowCount === 0) throw new NotFoundError(`user ${userId} not found`);
        const before = await c.query<Row>(
          'SELECT email, enabled, attach FROM notification_subscriptions WHERE user_id = $1',
          [userId],
        );
        if (to)
          await c.query(
            `INSERT INTO notification_subscriptions (user_id, email, attach, enabled) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, attach = EXCLUDED.attach,
               enabled = EXCLUDED.enabled, updated_at = now()`,
            [userId, to.email, to.attach, to.enabled],
          );
        else await c.query('DELETE FROM notification_subscriptions WHERE user_id = $1', [userId]);
        return { from: before.rows[0] ? toSubscription(before.rows[0]) : null, to: to ? { ...to } : null };
      });
    },
  };
}
