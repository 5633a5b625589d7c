/** Catalogue records as the rest of the program sees them. Only src/store writes SQL. */

export type RecordingState = 'recording' | 'processing' | 'stored' | 'failed';

export interface ParticipantRecord {
  /** participant_id from the metadata (may be any string, even empty). */
  participantId: string;
  aor: string | null;
  name: string | null;
  /** Labels (a=label) of the streams this participant sends, resolved via participantstreamassoc. */
  sendsLabels: string[];
}

export interface StreamRecord {
  label: string;
  /** stream_id from the metadata, or null when the metadata does not describe this stream. */
  streamId: string | null;
  legId: string;
  codec: string;
  port: number;
}

export interface NewRecording {
  id: string;
  /** SIPREC session id from the metadata (<session session_id>), null when none was sent. */
  sessionId: string | null;
  callId: string;
  srcAddress: string;
  startedAt: Date;
  participants: ParticipantRecord[];
  streams: StreamRecord[];
  metadataXml: string | null;
}

export interface RecordingFile {
  kind: 'mp3' | 'wav';
  /** Path of the encrypted artifact relative to the data directory (recordings/YYYY/MM/DD/<id>.<kind>.gpg). */
  path: string;
  /** Size of the encrypted file. */
  bytes: number;
  sha256Plain: string;
  sha256Cipher: string;
  keyFingerprint: string;
}

export interface RecordingRow extends NewRecording {
  endedAt: Date | null;
  durationMs: number | null;
  state: RecordingState;
  error: string | null;
  files: RecordingFile[];
  mediaStats: unknown;
}

/** An OpenPGP key the pipeline encrypts to (the key material lives in `<dataDir>/keys`). */
export interface KeyRecord {
  fingerprint: string;
  /** e.g. "curve25519" or "rsa4096". */
  algorithm: string;
  createdAt: Date;
  active: boolean;
}

/** One page of the catalogue, newest first. */
export interface ListOptions {
  limit?: number;
  offset?: number;
}
