import type { NewRecording, ParticipantRecord, StreamRecord } from '../store/types.js';
import type { CodecName, PayloadSpec, SessionStats, SrtpParams, SrtpSuite } from '../media/types.js';

export type { CodecName, PayloadSpec, SrtpParams, SrtpSuite };
/** What the engine decodes (the SIP side offers these by default). */
export { DECODABLE } from '../media/types.js';

/** One recorded stream as the SIP side offers it (an m-line of the SIPREC SDP). */
export interface StreamOffer {
  /** m-line index in the offer. */
  index: number;
  /** a=label value; SIPREC metadata points at it. */
  label: string | null;
  /** The answered audio codecs' names in the SRC's order, comma-separated (catalogue, monitor). */
  codec: string;
  /** Every payload type answered (audio codecs, telephone-event, CN) and what it carries. */
  payloads?: Readonly<Record<number, PayloadSpec>>;
  /** G.711 shorthand without `payloads` (tests, benches): `codec` ('PCMU'|'PCMA') on this payload type. */
  pt?: number;
  telephoneEventPt?: number | null;
  /** The SRC's SDES key for this stream (a secret: never logged or stored); null/absent = plain RTP. */
  srtp?: SrtpParams | null;
  /** stream_id the metadata gives this label (RFC 7865 <stream>), when known. */
  streamId?: string | null;
  /** The SRC's media address and port from the SDP, when usable (the engine latches the leg on it). */
  remoteHost?: string | undefined;
  remotePort?: number | undefined;
}

export interface StartRecordingRequest {
  callId: string;
  srcAddress: string;
  sessionId: string | null;
  participants: ParticipantRecord[];
  metadataXml: string | null;
  streams: StreamOffer[];
  /** The SIPREC communication session group the metadata names (the recording's interaction). */
  interactionId?: string | null;
  /** The direction the policy decided (internal numbers configured), else null. */
  direction?: 'inbound' | 'outbound' | 'internal' | null;
}

export interface StartedRecording {
  recordingId: string;
  /** RTP port per stream, in the order of `streams` in the request. */
  ports: number[];
}

/** What the live registry publishes about a call (monitor, API). */
export interface ActiveCall {
  recordingId: string;
  callId: string;
  sessionId: string | null;
  srcAddress: string;
  startedAt: string;
  participants: ParticipantRecord[];
  /** The live streams, in m-line order; `legId` is the engine's leg (media health, listen-in channels). */
  streams: { label: string | null; codec: string; port: number; legId?: string }[];
  /** Recording control: the call's record mode, what is kept now, what may be done. */
  control?: CallControlView;
}

/** A live call's recording control as the API and the monitor show it. */
export interface CallControlView {
  mode: 'always' | 'always-pause' | 'on-demand' | 'never';
  state: 'recording' | 'paused' | 'stopped' | 'not-started' | 'not-recorded';
  /** Kept segments so far (a start after a stop begins the next). */
  segment: number;
  /** Actions the call's own users may take now. */
  allowed: string[];
  /** Actions an admin may take now. */
  adminAllowed: string[];
}

/** The recording control's hooks into the live registry (src/recording/control.ts). */
export interface RecordingControlHooks {
  /** A call started (its media is open): decide its mode; may pause it at once. */
  started(call: ActiveCall): Promise<void>;
  /** The call ended (spool flushed, row marked ended): true to finalize it, false when discarded. */
  ended(recordingId: string): Promise<boolean>;
}

export type RecordingEvent =
  | { type: 'call-start'; call: ActiveCall }
  | { type: 'call-update'; call: ActiveCall }
  | { type: 'call-end'; call: ActiveCall; endedAt: string; durationMs: number; reason: string };

/** The catalogue operations the recording service needs (implemented by src/store). */
export interface RecordingStorePort {
  create(recording: NewRecording): Promise<void>;
  addEvents(id: string, events: SessionEvent[]): Promise<void>;
  /** Inserts or replaces stream rows by ordinal (1-based, as create numbers them). */
  upsertStreams(id: string, streams: (StreamRecord & { ordinal: number })[]): Promise<void>;
  replaceParticipants(id: string, participants: ParticipantRecord[]): Promise<void>;
  /** Sets the recording's interaction unless it has one. */
  setInteraction?(id: string, interactionId: string): Promise<void>;
  markEnded(id: string, endedAt: Date, durationMs: number, mediaStats: SessionStats | null): Promise<void>;
  /** The row's state: a hand-off tried again later skips a recording finished meanwhile elsewhere. */
  get?(id: string): Promise<{ state: string } | undefined>;
}

/** Hands a finished recording to the durable post-call jobs (implemented by src/pipeline). */
export interface FinalizeQueuePort {
  enqueueFinalize(recordingId: string): Promise<void>;
}

/** Something that happened during a recording: pause/resume, streams, participants, metadata. */
export interface SessionEvent {
  at: Date;
  /** e.g. stream-paused, stream-resumed, stream-added, stream-removed, participant-joined, participant-left, metadata. */
  type: string;
  detail: Record<string, unknown>;
}

/** A re-INVITE's effect on a live session's streams. */
export interface StreamChange {
  /** New streams to receive (m-line index and codec as in StreamOffer). */
  add: StreamOffer[];
  /** m-line indexes whose streams stop (port 0 in the new offer). */
  remove: number[];
  /** m-line indexes re-offered a=inactive (SIPREC pause): silence is recorded until resumed. */
  pause?: number[];
  /** m-line indexes back from a=inactive (resume). */
  resume?: number[];
  /** Streams kept whose SRTP key changed (a new a=crypto): re-keyed in place, no gap. null = plain RTP. */
  rekey?: { index: number; srtp: SrtpParams | null }[];
}

/** What metadata (complete or merged partial) says now; stored with the recording. */
export interface MetadataUpdate {
  participants: ParticipantRecord[];
  /** label -> metadata stream_id. */
  streamIds: Record<string, string>;
  /** The raw XML just received (every version is kept as a `metadata` event). */
  metadataXml: string;
  /** What was read from it, stored beside the XML (dialect, datamode, ids). */
  parsed?: Record<string, unknown>;
  /** The communication session group the metadata now names (taken only if the recording has none). */
  interactionId?: string | null;
}

/** What sip/app may ask of the recording service. */
export interface RecordingPort {
  /** Codecs the media engine decodes (the SDP answer offers only these). */
  readonly decodable: readonly CodecName[];
  start(req: StartRecordingRequest): Promise<StartedRecording>;
  end(recordingId: string, reason: string): Promise<void>;
  /** Applies a re-INVITE's stream changes; returns the RTP port of each added stream, in order. */
  updateStreams(recordingId: string, change: StreamChange): Promise<{ ports: number[] }>;
  /** Appends events to the recording (stored with their times). */
  addEvents(recordingId: string, events: SessionEvent[]): Promise<void>;
  /** Stores what the latest metadata says (participants, stream ids) and keeps its raw XML. */
  updateMetadata(recordingId: string, update: MetadataUpdate): Promise<void>;
  /**
   * How the server ends the call itself (RTP timeout, maximum duration, disk floor, shutdown): the
   * SIP side sends BYE to the SRC. Registered once the dialog exists.
   */
  onTerminate?(recordingId: string, terminate: (reason: string) => void): void;
}
