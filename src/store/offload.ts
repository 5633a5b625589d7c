import type pg from 'pg';
import { batchesRepository } from './deliveries/batches.js';
import { recordingsOf } from './deliveries/common.js';
import { exportsRepository } from './deliveries/exports.js';
import { locksRepository } from './deliveries/locks.js';
import { metricsRepository } from './deliveries/metrics.js';
import { journalRepository } from './deliveries/journal.js';
import { notificationsRepository } from './deliveries/notifications.js';
import { requeueRepository } from './deliveries/requeue.js';
import { subscriptionsRepository } from './deliveries/subscriptions.js';
import { targetsRepository } from './deliveries/targets.js';
import type { OffloadRepository } from './deliveries/types.js';

/**
 * Delivery state: SFTP offload batches, MP3 export, email notifications, SMTP journal, subscriptions, per-target
 * health and the one-runner-per-feature locks, a repository per concern in ./deliveries/, composed
 * here into the one `db.offload` the delivery code (src/delivery) uses. The delivery code decides
 * what to send; these modules are its SQL. Audit entries are written in the same transaction as
 * the state change they record.
 */

export type * from './deliveries/types.js';

export function offloadRepository(pool: pg.Pool): OffloadRepository {
  const recordings = recordingsOf();
  return {
    async cursor(name) {
      const r = await pool.query<{ since: Date }>(
        `INSERT INTO delivery_cursors (name) VALUES ($1)
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING since`,
        [name],
      );
      return (r.rows[0] as { since: Date }).since;
    },
    recordings: (ids) => recordings(pool, ids),
    ...batchesRepository(pool, recordings),
    ...exportsRepository(pool),
    ...notificationsRepository(pool),
    ...journalRepository(pool),
    ...subscriptionsRepository(pool),
    ...targetsRepository(pool),
    ...locksRepository(pool),
    ...requeueRepository(pool),
    ...metricsRepository(pool),
  };
}
