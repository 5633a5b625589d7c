import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../tx.js';
import {
  audit,
  CUT_LOCK,
  purgeStored,
  toBatch,
  toItem,
  type BatchRow,
  type ItemRow,
  type RecordingsOf,
} from './common.js';
import type { OffloadRepository } from './types.js';

/** SFTP offload batches: cutting (one node at a time), the queue, per-file progress, failures with backoff, purge after transfer. */
export type BatchesRepository = Pick<
  OffloadRepository,
  | 'cutBatch'
  | 'nextBatch'
  | 'lastCut'
  | 'batchItems'
  | 'startBatch'
  | 'itemTransferred'
  | 'itemSkipped'
  | 'batchFailed'
  | 'batchDone'
  | 'purgeDue'
  | 'purgeRecording'
  | 'recentlyPurgedFiles'
  | 'listBatches'
>;

export function batchesRepository(pool: pg.Pool, recordings: RecordingsOf): BatchesRepository {
  return {
    async cutBatch(cutAt, since, render) {
      return inTransaction(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [CUT_LOCK]);
        const existing = await c.query<BatchRow>('SELECT * FROM offload_batches WHERE cut_at = $1', [cutAt]);
        if (existing.rows[0]) return { batch: toBatch(existing.rows[0]), created: false };
        const ids = await c.query<{ id: string }>(
          `SELECT r.id FROM recordings r
           WHERE r.state = 'stored' AND r.stored_at >= $1 AND r.stored_at < $2
             AND NOT EXISTS (SELECT 1 FROM offload_items i WHERE i.recording_id = r.id)
           ORDER BY r.stored_at, r.id`,
          [since, cutAt],
        );
        const recs = await recordings(
          c,
          ids.rows.map((x) => x.id),
        );
        const id = randomUUID();
        const out = render(id, recs);
        const b = await c.query<BatchRow>(
          `INSERT INTO offload_batches (id, cut_at, csv_name, csv, count) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
          [id, cutAt, out.csvName, out.csv, recs.length],
        );
        for (const r of recs)
          await c.query(
            'INSERT INTO offload_items (recording_id, batch_id, media_name) VALUES ($1, $2, $3)',
            [r.id, id, out.mediaName(r)],
          );
        await audit(c, {
          action: 'offload.batch.cut',
          resource: 'offload-batch',
          resourceId: id,
          details: { csv: out.csvName, count: recs.length, cutAt: cutAt.toISOString() },
        });
        return { batch: toBatch(b.rows[0] as BatchRow), created: true };
      });
    },
    async nextBatch() {
      const r = await pool.query<BatchRow>(
        `SELECT * FROM offload_batches WHERE state IN ('queued', 'transferring') ORDER BY seq LIMIT 1`,
      );
      return r.rows[0] ? toBatch(r.rows[0]) : undefined;
    },
    async lastCut() {
      const r = await pool.query<{ cut_at: Date }>('SELECT max(cut_at) AS cut_at FROM offload_batches');
      return r.rows[0]?.cut_at ?? undefined;
    },
    async batchItems(batchId) {
      const r = await pool.query<ItemRow>(
        'SELECT * FROM offload_items WHERE batch_id = $1 ORDER BY media_name',
        [batchId],
      );
      return r.rows.map(toItem);
    },
    async startBatch(batchId) {
      return inTransaction(pool, async (c) => {
        const r = await c.query<BatchRow>(
          `UPDATE offload_batches SET state = 'transferring', attempts = attempts + 1,
             started_at = coalesce(started_at, now()) WHERE id = $1 AND state <> 'done' RETURNING *`,
          [batchId],
        );
        const b = r.rows[0];
        if (!b) return false;
        await audit(c, {
          action: 'offload.batch.start',
          resource: 'offload-batch',
          resourceId: batchId,
          details: { csv: b.csv_name, count: b.count, attempt: b.attempts },
        });
        return true;
      });
    },
    async itemTransferred(recordingId, bytes, sha256) {
      await pool.query(
        'UPDATE offload_items SET bytes = $2, sha256 = $3, transferred_at = coalesce(transferred_at, now()) WHERE recording_id = $1',
        [recordingId, bytes, sha256],
      );
    },
    async itemSkipped(recordingId, reason) {
      await inTransaction(pool, async (c) => {
        const r = await c.query<{ batch_id: string; media_name: string }>(
          'UPDATE offload_items SET skipped = $2 WHERE recording_id = $1 AND skipped IS NULL RETURNING batch_id, media_name',
          [recordingId, reason],
        );
        const item = r.rows[0];
        if (!item) return;
        // The CSV names it but its media cannot go: a compliance archive wants to know why.
        await audit(c, {
          action: 'offload.skip',
          resource: 'recording',
          resourceId: recordingId,
          details: { batch: item.batch_id, file: item.media_name, reason },
        });
      });
    },
    async batchFailed(batchId, error, nextAttemptAt, giveUp) {
      await inTransaction(pool, async (c) => {
        const r = await c.query<BatchRow>(
          `UPDATE offload_batches SET state = $4, last_error = $2, next_attempt_at = $3
           WHERE id = $1 AND state <> 'done' RETURNING *`,
          [batchId, error.slice(0, 2000), nextAttemptAt, giveUp ? 'failed' : 'queued'],
        );
        const b = r.rows[0];
        if (!b) return;
        await audit(c, {
          action: giveUp ? 'offload.batch.failed' : 'offload.batch.error',
          resource: 'offload-batch',
          resourceId: batchId,
          details: {
            csv: b.csv_name,
            count: b.count,
            attempt: b.attempts,
            error: error.slice(0, 500),
            nextAttemptAt: giveUp ? null : nextAttemptAt.toISOString(),
          },
        });
      });
    },
    async batchDone(batchId, manifest) {
      await inTransaction(pool, async (c) => {
        const r = await c.query<BatchRow>(
          `UPDATE offload_batches SET state = 'done', manifest = $2::jsonb, finished_at = now(), last_error = NULL
           WHERE id = $1 AND state <> 'done' RETURNING *`,
          [batchId, JSON.stringify(manifest)],
        );
        const b = r.rows[0];
        if (!b) return;
        await audit(c, {
          action: 'offload.batch',
          resource: 'offload-batch',
          resourceId: batchId,
          details: {
            csv: b.csv_name,
            count: b.count,
            attempts: b.attempts,
            startedAt: b.started_at,
            finishedAt: b.finished_at,
            manifest,
          },
        });
      });
    },
    async purgeDue(limit) {
      const r = await pool.query<ItemRow>(
        `SELECT i.* FROM offload_items i JOIN offload_batches b ON b.id = i.batch_id
         WHERE b.state = 'done' AND i.transferred_at IS NOT NULL AND i.purged_at IS NULL
         ORDER BY b.seq, i.media_name LIMIT $1`,
        [limit],
      );
      return r.rows.map(toItem);
    },
    async purgeRecording(recordingId, batchId) {
      return inTransaction(pool, async (c) => {
        await c.query('UPDATE offload_items SET purged_at = now() WHERE recording_id = $1', [recordingId]);
        return purgeStored(c, recordingId, 'offload.purge', { batch: batchId });
      });
    },
    async recentlyPurgedFiles(since) {
      const r = await pool.query<{ recording_id: string; path: string }>(
        `SELECT f.recording_id, f.path FROM offload_items i JOIN recordings r ON r.id = i.recording_id AND r.state = 'purged'
         JOIN files f ON f.recording_id = i.recording_id WHERE i.purged_at >= $1`,
        [since],
      );
      return r.rows.map((x) => ({ recordingId: x.recording_id, path: x.path }));
    },
    async listBatches(limit) {
      const r = await pool.query<BatchRow>('SELECT * FROM offload_batches ORDER BY seq DESC LIMIT $1', [
        limit,
      ]);
      return r.rows.map(toBatch);
    },
  };
}
