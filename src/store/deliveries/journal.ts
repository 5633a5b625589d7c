import type pg from 'pg';
import { inTransaction } from '../tx.js';
import { audit, purgeStored, scanDone, scanFrom } from './common.js';
import type { OffloadRepository } from './types.js';

/** SMTP journaling: a message per stored recording, sent once, failed with backoff, purged after. */
export type JournalRepository = Pick<
  OffloadRepository,
  'journalDue' | 'journalSent' | 'journalFailed' | 'journalPurgeDue' | 'journalPurge'
>;

export function journalRepository(pool: pg.Pool): JournalRepository {
  return {
    async journalDue(since, limit) {
      // New stored recordings since the last pass's scan (migration 043), each queued once.
      await inTransaction(pool, async (c) => {
        const from = await scanFrom(c, 'journal', since);
        await c.query(
          `INSERT INTO journal_messages (recording_id)
           SELECT r.id FROM recordings r WHERE r.state = 'stored' AND r.stored_at >= $1
           ON CONFLICT DO NOTHING`,
          [from],
        );
        await scanDone(c, 'journal');
      });
      const r = await pool.query<{ recording_id: string; attempts: number }>(
        `SELECT recording_id, attempts FROM journal_messages
         WHERE state = 'pending' AND next_attempt_at <= now()
         ORDER BY created_at, recording_id LIMIT $1`,
        [limit],
      );
      return r.rows.map((x) => ({ recordingId: x.recording_id, attempts: x.attempts }));
    },
    async journalSent(recordingId, x) {
      await inTransaction(pool, async (c) => {
        const r = await c.query(
          `UPDATE journal_messages SET state = 'sent', sent_at = now(), message_id = $2, bytes = $3,
             attempts = attempts + 1, last_error = NULL
           WHERE recording_id = $1 AND state <> 'sent'`,
          [recordingId, x.messageId, x.bytes],
        );
        if (r.rowCount === 0) return;
        await audit(c, {
          action: 'journal.sent',
          resource: 'recording',
          resourceId: recordingId,
          details: { to: x.to, messageId: x.messageId, bytes: x.bytes },
        });
      });
    },
    async journalFailed(recordingId, error, nextAttemptAt, giveUp) {
      await inTransaction(pool, async (c) => {
        const r = await c.query<{ attempts: number }>(
          `UPDATE journal_messages SET state = $2, attempts = attempts + 1, next_attempt_at = $3, last_error = $4
           WHERE recording_id = $1 AND state <> 'sent' RETURNING attempts`,
          [recordingId, giveUp ? 'failed' : 'pending', nextAttemptAt, error.slice(0, 2000)],
        );
        if (!r.rows[0]) return;
        await audit(c, {
          action: giveUp ? 'journal.failed' : 'journal.error',
          resource: 'recording',
          resourceId: recordingId,
          details: {
            attempt: r.rows[0].attempts,
            error: error.slice(0, 500),
            nextAttemptAt: giveUp ? null : nextAttemptAt.toISOString(),
          },
        });
      });
    },
    async journalPurgeDue(limit) {
      const r = await pool.query<{ recording_id: string }>(
        `SELECT recording_id FROM journal_messages WHERE state = 'sent' AND purged_at IS NULL
         ORDER BY sent_at LIMIT $1`,
        [limit],
      );
      return r.rows.map((x) => x.recording_id);
    },
    async journalPurge(recordingId) {
      return inTransaction(pool, async (c) => {
        // A preserved (legal hold) or already removed recording is not purged, nor asked again.
        await c.query('UPDATE journal_messages SET purged_at = now() WHERE recording_id = $1', [recordingId]);
        return purgeStored(c, recordingId, 'journal.purge');
      });
    },
  };
}
