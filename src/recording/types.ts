import type { NewRecording, ParticipantRecord } from '../store/types.js';
import type { SessionStats } from '../media/types.js';

/** One recorded stream as the SIP side offers it (an m-line of the SIPREC SDP). */
export interface StreamOffer {
  /** m-line index in the offer. */
  index: number;
  /** a=label value; SIPREC metadata points at it. */
  label: string | null;
  codec: 'PCMU' | 'PCMA';
  pt: number;
  telephoneEventPt: number | null;
}

export interface StartRecordingRequest {
  callId: string;
  srcAddress: string;
  sessionId: string | null;
  participants: ParticipantRecord[];
  metadataXml: string | null;
  streams: StreamOffer[];
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
  streams: { label: string | null; codec: string; port: number }[];
}

export type RecordingEvent =
  | { type: 'call-start'; call: ActiveCall }
  | { type: 'call-end'; call: ActiveCall; endedAt: string; durationMs: number; reason: string };

/** The catalogue operations the recording service needs (implemented by src/store). */
export interface RecordingStorePort {
  create(recording: NewRecording): Promise<void>;
  markEnded(id: string, endedAt: Date, durationMs: number, mediaStats: SessionStats | null): Promise<void>;
}

/** Hands a finished recording to the durable post-call jobs (implemented by src/pipeline). */
export interface FinalizeQueuePort {
  enqueueFinalize(recordingId: string): Promise<void>;
}

/** What sip/app may ask of the recording service. */
export interface RecordingPort {
  start(req: StartRecordingRequest): Promise<StartedRecording>;
  end(recordingId: string, reason: string): Promise<void>;
}
