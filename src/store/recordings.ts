import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import { groupCommit } from './group-commit.js';
import { SEARCH_TIMEOUT_MS, withSearchTimeout } from './recording-search.js';
import { SELECT, toRow, type Row } from './recording-rows.js';
import { isUuid } from './uuid.js';
import type {
  EventRecord,
  ListOptions,
  NewRecording,
  ParticipantRecord,
  RecordingFile,
  RecordingRow,
  RecordingState,
  StreamRecord,
} from './types.js';

export { groupCommit } from './group-commit.js';
export { beginRun } from './recording-rows.js';
export { isUuid } from './uuid.js';

/** Catalogue of recordings. One statement per function, so each change is atomic on its own. */
export interface RecordingsRepository {
  /** Inserts the recording with its participants and streams. A second call with the same id does nothing. */
  create(rec: NewRecording): Promise<void>;
  markEnded(id: string, endedAt: Date, durationMs: number, mediaStats: unknown): Promise<void>;
  /** Moves a recording that is not yet stored (nor purged) to 'processing'. */
  markProcessing(id: string): Promise<void>;
  /**
   * The finalize job's start, in one statement: the recording as it was (its state tells a first
   * attempt from a retry), and marked processing unless it is already stored or purged (a purged
   * recording stays purged: its job only wipes a spool left behind).
   */
  beginProcessing(id: string): Promise<RecordingRow | undefined>;
  /** Records (or replaces) the artifact of this kind: at most one row per recording and kind. */
  addFile(id: string, file: RecordingFile): Promise<void>;
  markStored(id: string): Promise<void>;
  /** Marks a recording that is neither stored nor purged as failed, keeping the error text. */
  markFailed(id: string, error: string): Promise<void>;
  /** Ids of recordings in this state, oldest first (startup recovery looks for 'recording'). */
  listIdsByState(state: RecordingState): Promise<string[]>;
  /** Ends a recording whose process died mid-call: ended_at/duration from its spool, flagged interrupted. */
  markInterrupted(id: string, endedAt: Date, durationMs: number, mediaStats: unknown): Promise<void>;
  /** Appends events (pause/resume, streams, participants, metadata versions) to a recording. */
  addEvents(id: string, events: EventRecord[]): Promise<void>;
  /** Inserts or replaces stream rows by ordinal (streams added or re-described during the call). */
  upsertStreams(id: string, streams: (StreamRecord & { ordinal: number })[]): Promise<void>;
  /** Replaces the participant list with what the latest (merged) metadata says. */
  replaceParticipants(id: string, participants: ParticipantRecord[]): Promise<void>;
  /** Sets the interaction of a recording that has none (the first group named wins). */
  setInteraction(id: string, interactionId: string): Promise<void>;
  /** Newest first (by started_at); stopped past the search's time limit (a QueryTimeoutError). */
  list(options?: ListOptions): Promise<RecordingRow[]>;
  get(id: string): Promise<RecordingRow | undefined>;
}

/**
 * INSERT of several recordings at once ($1: a JSON array of NewRecording-shaped objects), with
 * their participants and streams; a recording whose id exists is left alone.
 */
const INSERT_MANY = `
WITH x AS (
  SELECT e.v, e.ord FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, ord)
), r AS (
  INSERT INTO recordings (id, session_id, call_id, src_address, started_at, metadata_xml, interaction_id, direction, state)
  SELECT (x.v->>'id')::uuid, x.v->>'sessionId', x.v->>'callId', x.v->>'srcAddress',
         (x.v->>'startedAt')::timestamptz, x.v->>'metadataXml', x.v->>'interactionId', x.v->>'direction',
         'recording'
  FROM x ORDER BY x.ord
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), p AS (
  INSERT INTO participants (recording_id, ordinal, participant_id, aor, name, sends_labels)
  SELECT r.id, e.ord, e.v->>'participantId', e.v->>'aor', e.v->>'name',
         ARRAY(SELECT jsonb_array_elements_text(COALESCE(e.v->'sendsLabels', '[]'::jsonb)))
  FROM r JOIN x ON (x.v->>'id')::uuid = r.id,
       jsonb_array_elements(x.v->'participants') WITH ORDINALITY AS e(v, ord)
)
INSERT INTO streams (recording_id, ordinal, label, stream_id, leg_id, codec, port)
SELECT r.id, e.ord, e.v->>'label', e.v->>'streamId', e.v->>'legId', e.v->>'codec', (e.v->>'port')::int
FROM r JOIN x ON (x.v->>'id')::uuid = r.id,
     jsonb_array_elements(x.v->'streams') WITH ORDINALITY AS e(v, ord)`;

/** markEnded of several recordings at once; returns the ids that exist. */
const MARK_ENDED_MANY = `
UPDATE recordings r SET ended_at = x.ended_at, duration_ms = x.duration_ms, media_stats = x.media_stats,
  updated_at = now()
FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, ended_at timestamptz, duration_ms bigint, media_stats jsonb)
WHERE r.id = x.id
RETURNING r.id`;

/** `searchTimeoutMs`: `list` stops after this, as a search does (limits.searchTimeoutMs). */
export function recordingsRepository(
  pool: pg.Pool,
  { searchTimeoutMs = SEARCH_TIMEOUT_MS }: { searchTimeoutMs?: number } = {},
): RecordingsRepository {
  const mustChange = (res: pg.QueryResult, id: string, what: string) => {
    if (res.rowCount === 0)
      throw new NotFoundError(`recording ${id} not found (or already stored) for ${what}`);
  };
  // One recording alone (a batch that failed is retried one by one): the same statement.
  const createOne = async (rec: NewRecording): Promise<void> => {
    await pool.query(INSERT_MANY, [JSON.stringify([rec])]);
  };
  const createBatched = groupCommit<NewRecording>(
    async (recs) => {
      await pool.query(INSERT_MANY, [JSON.stringify(recs)]);
      return recs.map(() => undefined);
    },
    createOne,
    // 5 ms at most on the way to the 200 OK: a statement per 5 ms instead of one per call.
    { lingerMs: 5 },
  );
  interface Ended {
    id: string;
    endedAt: Date;
    durationMs: number;
    mediaStats: unknown;
  }
  const markEndedOne = async ({ id, endedAt, durationMs, mediaStats }: Ended): Promise<void> => {
    const res = await pool.query(
      `UPDATE recordings SET ended_at = $2, duration_ms = $3, media_stats = $4::jsonb, updated_at = now()
       WHERE id = $1`,
      [id, endedAt, Math.round(durationMs), mediaStats === undefined ? null : JSON.stringify(mediaStats)],
    );
    mustChange(res, id, 'markEnded');
  };
  const markEndedBatched = groupCommit<Ended>(
    async (items) => {
      const res = await pool.query<{ id: string }>(MARK_ENDED_MANY, [
        JSON.stringify(
          items.map((e) => ({
            id: e.id,
            ended_at: e.endedAt,
            duration_ms: Math.round(e.durationMs),
            media_stats: e.mediaStats === undefined ? null : e.mediaStats,
          })),
        ),
      ]);
      const found = new Set(res.rows.map((r) => r.id));
      return items.map((e) =>
        found.has(e.id.toLowerCase())
          ? undefined
          : new NotFoundError(`recording ${e.id} not found (or already stored) for markEnded`),
      );
    },
    markEndedOne,
    // Nobody waits on the end of a call (the BYE was answered): batch 50 ms of them.
    { lingerMs: 50 },
  );
  return {
    create: (rec) => createBatched(rec),
    markEnded: (id, endedAt, durationMs, mediaStats) =>
      markEndedBatched({ id, endedAt, durationMs, mediaStats }),
    async markProcessing(id) {
      await pool.query({
        name: 'srs-recording-processing',
        text: `UPDATE recordings SET state = 'processing', updated_at = now() WHERE id = $1 AND state NOT IN ('stored', 'purged')`,
        values: [id],
      });
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
        `UPDATE recordings SET state = 'failed', error = $2, updated_at = now() WHERE id = $1 AND state NOT IN ('stored', 'purged')`,
        [id, error],
      );
    },
    async listIdsByState(state) {
      const res = await pool.query<{ id: string }>(
        `SELECT id FROM recordings WHERE state = $1 ORDER BY started_at, id`,
        [state],
      );
      return res.rows.map((r) => r.id);
    },
    async markInterrupted(id, endedAt, durationMs, mediaStats) {
      const res = await pool.query(
        `UPDATE recordings SET ended_at = $2, duration_ms = $3, media_stats = $4::jsonb, interrupted = true,
           updated_at = now()
         WHERE id = $1 AND state = 'recording'`,
        [id, endedAt, Math.round(durationMs), mediaStats === undefined ? null : JSON.stringify(mediaStats)],
      );
      mustChange(res, id, 'markInterrupted');
    },
    async addEvents(id, events) {
      if (events.length === 0) return;
      await pool.query(
        `INSERT INTO recording_events (recording_id, at, type, detail)
         SELECT $1, (e.v->>'at')::timestamptz, e.v->>'type', COALESCE(e.v->'detail', '{}'::jsonb)
         FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(v, ord) ORDER BY e.ord`,
        [id, JSON.stringify(events)],
      );
    },
    async upsertStreams(id, streams) {
      if (streams.length === 0) return;
      await pool.query(
        `INSERT INTO streams (recording_id, ordinal, label, stream_id, leg_id, codec, port)
         SELECT $1, (e.v->>'ordinal')::int, e.v->>'label', e.v->>'streamId', e.v->>'legId', e.v->>'codec',
                (e.v->>'port')::int
         FROM jsonb_array_elements($2::jsonb) AS e(v)
         ON CONFLICT (recording_id, ordinal) DO UPDATE SET label = EXCLUDED.label,
           stream_id = EXCLUDED.stream_id, leg_id = EXCLUDED.leg_id, codec = EXCLUDED.codec, port = EXCLUDED.port`,
        [id, JSON.stringify(streams)],
      );
    },
    async replaceParticipants(id, participants) {
      await pool.query(
        `WITH i AS (
           INSERT INTO participants (recording_id, ordinal, participant_id, aor, name, sends_labels)
           SELECT $1, e.ord, e.v->>'participantId', e.v->>'aor', e.v->>'name',
                  ARRAY(SELECT jsonb_array_elements_text(COALESCE(e.v->'sendsLabels', '[]'::jsonb)))
           FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(v, ord)
           ON CONFLICT (recording_id, ordinal) DO UPDATE SET participant_id = EXCLUDED.participant_id,
             aor = EXCLUDED.aor, name = EXCLUDED.name, sends_labels = EXCLUDED.sends_labels)
         DELETE FROM participants WHERE recording_id = $1 AND ordinal > jsonb_array_length($2::jsonb)`,
        [id, JSON.stringify(participants)],
      );
    },
    async list(options = {}) {
      const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
      const offset = Math.max(0, options.offset ?? 0);
      // A locked table or a deep offset would otherwise hold `srs recordings list` without end.
      const res = await withSearchTimeout(pool, searchTimeoutMs, (c) =>
        c.query<Row>(`${SELECT} ORDER BY r.started_at DESC, r.id LIMIT $1 OFFSET $2`, [limit, offset]),
      );
      return res.rows.map(toRow);
    },
    async setInteraction(id, interactionId) {
      await pool.query('UPDATE recordings SET interaction_id = $2 WHERE id = $1 AND interaction_id IS NULL', [
        id,
        interactionId,
      ]);
    },
    async beginProcessing(id) {
      if (!isUuid(id)) return undefined;
      const res = await pool.query<Row>({
        name: 'srs-recording-begin',
        text: `WITH processing AS (
                 UPDATE recordings SET state = 'processing', updated_at = now() WHERE id = $1 AND state NOT IN ('stored', 'purged'))
               ${SELECT} WHERE r.id = $1`,
        values: [id],
      });
      const row = res.rows[0];
      return row ? toRow(row) : undefined;
    },
    async get(id) {
      if (!isUuid(id)) return undefined;
      // Prepared once per connection (named): the finalize job reads every recording it stores.
      const res = await pool.query<Row>({
        name: 'srs-recording-get',
        text: `${SELECT} WHERE r.id = $1`,
        values: [id],
      });
      const row = res.rows[0];
      return row ? toRow(row) : undefined;
    },
  };
}
