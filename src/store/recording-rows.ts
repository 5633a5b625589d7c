import { isUuid } from './uuid.js';
import type pg from 'pg';
import type {
  EventRecord,
  ParticipantRecord,
  RecordingFile,
  RecordingRow,
  RecordingState,
  StreamRecord,
} from './types.js';

/**
 * How a recording is read: its columns (participants, streams, files and events as JSON), the row
 * they come back as, and the finalize job's start, which reads the recording in the same statement.
 */

export const COLUMNS = `
       r.id, r.session_id, r.call_id, r.src_address, r.started_at, r.ended_at, r.duration_ms, r.state,
       r.error, r.metadata_xml, r.media_stats, r.interrupted, r.interaction_id,
       r.direction, r.caller_number, r.caller_name, r.callee_number, r.callee_name, r.stored_at, r.purged_at,
       COALESCE((SELECT json_agg(json_build_object('participantId', p.participant_id, 'aor', p.aor,
                   'name', p.name, 'sendsLabels', p.sends_labels) ORDER BY p.ordinal)
                 FROM participants p WHERE p.recording_id = r.id), '[]') AS participants,
       COALESCE((SELECT json_agg(json_build_object('label', s.label, 'streamId', s.stream_id,
                   'legId', s.leg_id, 'codec', s.codec, 'port', s.port) ORDER BY s.ordinal)
                 FROM streams s WHERE s.recording_id = r.id), '[]') AS streams,
       COALESCE((SELECT json_agg(json_build_object('kind', f.kind, 'path', f.path, 'bytes', f.bytes,
                   'sha256Plain', f.sha256_plain, 'sha256Cipher', f.sha256_cipher,
                   'keyFingerprint', f.key_fingerprint) ORDER BY f.kind)
                 FROM files f WHERE f.recording_id = r.id), '[]') AS files,
       COALESCE((SELECT json_agg(json_build_object('at', e.at, 'type', e.type, 'detail', e.detail)
                   ORDER BY e.seq)
                 FROM recording_events e WHERE e.recording_id = r.id), '[]') AS events`;
export const SELECT = `SELECT ${COLUMNS} FROM recordings r`;

export interface Row {
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
  interrupted: boolean;
  interaction_id: string | null;
  direction: RecordingRow['direction'];
  caller_number: string | null;
  caller_name: string | null;
  callee_number: string | null;
  callee_name: string | null;
  stored_at: Date | null;
  purged_at: Date | null;
  participants: ParticipantRecord[];
  streams: StreamRecord[];
  files: RecordingFile[];
  events: EventRecord[];
}

export function toRow(r: Row): RecordingRow {
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
    interrupted: r.interrupted,
    interactionId: r.interaction_id,
    direction: r.direction,
    caller: { number: r.caller_number, name: r.caller_name },
    callee: { number: r.callee_number, name: r.callee_name },
    storedAt: r.stored_at,
    purgedAt: r.purged_at,
    participants: r.participants,
    streams: r.streams,
    files: r.files,
    events: r.events,
  };
}

/**
 * A finalize job's start in one statement (one round trip and one commit instead of three
 * statements): notes that this node runs it (pipeline_runs, cleared by store/jobs.ts clearRun), reads
 * the recording as it was and marks it processing unless it is stored or purged (beginProcessing),
 * and reads the active key's public key (keys.active).
 */
export async function beginRun(
  pool: pg.Pool,
  id: string,
  nodeKey: number,
): Promise<{ recording?: RecordingRow; activeKey?: { fingerprint: string; publicKeyArmored: string } }> {
  if (!isUuid(id)) return {};
  const res = await pool.query<
    Row & { active_key: { fingerprint: string; publicKey: string | null } | null }
  >({
    name: 'srs-run-begin',
    text: `WITH run AS (
             INSERT INTO pipeline_runs (recording_id, node_key) VALUES ($1, $2)
             ON CONFLICT (recording_id) DO UPDATE SET node_key = EXCLUDED.node_key, started_at = now()),
           processing AS (
             UPDATE recordings SET state = 'processing', updated_at = now()
             WHERE id = $1 AND state NOT IN ('stored', 'purged'))
           SELECT ${COLUMNS},
             (SELECT json_build_object('fingerprint', k.fingerprint, 'publicKey', k.public_key) FROM keys k
              WHERE k.active ORDER BY k.created_at DESC LIMIT 1) AS active_key
           FROM recordings r WHERE r.id = $1`,
    values: [id, nodeKey],
  });
  const row = res.rows[0];
  if (!row) return {};
  const k = row.active_key;
  return {
    recording: toRow(row),
    activeKey: k?.publicKey ? { fingerprint: k.fingerprint, publicKeyArmored: k.publicKey } : undefined,
  };
}
