/**
 * The TypeScript face of the native media engine. The addon owns the RTP sockets; JavaScript only
 * opens, closes and queries sessions, receives batched events, and asks for a mix.
 */

/** What a payload type number means on one leg (from the SDP rtpmap, plus the static 0 and 8). */
export type PayloadKind = 'PCMU' | 'PCMA' | 'telephone-event' | 'CN';

export interface LegSpec {
  /** Unique within its session and safe as a file name (e.g. "leg0"). */
  legId: string;
  /** Even RTP port to bind on the engine's bind address (RTCP would be port+1). */
  port: number;
  /** Payload type number -> meaning. Unknown payload types are counted and ignored. */
  payloadTypes: Readonly<Record<number, PayloadKind>>;
}

export interface OpenSessionOptions {
  recordingId: string;
  /** Directory for this session's spool files (created by the engine if missing). */
  spoolDir: string;
  legs: readonly LegSpec[];
}

export interface LegStats {
  legId: string;
  packetsReceived: number;
  packetsLost: number;
  packetsDuplicate: number;
  packetsLate: number;
  packetsIgnored: number;
  ssrcs: number[];
  /** ms after the session was opened when the first RTP packet arrived, or null if none did. */
  firstPacketMs: number | null;
  /** Spool batches that could not be written (disk full...): audio was lost. Set by the native engine. */
  spoolErrors?: number;
}

export interface SessionStats {
  recordingId: string;
  openedAt: Date;
  legs: LegStats[];
}

export type MediaEvent =
  | { type: 'first-packet'; recordingId: string; legId: string; atMs: number }
  | { type: 'ssrc-change'; recordingId: string; legId: string; atMs: number; ssrc: number }
  | { type: 'dtmf'; recordingId: string; legId: string; atMs: number; digit: string; durationMs: number };

export interface MixOptions {
  /** The spool directory of a closed (or interrupted) session. */
  spoolDir: string;
  /** Where to write the mono G.711 u-law WAV (format tag 7, 8 kHz, 8 bit, fact chunk). */
  wavPath: string;
}

export interface MixResult {
  wavPath: string;
  /** Samples at 8 kHz in the mixed file. */
  samples: number;
  durationMs: number;
  legs: number;
}

export interface MediaEngine {
  readonly bindAddress: string;
  /** Binds one UDP socket per leg and starts recording. Throws PortInUseError if a port is taken. */
  openSession(options: OpenSessionOptions): void;
  /** Stops receiving, flushes the spool to disk and returns the final stats. Safe to call twice. */
  closeSession(recordingId: string): SessionStats | undefined;
  sessionStats(recordingId: string): SessionStats | undefined;
  /** Mixes a session's spool into a WAV on a worker thread (never blocks the event loop). */
  mix(options: MixOptions): Promise<MixResult>;
  /** Events arrive in batches a few times a second, never per packet. */
  onEvents(listener: (events: MediaEvent[]) => void): void;
  readonly activeSessions: number;
  /** Closes every session (spools flushed) and stops the worker threads. Safe to call twice. */
  close(): void;
}
