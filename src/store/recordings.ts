import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import type {
  ListOptions,
  NewRecording,
  ParticipantRecord,
  RecordingFile,
  RecordingRow,
  RecordingState,
  StreamRecord,
} from './types.js';

/** Catalogue of recordings. One statement per function, so each change is atomic on its own. */
export interface RecordingsRepository {
  /** Inserts the recording with its participants and streams. A second call with the same id does nothing. */
  create(rec: NewRecording): Promise<void>;
  markEnded(id: string, endedAt: Date, durationMs: number, mediaStats: unknown): Promise<void>;
  /** Moves a recording that is not yet stored to 'processing'. */
  markProcessing(id: string): Promise<void>;
  /** Records (or replaces) the artifact of this kind: at most one row per recording and kind. */
  addFile(id: string, file: RecordingFile): Promise<void>;
  markStored(id: string): Promise<void>;
  /** Marks a recording that is not stored as failed, keeping the error text. */
  markFailed(id: string, error: string): Promise<void>;
  /** Newest first (by started_at). */
  list(options?: ListOptions): Promise<RecordingRow[]>;
  get(id: string): Promise<RecordingRow | undefined>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

const INSERT = `
WITH r AS (
  INSERT INTO recordings (id, session_id, call_id, src_address, started_at, metadata_xml, state)
  VALUES ($1, $2, $3, $4, $5, $6, 'recording')
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), p AS (
  INSERT INTO participants (recording_id, ordinal, participant_id, aor, name, sends_labels)
  SELECT r.id, e.ord, e.v->>'participantId', e.v->>'aor', e.v->>'name',
         ARRAY(SELECT jsonb_array_elements_text(COALESCE(e.v->'sendsLabels', '[]'::jsonb)))
  FROM r, jsonb_array_elements($7::jsonb) WITH ORDINALITY AS e(v, ord)
)
INSERT INTO streams (recording_id, ordinal, label, stream_id, leg_id, codec, port)
SELECT r.id, e.ord, e.v->>'label', e.v->>'streamId', e.v->>'legId', e.v->>'codec', (e.v->>'port')::int
FROM r, jsonb_array_elements($8::jsonb) WITH ORDINALITY AS e(v, ord)`;

const SELECT = `
SELECT r.id, r.session_id, r.call_id, r.src_address, r.started_at, r.ended_at, r.duration_ms, r.state,
       r.error, r.metadata_xml, r.media_stats,
       COALESCE((SELECT json_agg(json_build_object('participantId', p.participant_id, 'aor', p.aor,
                   'name', p.name, 'sendsLabels', p.sends_labels) ORDER BY p.ordinal)
                 FROM participants p WHERE p.recording_id = r.id), '[]') AS participants,
       COALESCE((SELECT json_agg(json_build_object('label', s.label, 'streamId', s.stream_id,
                   'legId', s.leg_id, 'codec', s.codec, 'port', s.port) ORDER BY s.ordinal)
                 FROM streams s WHERE s.recording_id = r.id), '[]') AS streams,
       COALESCE((SELECT json_agg(json_build_object('kind', f.kind, 'path', f.path, 'bytes', f.bytes,
                   'sha256Plain', f.sha256_plain, 'sha256Cipher', f.sha256_cipher,
                   'keyFingerprint', f.key_fingerprint) ORDER BY f.kind)
                 FROM files f WHERE f.recording_id = r.id), '[]') AS files
FROM recordings r`;

interface Row {
  id: string;
  session_id: string | null;
  call_id: string;
  src_address: string;
  started_at: Date;
  ended_at: Date | null;
  duration_ms: string | number | null;
  state: RecordingState;
  error: string | null;
  metadata_xml: string | null;
  media_stats: unknown;
  participants: ParticipantRecord[];
  streams: StreamRecord[];
  files: RecordingFile[];
}

function toRow(r: Row): RecordingRow {
  return {
    id: r.id,
    sessionId: r.session_id,
    callId: r.call_id,
    srcAddress: r.src_address,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    state: r.state,
    error: r.error,
    metadataXml: r.metadata_xml,
    mediaStats: r.media_stats,
    participants: r.participants,
    streams: r.streams,
    files: r.files,
  };
}

export function recordingsRepository(pool: pg.Pool): RecordingsRepository {
  const mustChange = (res: pg.QueryResult, id: string, what: string) => {
    if (res.rowCount === 0)
      throw new NotFoundError(`recording ${id} not found (or already stored) for ${what}`);
  };
  return {
    async create(rec) {
      await pool.query(INSERT, [
        rec.id,
        rec.sessionId,
        rec.callId,
        rec.srcAddress,
        rec.startedAt,
        rec.metadataXml,
        JSON.stringify(rec.participants),
        JSON.stringify(rec.streams),
      ]);
    },
    async markEnded(id, endedAt, durationMs, mediaStats) {
      const res = await pool.query(
        `UPDATE recordings SET ended_at = $2, duration_ms = $3, media_stats = $4::jsonb, updated_at = now()
         WHERE id = $1`,
        [id, endedAt, Math.round(durationMs), mediaStats === undefined ? null : JSON.stringify(mediaStats)],
      );
      mustChange(res, id, 'markEnded');
    },
    async markProcessing(id) {
      await pool.query(
        `UPDATE recordings SET state = 'processing', updated_at = now() WHERE id = $1 AND state <> 'stored'`,
        [id],
      );
    },
    async addFile(id, f) {
      await pool.query(
        `INSERT INTO files (recording_id, kind, path, bytes, sha256_plain, sha256_cipher, key_fingerprint)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (recording_id, kind) DO UPDATE SET path = EXCLUDED.path, bytes = EXCLUDED.bytes,
           sha256_plain = EXCLUDED.sha256_plain, sha256_cipher = EXCLUDED.sha256_cipher,
           key_fingerprint = EXCLUDED.key_fingerprint, created_at = now()`,
        [id, f.kind, f.path, f.bytes, f.sha256Plain, f.sha256Cipher, f.keyFingerprint],
      );
    },
    async markStored(id) {
      const res = await pool.query(
        `UPDATE recordings SET state = 'stored', error = NULL, updated_at = now() WHERE id = $1`,
        [id],
      );
      mustChange(res, id, 'markStored');
    },
    async markFailed(id, error) {
      await pool.query(
        `UPDATE recordings SET state = 'failed', error = $2, updated_at = now() WHERE id = $1 AND state <> 'stored'`,
        [id, error],
      );
    },
    async list(options = {}) {
      const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
      const offset = Math.max(0, options.offset ?? 0);
      const res = await pool.query<Row>(`${SELECT} ORDER BY r.started_at DESC, r.id LIMIT $1 OFFSET $2`, [
        limit,
        offset,
      ]);
      return res.rows.map(toRow);
    },
    async get(id) {
      if (!isUuid(id)) return undefined;
      const res = await pool.query<Row>(`${SELECT} WHERE r.id = $1`, [id]);
      const row = res.rows[0];
      return row ? toRow(row) : undefined;
    },
  };
}
