import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from './tx.js';

/**
 * Delivery state (issue 7): SFTP offload batches, MP3 export, email notifications, per-target
 * health. The delivery code (src/delivery) decides what to send; this module is its SQL. Audit
 * entries are written in the same transaction as the state change they record.
 */

export interface DeliveryArtifact {
  path: string;
  bytes: number;
  sha256Plain: string;
  keyFingerprint: string;
}

/** A stored recording with what every delivery format needs. */
export interface DeliveryRecording {
  id: string;
  /** 'stored' unless purged (retention, offload) or deleted since. */
  state: string;
  callId: string;
  sessionId: string | null;
  startedAt: Date;
  durationMs: number | null;
  storedAt: Date;
  direction: string | null;
  callerNumber: string;
  callerName: string;
  calleeNumber: string;
  calleeName: string;
  /** The recorded user: a user whose numbers include the caller's (first) or the callee's. */
  user: {
    id: string;
    username: string;
    displayName: string;
    group: string | null;
    email: string | null;
    /** True when the user is the caller (From), false when the callee (To). */
    isCaller: boolean;
  } | null;
  wav: DeliveryArtifact | null;
  mp3: DeliveryArtifact | null;
}

export interface OffloadBatch {
  id: string;
  seq: number;
  cutAt: Date;
  csvName: string;
  csv: string;
  count: number;
  /** 'failed' after the configured number of attempts, until retried by hand. */
  state: 'queued' | 'transferring' | 'done' | 'failed';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  manifest: unknown;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface OffloadItem {
  recordingId: string;
  batchId: string;
  mediaName: string;
  bytes: number | null;
  sha256: string | null;
  transferredAt: Date | null;
  skipped: string | null;
  purgedAt: Date | null;
}

export type ExportDestination = 'primary' | 'secondary';

export interface ExportItem {
  recordingId: string;
  destination: ExportDestination;
  state: 'pending' | 'done' | 'failed';
  path: string | null;
  day: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  exportedAt: Date | null;
  indexRow: Record<string, string> | null;
}

export interface NotificationFailure {
  recordingId: string;
  userId: string;
  email: string;
  state: 'pending' | 'failed';
  attempts: number;
  lastError: string;
  nextAttemptAt: Date | null;
}

/** What a manual retry put back in the queue. */
export interface RetryCounts {
  offload: number;
  export: number;
  notifications: number;
}

export interface PendingNotification {
  recordingId: string;
  userId: string;
  email: string;
  attach: boolean;
  attempts: number;
}

export interface TargetState {
  name: string;
  ok: boolean;
  lastOkAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Consecutive failures (0 when ok). */
  failures: number;
  /** When an unreachable target is tried again (null when ok). */
  nextAttemptAt: Date | null;
}

export interface DeliveryStatus {
  targets: TargetState[];
  offload: { batches: OffloadBatch[]; queued: number; failed: number };
  export: { done: number; pending: number; failed: number; recentFailures: ExportItem[] };
  notifications: {
    sent: number;
    pending: number;
    failed: number;
    recentFailures: NotificationFailure[];
  };
}

/** A system audit entry (actor 'delivery'). */
interface AuditNote {
  action: string;
  resource: string;
  resourceId: string;
  details: Record<string, unknown>;
}

export interface OffloadRepository {
  /** When delivery feature `name` was first enabled (set now on the first call). */
  cursor(name: string): Promise<Date>;
  recordings(ids: string[]): Promise<DeliveryRecording[]>;

  /**
   * Cuts the batch of interval boundary `cutAt` once (a second call for the same boundary, from
   * any node, returns the existing batch): every stored recording since `since` not yet in a batch
   * goes into it. `render` builds the CSV from the recordings (called inside the transaction).
   */
  cutBatch(
    cutAt: Date,
    since: Date,
    render: (
      batchId: string,
      recs: DeliveryRecording[],
    ) => { csvName: string; csv: string; mediaName: (r: DeliveryRecording) => string },
  ): Promise<{ batch: OffloadBatch; created: boolean }>;
  /** The oldest batch neither done nor failed (transfers go strictly in order). */
  nextBatch(): Promise<OffloadBatch | undefined>;
  lastCut(): Promise<Date | undefined>;
  batchItems(batchId: string): Promise<OffloadItem[]>;
  /** Counts an attempt and audits its start; false when the batch is done already. */
  startBatch(batchId: string): Promise<boolean>;
  itemTransferred(recordingId: string, bytes: number, sha256: string): Promise<void>;
  itemSkipped(recordingId: string, reason: string): Promise<void>;
  /** Records a failed attempt (audited); with `giveUp` the batch becomes 'failed'. */
  batchFailed(batchId: string, error: string, nextAttemptAt: Date, giveUp: boolean): Promise<void>;
  batchDone(batchId: string, manifest: unknown): Promise<void>;
  /** Transferred items of done batches not yet purged (purge after confirmed transfer). */
  purgeDue(limit: number): Promise<OffloadItem[]>;
  /** Marks the recording purged (unless preserved) with an audit entry; returns its file paths to wipe. */
  purgeRecording(recordingId: string, batchId: string): Promise<string[] | undefined>;
  /** Files of recordings purged after offload since `since` (to finish wipes a crash interrupted). */
  recentlyPurgedFiles(since: Date): Promise<string[]>;
  listBatches(limit: number): Promise<OffloadBatch[]>;

  /** Stored recordings since `since` not yet exported to `dest` and due (not waiting for a retry). */
  exportDue(
    dest: ExportDestination,
    since: Date,
    limit: number,
  ): Promise<{ id: string; path: string | null; attempts: number }[]>;
  exportPath(recordingId: string, dest: ExportDestination, path: string, day: string): Promise<void>;
  exportDone(
    recordingId: string,
    dest: ExportDestination,
    r: { bytes: number; sha256: string; indexRow: Record<string, string>; target: string },
  ): Promise<void>;
  exportFailed(
    recordingId: string,
    dest: ExportDestination,
    error: string,
    nextAttemptAt: Date,
    giveUp: boolean,
  ): Promise<void>;
  /** Index rows of a day's exported recordings, in start order. */
  exportIndex(dest: ExportDestination, day: string): Promise<Record<string, string>[]>;

  /** Creates/updates a subscription by username; false when there is no such user. */
  subscribe(username: string, email: string, attach: boolean, enabled: boolean): Promise<boolean>;
  /** Queues one notification per subscribed recorded user of every recording stored since `since`; returns the due ones. */
  notificationsDue(since: Date, limit: number): Promise<PendingNotification[]>;
  notificationSent(n: PendingNotification, r: { attachmentBytes: number; messageId: string }): Promise<void>;
  notificationFailed(
    n: PendingNotification,
    error: string,
    nextAttemptAt: Date,
    giveUp: boolean,
  ): Promise<void>;
  /**
   * Re-queues, due now and with a fresh attempt budget, every failed offload batch, export item
   * and notification, and those waiting for a retry after an error; unreachable targets are tried
   * again at once. Audited ('delivery.requeue').
   */
  retryFailed(actor?: string): Promise<RetryCounts>;
  /** Whether target `name` may be tried now (not waiting for its backoff). */
  targetDue(name: string): Promise<boolean>;

  /** Runs `fn` holding a cluster-wide lock named `name` (one node at a time); undefined when another node holds it. */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  targetOk(name: string): Promise<void>;
  /**
   * Records a failure of target `name`; it is tried again after `backoff(failures)` ms. Audited
   * when the target goes down ('delivery.target.down'); targetOk audits it coming back.
   */
  targetError(name: string, error: string, backoff?: (failures: number) => number): Promise<void>;
  status(): Promise<DeliveryStatus>;
}

const AUDIT_SQL = `INSERT INTO audit (id, at, actor, actor_role, ip, via, action, resource, resource_id, details, prev_hash, hash)
  VALUES (0, now(), $5, 'system', '', 'system', $1, $2, $3, $4::jsonb, '', '')`;

async function audit(q: pg.Pool | pg.PoolClient, a: AuditNote, actor = 'delivery'): Promise<void> {
  await q.query(AUDIT_SQL, [a.action, a.resource, a.resourceId, JSON.stringify(a.details), actor]);
}

/** The recording view: caller/callee from the catalogue columns, else the first two participants. */
const VIEW = `
WITH base AS (
  SELECT r.id, r.state, r.call_id, r.session_id, r.started_at, r.duration_ms, r.stored_at, r.direction,
         coalesce(r.caller_number, nullif(srs_aor_number(p1.aor), ''), '') AS caller_number,
         coalesce(r.caller_name, p1.name, '') AS caller_name,
         coalesce(r.callee_number, nullif(srs_aor_number(p2.aor), ''), '') AS callee_number,
         coalesce(r.callee_name, p2.name, '') AS callee_name
  FROM recordings r
  LEFT JOIN participants p1 ON p1.recording_id = r.id AND p1.ordinal = 1
  LEFT JOIN participants p2 ON p2.recording_id = r.id AND p2.ordinal = 2
  WHERE r.id = ANY($1::uuid[])
)
SELECT b.*,
  (SELECT json_build_object('id', u.id, 'username', u.username, 'displayName', u.display_name,
            'group', u.group_name, 'email', s.email, 'isCaller', lower(b.caller_number) = ANY (u.numbers))
     FROM users u LEFT JOIN notification_subscriptions s ON s.user_id = u.id
     WHERE NOT u.disabled AND (lower(b.caller_number) = ANY (u.numbers) OR lower(b.callee_number) = ANY (u.numbers))
     ORDER BY (lower(b.caller_number) = ANY (u.numbers)) DESC, u.username LIMIT 1) AS usr,
  (SELECT json_build_object('path', f.path, 'bytes', f.bytes, 'sha256Plain', f.sha256_plain,
            'keyFingerprint', f.key_fingerprint) FROM files f WHERE f.recording_id = b.id AND f.kind = 'wav') AS wav,
  (SELECT json_build_object('path', f.path, 'bytes', f.bytes, 'sha256Plain', f.sha256_plain,
            'keyFingerprint', f.key_fingerprint) FROM files f WHERE f.recording_id = b.id AND f.kind = 'mp3') AS mp3
FROM base b ORDER BY b.stored_at NULLS LAST, b.started_at, b.id`;

interface ViewRow {
  id: string;
  state: string;
  call_id: string;
  session_id: string | null;
  started_at: Date;
  duration_ms: string | null;
  stored_at: Date | null;
  direction: string | null;
  caller_number: string;
  caller_name: string;
  callee_number: string;
  callee_name: string;
  usr: DeliveryRecording['user'];
  wav: DeliveryArtifact | null;
  mp3: DeliveryArtifact | null;
}

const toRecording = (r: ViewRow): DeliveryRecording => ({
  id: r.id,
  state: r.state,
  callId: r.call_id,
  sessionId: r.session_id,
  startedAt: r.started_at,
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  storedAt: r.stored_at ?? r.started_at,
  direction: r.direction,
  callerNumber: r.caller_number,
  callerName: r.caller_name,
  calleeNumber: r.callee_number,
  calleeName: r.callee_name,
  user: r.usr,
  wav: r.wav ? { ...r.wav, bytes: Number(r.wav.bytes) } : null,
  mp3: r.mp3 ? { ...r.mp3, bytes: Number(r.mp3.bytes) } : null,
});

interface BatchRow {
  id: string;
  seq: string;
  cut_at: Date;
  csv_name: string;
  csv: string;
  count: number;
  state: OffloadBatch['state'];
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  manifest: unknown;
  started_at: Date | null;
  finished_at: Date | null;
}

const toBatch = (r: BatchRow): OffloadBatch => ({
  id: r.id,
  seq: Number(r.seq),
  cutAt: r.cut_at,
  csvName: r.csv_name,
  csv: r.csv,
  count: r.count,
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  manifest: r.manifest,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

interface ItemRow {
  recording_id: string;
  batch_id: string;
  media_name: string;
  bytes: string | null;
  sha256: string | null;
  transferred_at: Date | null;
  skipped: string | null;
  purged_at: Date | null;
}

const toItem = (r: ItemRow): OffloadItem => ({
  recordingId: r.recording_id,
  batchId: r.batch_id,
  mediaName: r.media_name,
  bytes: r.bytes === null ? null : Number(r.bytes),
  sha256: r.sha256,
  transferredAt: r.transferred_at,
  skipped: r.skipped,
  purgedAt: r.purged_at,
});

interface ExportRow {
  recording_id: string;
  destination: ExportDestination;
  state: ExportItem['state'];
  path: string | null;
  day: string | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date;
  exported_at: Date | null;
  index_row: Record<string, string> | null;
}

const toExport = (r: ExportRow): ExportItem => ({
  recordingId: r.recording_id,
  destination: r.destination,
  state: r.state,
  path: r.path,
  day: r.day,
  attempts: r.attempts,
  lastError: r.last_error,
  nextAttemptAt: r.state === 'pending' ? r.next_attempt_at : null,
  exportedAt: r.exported_at,
  indexRow: r.index_row,
});

/** Serialises batch cutting across nodes (pg_advisory_xact_lock key). */
const CUT_LOCK = 78_660_071;
/** One delivery runner per feature across nodes (session advisory lock, key pair with hashtext(name)). */
const LEADER_LOCK = 78_660_070;

export function offloadRepository(pool: pg.Pool): OffloadRepository {
  const recordings = async (q: pg.Pool | pg.PoolClient, ids: string[]) =>
    ids.length === 0 ? [] : (await q.query<ViewRow>(VIEW, [ids])).rows.map(toRecording);

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
        const upd = await c.query(
          `UPDATE recordings SET state = 'purged', purged_at = now(), updated_at = now()
           WHERE id = $1 AND state = 'stored' AND preserved_at IS NULL`,
          [recordingId],
        );
        await c.query('UPDATE offload_items SET purged_at = now() WHERE recording_id = $1', [recordingId]);
        if (upd.rowCount !== 1) return undefined;
        const files = await c.query<{ path: string; kind: string }>(
          'SELECT path, kind FROM files WHERE recording_id = $1 ORDER BY kind',
          [recordingId],
        );
        await audit(c, {
          action: 'offload.purge',
          resource: 'recording',
          resourceId: recordingId,
          details: { batch: batchId, files: files.rows },
        });
        return files.rows.map((f) => f.path);
      });
    },
    async recentlyPurgedFiles(since) {
      const r = await pool.query<{ path: string }>(
        `SELECT f.path FROM offload_items i JOIN recordings r ON r.id = i.recording_id AND r.state = 'purged'
         JOIN files f ON f.recording_id = i.recording_id WHERE i.purged_at >= $1`,
        [since],
      );
      return r.rows.map((x) => x.path);
    },
    async listBatches(limit) {
      const r = await pool.query<BatchRow>('SELECT * FROM offload_batches ORDER BY seq DESC LIMIT $1', [
        limit,
      ]);
      return r.rows.map(toBatch);
    },

    async exportDue(dest, since, limit) {
      const r = await pool.query<{ id: string; path: string | null; attempts: number | null }>(
        `SELECT r.id, e.path, e.attempts FROM recordings r
         LEFT JOIN export_items e ON e.recording_id = r.id AND e.destination = $1
         WHERE r.state = 'stored' AND r.stored_at >= $2
           AND (e.recording_id IS NULL OR (e.state = 'pending' AND e.next_attempt_at <= now()))
         ORDER BY r.stored_at, r.id LIMIT $3`,
        [dest, since, limit],
      );
      return r.rows.map((x) => ({ id: x.id, path: x.path, attempts: x.attempts ?? 0 }));
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
         WHERE e.destination = $1 AND e.day = $2 AND e.state = 'done' ORDER BY r.started_at, r.id`,
        [dest, day],
      );
      return r.rows.map((x) => x.index_row);
    },

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
    async notificationsDue(since, limit) {
      await pool.query(
        `INSERT INTO notifications (recording_id, user_id, email, state)
         SELECT r.id, u.id, s.email, 'pending'
         FROM recordings r
         JOIN participants p ON p.recording_id = r.id AND p.ordinal <= 2
         JOIN users u ON NOT u.disabled AND srs_aor_number(p.aor) = ANY (u.numbers)
         JOIN notification_subscriptions s ON s.user_id = u.id AND s.enabled
         WHERE r.state = 'stored' AND r.stored_at >= $1
           AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.recording_id = r.id AND n.user_id = u.id)
         ON CONFLICT DO NOTHING`,
        [since],
      );
      const r = await pool.query<{
        recording_id: string;
        user_id: string;
        email: string;
        attach: boolean;
        attempts: number;
      }>(
        `SELECT n.recording_id, n.user_id, n.email, coalesce(s.attach, false) AS attach, n.attempts
         FROM notifications n LEFT JOIN notification_subscriptions s ON s.user_id = n.user_id
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
             attempts = attempts + 1, last_error = NULL
           WHERE recording_id = $1 AND user_id = $2 AND state <> 'sent'`,
          [n.recordingId, n.userId, x.attachmentBytes, x.messageId],
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
        const t = await c.query<{ name: string }>(
          `UPDATE delivery_targets SET next_attempt_at = now() WHERE NOT ok RETURNING name`,
        );
        const counts = { offload: o.rowCount ?? 0, export: e.rowCount ?? 0, notifications: n.rowCount ?? 0 };
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
            },
          },
          actor,
        );
        return counts;
      });
    },
    async targetDue(name) {
      const r = await pool.query<{ due: boolean }>(
        `SELECT ok OR next_attempt_at IS NULL OR next_attempt_at <= now() AS due
         FROM delivery_targets WHERE name = $1`,
        [name],
      );
      return r.rows[0]?.due ?? true;
    },

    async exclusive(name, fn) {
      const c = await pool.connect();
      try {
        const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
          LEADER_LOCK,
          name,
        ]);
        if (!r.rows[0]?.ok) return undefined;
        try {
          return await fn();
        } finally {
          await c
            .query('SELECT pg_advisory_unlock($1, hashtext($2))', [LEADER_LOCK, name])
            .catch(() => undefined);
        }
      } finally {
        c.release();
      }
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
        'SELECT state, count(*) AS n FROM export_items GROUP BY state',
      );
      const exFail = await pool.query<ExportRow>(
        `SELECT * FROM export_items WHERE last_error IS NOT NULL AND state <> 'done' ORDER BY next_attempt_at DESC LIMIT 20`,
      );
      const no = await pool.query<{ state: string; n: string }>(
        'SELECT state, count(*) AS n FROM notifications GROUP BY state',
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
      };
    },
  };
}
