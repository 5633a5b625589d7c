import type pg from 'pg';
import type {
  AuditNote,
  DeliveryArtifact,
  DeliveryRecording,
  ExportDestination,
  ExportItem,
  OffloadBatch,
  OffloadItem,
} from './types.js';

/** What the delivery repositories share: the audit insert, the recording view, row mappers, lock keys. */

export const AUDIT_SQL = `INSERT INTO audit (id, at, actor, actor_role, ip, via, action, resource, resource_id, details, prev_hash, hash)
  VALUES (0, now(), $5, 'system', '', 'system', $1, $2, $3, $4::jsonb, '', '')`;

/**
 * Where a feature's scan for new stored recordings starts (migration 043): where its last pass
 * left off, never before the feature's cursor `since`. Locks the scan's row until the caller's
 * transaction ends.
 */
export async function scanFrom(c: pg.PoolClient, name: string, since: Date): Promise<Date> {
  const r = await c.query<{ from_ts: Date }>(
    `INSERT INTO delivery_scans (name, scanned_to) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
     RETURNING greatest(delivery_scans.scanned_to, $2) AS from_ts`,
    [name, since],
  );
  return (r.rows[0] as { from_ts: Date }).from_ts;
}

/**
 * Moves a feature's scan to 10 minutes before this transaction began, or to `upTo` when that is
 * earlier (a recording still to be given an item); never back.
 */
export async function scanDone(c: pg.PoolClient, name: string, upTo?: Date): Promise<void> {
  await c.query(
    `UPDATE delivery_scans SET scanned_to = greatest(scanned_to,
       least(now() - interval '10 minutes', coalesce($2::timestamptz, 'infinity')))
     WHERE name = $1`,
    [name, upTo ?? null],
  );
}

export async function audit(q: pg.Pool | pg.PoolClient, a: AuditNote, actor = 'delivery'): Promise<void> {
  await q.query(AUDIT_SQL, [a.action, a.resource, a.resourceId, JSON.stringify(a.details), actor]);
}

/**
 * Purge after a confirmed transfer: marks a stored recording purged unless it is preserved (legal
 * hold), audits `action` with its files and returns their paths to wipe; undefined when it was not
 * purged. Runs in the caller's transaction.
 */
export async function purgeStored(
  c: pg.PoolClient,
  recordingId: string,
  action: string,
  details: Record<string, unknown> = {},
): Promise<string[] | undefined> {
  const upd = await c.query(
    `UPDATE recordings SET state = 'purged', purged_at = now(), updated_at = now()
     WHERE id = $1 AND state = 'stored' AND preserved_at IS NULL`,
    [recordingId],
  );
  if (upd.rowCount !== 1) return undefined;
  const files = await c.query<{ path: string; kind: string }>(
    'SELECT path, kind FROM files WHERE recording_id = $1 ORDER BY kind',
    [recordingId],
  );
  await audit(c, {
    action,
    resource: 'recording',
    resourceId: recordingId,
    details: { ...details, files: files.rows },
  });
  return files.rows.map((f) => f.path);
}

/** The recording view: caller/callee from the catalogue columns, else the first two participants. */
export const VIEW = `
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
  -- The recorded user: who held the caller's (else the callee's) number at the call, with their
  -- group then (recording_owners); a deleted user by their username.
  (SELECT json_build_object('id', o.user_id, 'username', o.username, 'displayName', coalesce(u.display_name, ''),
            'group', o.group_name, 'email', s.email, 'isCaller', o.number = lower(b.caller_number))
     FROM recording_owners o LEFT JOIN users u ON u.id = o.user_id
     LEFT JOIN notification_subscriptions s ON s.user_id = o.user_id
     WHERE o.recording_id = b.id AND u.disabled IS NOT TRUE
       AND o.number IN (lower(b.caller_number), lower(b.callee_number))
     ORDER BY (o.number = lower(b.caller_number)) DESC, o.username LIMIT 1) AS usr,
  (SELECT json_build_object('path', f.path, 'bytes', f.bytes, 'sha256Plain', f.sha256_plain,
            'keyFingerprint', f.key_fingerprint) FROM files f WHERE f.recording_id = b.id AND f.kind = 'wav') AS wav,
  (SELECT json_build_object('path', f.path, 'bytes', f.bytes, 'sha256Plain', f.sha256_plain,
            'keyFingerprint', f.key_fingerprint) FROM files f WHERE f.recording_id = b.id AND f.kind = 'mp3') AS mp3,
  (SELECT coalesce(json_object_agg(v.field, v.value), '{}'::json) FROM recording_fields v
     WHERE v.recording_id = b.id) AS fields
FROM base b ORDER BY b.stored_at NULLS LAST, b.started_at, b.id`;

export interface ViewRow {
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
  fields: Record<string, string> | null;
}

export const toRecording = (r: ViewRow): DeliveryRecording => ({
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
  fields: r.fields ?? {},
});

export interface BatchRow {
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

export const toBatch = (r: BatchRow): OffloadBatch => ({
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

export interface ItemRow {
  recording_id: string;
  batch_id: string;
  media_name: string;
  bytes: string | null;
  sha256: string | null;
  transferred_at: Date | null;
  skipped: string | null;
  purged_at: Date | null;
}

export const toItem = (r: ItemRow): OffloadItem => ({
  recordingId: r.recording_id,
  batchId: r.batch_id,
  mediaName: r.media_name,
  bytes: r.bytes === null ? null : Number(r.bytes),
  sha256: r.sha256,
  transferredAt: r.transferred_at,
  skipped: r.skipped,
  purgedAt: r.purged_at,
});

export interface ExportRow {
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

export const toExport = (r: ExportRow): ExportItem => ({
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
export const CUT_LOCK = 78_660_071;
/** One delivery runner per feature across nodes (session advisory lock, key pair with hashtext(name)). */
export const LEADER_LOCK = 78_660_070;

/** Reads the delivery view of these recordings (none for no ids). */
export type RecordingsOf = (q: pg.Pool | pg.PoolClient, ids: string[]) => Promise<DeliveryRecording[]>;

export function recordingsOf(): RecordingsOf {
  return async (q, ids) =>
    ids.length === 0 ? [] : (await q.query<ViewRow>(VIEW, [ids])).rows.map(toRecording);
}
