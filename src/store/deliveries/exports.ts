import type pg from 'pg';
import { inTransaction } from '../tx.js';
import { audit, scanDone, scanFrom } from './common.js';
import type { OffloadRepository } from './types.js';

/** MP3 export items per destination: what is due, names given, done and failed with backoff, the day index. */
export type ExportsRepository = Pick<
  OffloadRepository,
  | 'exportDue'
  | 'exportPath'
  | 'exportDone'
  | 'exportFailed'
  | 'exportIndex'
  | 'exportIndexBytes'
  | 'exportIndexWritten'
>;

export function exportsRepository(pool: pg.Pool): ExportsRepository {
  return {
    async exportDue(dest, since, limit) {
      // Recordings never tried, from where the last pass's scan left off (migration 043), and the
      // items waiting for a retry, whatever their age: oldest first.
      return inTransaction(pool, async (c) => {
        const scan = `export:${dest}`;
        const from = await scanFrom(c, scan, since);
        type Due = { id: string; stored_at: Date; path: string | null; attempts: number };
        const fresh = await c.query<Due>(
          `SELECT r.id, r.stored_at, NULL::text AS path, 0 AS attempts FROM recordings r
           WHERE r.state = 'stored' AND r.stored_at >= $2
             AND NOT EXISTS (SELECT 1 FROM export_items e WHERE e.recording_id = r.id AND e.destination = $1)
           ORDER BY r.stored_at, r.id LIMIT $3`,
          [dest, from, limit],
        );
        const retries = await c.query<Due>(
          `SELECT r.id, r.stored_at, e.path, e.attempts FROM export_items e JOIN recordings r ON r.id = e.recording_id
           WHERE e.destination = $1 AND e.state = 'pending' AND e.next_attempt_at <= now()
             AND r.state = 'stored' AND r.stored_at >= $2
           ORDER BY r.stored_at, r.id LIMIT $3`,
          [dest, since, limit],
        );
        // The scan moves on no further than the oldest recording still without an item: the
        // first of the fresh ones (they come oldest first).
        await scanDone(c, scan, fresh.rows[0]?.stored_at);
        const key = (x: Due) => `${x.stored_at.toISOString()} ${x.id}`;
        return [...fresh.rows, ...retries.rows]
          .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
          .slice(0, limit)
          .map((x) => ({ id: x.id, path: x.path, attempts: x.attempts }));
      });
    },
    async exportPath(recordingId, dest, path, day) {
      await pool.query(
        `INSERT INTO export_items (recording_id, destination, state, path, day) VALUES ($1, $2, 'pending', $3, $4)
         ON CONFLICT (recording_id, destination) DO UPDATE SET path = EXCLUDED.path, day = EXCLUDED.day`,
        [recordingId, dest, path, day],
      );
    },
    async exportDone(recordingId, dest, x) {
      await inTransaction(pool, async (c) => {
        const r = await c.query<{ path: string }>(
          `UPDATE export_items SET state = 'done', bytes = $3, sha256 = $4, index_row = $5::jsonb,
             exported_at = now(), last_error = NULL, attempts = attempts + 1
           WHERE recording_id = $1 AND destination = $2 AND state <> 'done' RETURNING path`,
          [recordingId, dest, x.bytes, x.sha256, JSON.stringify(x.indexRow)],
        );
        if (!r.rows[0]) return;
        await audit(c, {
          action: 'export',
          resource: 'recording',
          resourceId: recordingId,
          details: {
            destination: dest,
            target: x.target,
            path: r.rows[0].path,
            bytes: x.bytes,
            sha256: x.sha256,
          },
        });
      });
    },
    async exportFailed(recordingId, dest, error, nextAttemptAt, giveUp) {
      await inTransaction(pool, async (c) => {
        await c.query(
          `INSERT INTO export_items (recording_id, destination, state, attempts, next_attempt_at, last_error)
           VALUES ($1, $2, $3, 1, $4, $5)
           ON CONFLICT (recording_id, destination) DO UPDATE SET state = EXCLUDED.state,
             attempts = export_items.attempts + 1, next_attempt_at = EXCLUDED.next_attempt_at,
             last_error = EXCLUDED.last_error`,
          [recordingId, dest, giveUp ? 'failed' : 'pending', nextAttemptAt, error.slice(0, 2000)],
        );
        const r = await c.query<{ attempts: number }>(
          'SELECT attempts FROM export_items WHERE recording_id = $1 AND destination = $2',
          [recordingId, dest],
        );
        await audit(c, {
          action: giveUp ? 'export.failed' : 'export.error',
          resource: 'recording',
          resourceId: recordingId,
          details: {
            destination: dest,
            attempt: r.rows[0]?.attempts ?? 1,
            error: error.slice(0, 500),
            nextAttemptAt: giveUp ? null : nextAttemptAt.toISOString(),
          },
        });
      });
    },
    async exportIndex(dest, day) {
      const r = await pool.query<{ index_row: Record<string, string> }>(
        `SELECT e.index_row FROM export_items e JOIN recordings r ON r.id = e.recording_id
         WHERE e.destination = $1 AND e.day = $2 AND e.state = 'done' ORDER BY e.exported_at, r.started_at, r.id`,
        [dest, day],
      );
      return r.rows.map((x) => x.index_row);
    },
    async exportIndexBytes(dest, day) {
      const r = await pool.query<{ bytes: string }>(
        'SELECT bytes FROM export_indexes WHERE destination = $1 AND day = $2',
        [dest, day],
      );
      return r.rows[0] ? Number(r.rows[0].bytes) : undefined;
    },
    async exportIndexWritten(dest, day, bytes) {
      await pool.query(
        `INSERT INTO export_indexes (destination, day, bytes) VALUES ($1, $2, $3)
         ON CONFLICT (destination, day) DO UPDATE SET bytes = EXCLUDED.bytes, updated_at = now()`,
        [dest, day, bytes],
      );
    },
  };
}
