import type pg from 'pg';
import { inTransaction } from '../tx.js';
import { audit, scanDone, scanFrom } from './common.js';
import type { OffloadRepository } from './types.js';

/** Email notifications: what is due, sent and failed with backoff. */
export type NotificationsRepository = Pick<
  OffloadRepository,
  'notificationsDue' | 'notificationSent' | 'notificationFailed'
>;

export function notificationsRepository(pool: pg.Pool): NotificationsRepository {
  return {
    async notificationsDue(since, limit) {
      // New stored recordings since the last pass's scan (migration 043), each queued once per user.
      await inTransaction(pool, async (c) => {
        const from = await scanFrom(c, 'notifications', since);
        await c.query(
          `INSERT INTO notifications (recording_id, user_id, email, state)
         SELECT r.id, u.id, s.email, 'pending'
         FROM recordings r
         JOIN participants p ON p.recording_id = r.id AND p.ordinal <= 2
         -- Who held the number at the call, not whoever holds it now (036_recording_owners.sql).
         JOIN recording_owners o ON o.recording_id = r.id AND o.number = srs_aor_number(p.aor)
         JOIN users u ON u.id = o.user_id AND NOT u.disabled
         JOIN notification_subscriptions s ON s.user_id = u.id AND s.enabled
         WHERE r.state = 'stored' AND r.stored_at >= $1
           AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.recording_id = r.id AND n.user_id = u.id)
         ON CONFLICT DO NOTHING`,
          [from],
        );
        await scanDone(c, 'notifications');
      });
      // A queued email waits while SMTP fails: it goes to the address in force when it goes out,
      // and is dropped (not sent later either) once its user turns emails off or is disabled.
      await pool.query(
        `UPDATE notifications n SET state = 'failed', next_attempt_at = now(),
           last_error = 'dropped: email notifications were turned off, or the user disabled, before it went out'
         WHERE n.state = 'pending' AND NOT EXISTS (
           SELECT 1 FROM notification_subscriptions s JOIN users u ON u.id = s.user_id
           WHERE s.user_id = n.user_id AND s.enabled AND NOT u.disabled)`,
      );
      const r = await pool.query<{
        recording_id: string;
        user_id: string;
        email: string;
        attach: boolean;
        attempts: number;
      }>(
        `SELECT n.recording_id, n.user_id, s.email, s.attach, n.attempts
         FROM notifications n JOIN notification_subscriptions s ON s.user_id = n.user_id AND s.enabled
         JOIN users u ON u.id = n.user_id AND NOT u.disabled
         WHERE n.state = 'pending' AND n.next_attempt_at <= now()
         ORDER BY n.created_at, n.recording_id LIMIT $1`,
        [limit],
      );
      return r.rows.map((x) => ({
        recordingId: x.recording_id,
        userId: x.user_id,
        email: x.email,
        attach: x.attach,
        attempts: x.attempts,
      }));
    },
    async notificationSent(n, x) {
      await inTransaction(pool, async (c) => {
        const r = await c.query(
          `UPDATE notifications SET state = 'sent', sent_at = now(), attachment_bytes = $3, message_id = $4,
             attempts = attempts + 1, last_error = NULL, email = $5
           WHERE recording_id = $1 AND user_id = $2 AND state <> 'sent'`,
          [n.recordingId, n.userId, x.attachmentBytes, x.messageId, n.email],
        );
        if (r.rowCount === 0) return;
        await audit(c, {
          action: 'notification.sent',
          resource: 'recording',
          resourceId: n.recordingId,
          details: {
            to: n.email,
            userId: n.userId,
            attachmentBytes: x.attachmentBytes,
            messageId: x.messageId,
          },
        });
      });
    },
    async notificationFailed(n, error, nextAttemptAt, giveUp) {
      await inTransaction(pool, async (c) => {
        const r = await c.query<{ attempts: number }>(
          `UPDATE notifications SET state = $3, attempts = attempts + 1, next_attempt_at = $4, last_error = $5
           WHERE recording_id = $1 AND user_id = $2 AND state <> 'sent' RETURNING attempts`,
          [n.recordingId, n.userId, giveUp ? 'failed' : 'pending', nextAttemptAt, error.slice(0, 2000)],
        );
        if (!r.rows[0]) return;
        await audit(c, {
          action: giveUp ? 'notification.failed' : 'notification.error',
          resource: 'recording',
          resourceId: n.recordingId,
          details: {
            to: n.email,
            userId: n.userId,
            attempt: r.rows[0].attempts,
            error: error.slice(0, 500),
            nextAttemptAt: giveUp ? null : nextAttemptAt.toISOString(),
          },
        });
      });
    },
  };
}
