/** Catalogue records as the rest of the program sees them. Only src/store writes SQL. */

export type RecordingState = 'recording' | 'processing' | 'stored' | 'failed' | 'purged';

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
  /** The interaction it is part of (the SIPREC communication session group), when the SRC names one. */
  interactionId?: string | null;
  /**
   * The call's direction as the SIP front end's policy decided it from the internal-number patterns
   * (recordings.direction); absent or null: decided when it is stored, from its owners.
   */
  direction?: 'inbound' | 'outbound' | 'internal' | 'unknown' | null;
}

export interface RecordingFile {
  /**
   * `wav` (the mono mix) and `mp3`; by configuration (SRS_OUTPUTS) also `stereo` (a stereo WAV,
   * one party per channel) and `leg<N>` (one stream's own WAV).
   */
  kind: 'mp3' | 'wav' | 'stereo' | `leg${number}`;
  /** Path of the encrypted artifact relative to the data directory (recordings/YYYY/MM/DD/<id>.<kind>.gpg). */
  path: string;
  /** Size of the encrypted file. */
  bytes: number;
  sha256Plain: string;
  sha256Cipher: string;
  keyFingerprint: string;
}

/** Something that happened during a recording (table recording_events). */
export interface EventRecord {
  at: Date | string;
  type: string;
  detail: Record<string, unknown>;
}

export interface RecordingRow extends NewRecording {
  /** In time order: pause/resume, streams added/removed, participants joined/left, metadata versions. */
  events?: EventRecord[];
  endedAt: Date | null;
  durationMs: number | null;
  state: RecordingState;
  error: string | null;
  files: RecordingFile[];
  mediaStats: unknown;
  /** The server died during the call; startup recovery finalized what the spool held. */
  interrupted: boolean;
  /**
   * inbound | outbound | internal (the policy's, at the INVITE, with internal numbers configured;
   * else from the owners when stored) | unknown.
   */
  direction?: 'inbound' | 'outbound' | 'internal' | 'unknown' | null;
  /** ANI and DNIS: from the first two metadata participants when stored, unless set before. */
  caller?: { number: string | null; name: string | null };
  callee?: { number: string | null; name: string | null };
  storedAt?: Date | null;
  /** Set when retention purged the files; the row stays as a tombstone. */
  purgedAt?: Date | null;
}

/** An OpenPGP key the pipeline encrypts to (the key material lives in `<dataDir>/keys`). */
export interface KeyRecord {
  fingerprint: string;
  /** e.g. "curve25519" or "rsa4096". */
  algorithm: string;
  createdAt: Date;
  active: boolean;
  /** Armored public key (null for keys recorded before migration 007). */
  publicKey?: string | null;
  /** The catalogue holds the private key, locked under the passphrase (migration 041). */
  privateInCatalogue?: boolean;
  /** Set by `srs keys retire`: never used again for new recordings. */
  retiredAt?: Date | null;
  /** Artifacts encrypted to this key (from `list()` only). */
  files?: number;
  /** A background re-encryption asked for through the API (migration 040), if any. */
  reencrypt?: KeyReencryptState | null;
}

/** The state of a key's background re-encryption (POST /keys/{fp}/retire with reencrypt). */
export interface KeyReencryptState {
  requestedAt: Date;
  requestedBy: string;
  /** Set when no file was left under the key. */
  finishedAt: Date | null;
  /** The last pass's failures, when it had any. */
  error: string | null;
}

/** One page of the catalogue, newest first. */
export interface ListOptions {
  limit?: number;
  offset?: number;
}
