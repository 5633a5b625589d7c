import type pg from 'pg';
import { inTransaction } from '../tx.js';
import { audit, toBatch, toExport, type BatchRow, type ExportRow } from './common.js';
import type { OffloadRepository } from './types.js';

/** Across the features: re-queueing every failed delivery at once, and the status the console shows. */
export type RequeueRepository = Pick<OffloadRepository, 'retryFailed' | 'status'>;

export function requeueRepository(pool: pg.Pool): RequeueRepository {
  return {
    async retryFailed(actor = 'delivery') {
      return inTransaction(pool, async (c) => {
        const o = await c.query<{ id: string; prev: string; attempts: number }>(
          `UPDATE offload_batches b SET state = 'queued', attempts = 0, next_attempt_at = now()
           FROM offload_batches p WHERE p.id = b.id
             AND (b.state = 'failed' OR (b.state = 'queued' AND b.last_error IS NOT NULL))
           RETURNING b.id, p.state AS prev, p.attempts`,
        );
        const e = await c.query<{ id: string; destination: string; attempts: number }>(
          `UPDATE export_items x SET state = 'pending', attempts = 0, next_attempt_at = now()
           FROM export_items p WHERE p.recording_id = x.recording_id AND p.destination = x.destination
             AND (x.state = 'failed' OR (x.state = 'pending' AND x.last_error IS NOT NULL))
           RETURNING x.recording_id AS id, x.destination, p.attempts`,
        );
        const n = await c.query<{ id: string; email: string; attempts: number }>(
          `UPDATE notifications x SET state = 'pending', attempts = 0, next_attempt_at = now()
           FROM notifications p WHERE p.recording_id = x.recording_id AND p.user_id = x.user_id
             AND (x.state = 'failed' OR (x.state = 'pending' AND x.last_error IS NOT NULL))
           RETURNING x.recording_id AS id, x.email, p.attempts`,
        );
        const j = await c.query<{ id: string; attempts: number }>(
          `UPDATE journal_messages x SET state = 'pending', attempts = 0, next_attempt_at = now()
           FROM journal_messages p WHERE p.recording_id = x.recording_id
             AND (x.state = 'failed' OR (x.state = 'pending' AND x.last_error IS NOT NULL))
           RETURNING x.recording_id AS id, p.attempts`,
        );
        const t = await c.query<{ name: string }>(
          `UPDATE delivery_targets SET next_attempt_at = now() WHERE NOT ok RETURNING name`,
        );
        const counts = {
          offload: o.rowCount ?? 0,
          export: e.rowCount ?? 0,
          notifications: n.rowCount ?? 0,
          journal: j.rowCount ?? 0,
        };
        await audit(
          c,
          {
            action: 'delivery.requeue',
            resource: 'delivery',
            resourceId: '',
            details: {
              ...counts,
              targets: t.rows.map((x) => x.name),
              // The first 100 of each, with the state and attempts they had.
              offloadBatches: o.rows
                .slice(0, 100)
                .map((x) => ({ id: x.id, state: x.prev, attempts: x.attempts })),
              exportItems: e.rows.slice(0, 100),
              notificationItems: n.rows.slice(0, 100),
              journalItems: j.rows.slice(0, 100),
            },
          },
          actor,
        );
        return counts;
      });
    },
    async status() {
      const t = await pool.query<{
        name: string;
        ok: boolean;
        last_ok_at: Date | null;
        last_error: string | null;
        last_error_at: Date | null;
        failures: number;
        next_attempt_at: Date | null;
      }>('SELECT * FROM delivery_targets ORDER BY name');
      const batches = await pool.query<BatchRow>('SELECT * FROM offload_batches ORDER BY seq DESC LIMIT 20');
      const ob = await pool.query<{ state: string; n: string }>(
        'SELECT state, count(*) AS n FROM offload_batches GROUP BY state',
      );
      const ex = await pool.query<{ state: string; n: string }>(
        // Kept as rows change (migration 044): never a count over a table of every recording.
        `SELECT state, sum(n) AS n FROM delivery_counts WHERE kind LIKE 'export:%' GROUP BY state`,
      );
      const exFail = await pool.query<ExportRow>(
        `SELECT * FROM export_items WHERE last_error IS NOT NULL AND state <> 'done' ORDER BY next_attempt_at DESC LIMIT 20`,
      );
      const no = await pool.query<{ state: string; n: string }>(
        `SELECT state, n FROM delivery_counts WHERE kind = 'notifications'`,
      );
      const noFail = await pool.query<{
        recording_id: string;
        user_id: string;
        email: string;
        state: 'pending' | 'failed';
        attempts: number;
        last_error: string;
        next_attempt_at: Date;
      }>(
        `SELECT recording_id, user_id, email, state, attempts, last_error, next_attempt_at FROM notifications
         WHERE last_error IS NOT NULL AND state <> 'sent' ORDER BY next_attempt_at DESC LIMIT 20`,
      );
      const jo = await pool.query<{ state: string; n: string }>(
        `SELECT state, n FROM delivery_counts WHERE kind = 'journal'`,
      );
      const joFail = await pool.query<{
        recording_id: string;
        state: 'pending' | 'failed';
        attempts: number;
        last_error: string;
        next_attempt_at: Date;
      }>(
        `SELECT recording_id, state, attempts, last_error, next_attempt_at FROM journal_messages
         WHERE last_error IS NOT NULL AND state <> 'sent' ORDER BY next_attempt_at DESC LIMIT 20`,
      );
      const count = (rows: { state: string; n: string }[], s: string) =>
        Number(rows.find((x) => x.state === s)?.n ?? 0);
      return {
        targets: t.rows.map((x) => ({
          name: x.name,
          ok: x.ok,
          lastOkAt: x.last_ok_at,
          lastError: x.last_error,
          lastErrorAt: x.last_error_at,
          failures: x.failures,
          nextAttemptAt: x.ok ? null : x.next_attempt_at,
        })),
        offload: {
          batches: batches.rows.map((b) => ({ ...toBatch(b), csv: '' })),
          queued: count(ob.rows, 'queued') + count(ob.rows, 'transferring'),
          failed: count(ob.rows, 'failed'),
        },
        export: {
          done: count(ex.rows, 'done'),
          pending: count(ex.rows, 'pending'),
          failed: count(ex.rows, 'failed'),
          recentFailures: exFail.rows.map(toExport),
        },
        notifications: {
          sent: count(no.rows, 'sent'),
          pending: count(no.rows, 'pending'),
          failed: count(no.rows, 'failed'),
          recentFailures: noFail.rows.map((x) => ({
            recordingId: x.recording_id,
            userId: x.user_id,
            email: x.email,
            state: x.state,
            attempts: x.attempts,
            lastError: x.last_error,
            nextAttemptAt: x.state === 'failed' ? null : x.next_attempt_at,
          })),
        },
        journal: {
          sent: count(jo.rows, 'sent'),
          pending: count(jo.rows, 'pending'),
          failed: count(jo.rows, 'failed'),
          recentFailures: joFail.rows.map((x) => ({
            recordingId: x.recording_id,
            state: x.state,
            attempts: x.attempts,
            lastError: x.last_error,
            nextAttemptAt: x.state === 'failed' ? null : x.next_attempt_at,
          })),
        },
      };
    },
  };
}
