/**
 * The TypeScript face of the native media engine. The addon owns the RTP sockets; JavaScript only
 * opens, closes and queries sessions, receives batched events, and asks for a mix.
 */

/** What a payload type number means on one leg (from the SDP rtpmap, plus the static 0 and 8). */
export type PayloadKind = 'PCMU' | 'PCMA' | 'telephone-event' | 'CN';

/** Audio codecs the engine knows by name (rtpmap encoding names; compare case-insensitively in SDP). */
export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'G729' | 'opus' | 'AMR' | 'AMR-WB' | 'iLBC' | 'G726-32';

/**
 * What this build decodes (libavcodec from Debian decodes every one of them), in the order the SDP
 * answer may use for ties; the answer keeps the offer's own preference order.
 */
export const DECODABLE: readonly CodecName[] = Object.freeze([
  'PCMU',
  'PCMA',
  'G722',
  'G729',
  'opus',
  'AMR',
  'AMR-WB',
  'iLBC',
  'G726-32',
] as const);

/** One payload type as the offer's a=rtpmap / a=fmtp describe it. */
export interface PayloadSpec {
  codec: CodecName | 'telephone-event' | 'CN';
  /** The rtpmap clock rate (G.722: 8000 although it is a 16 kHz codec; opus: 48000). */
  clockRate: number;
  /** The rtpmap channel count (opus: 2); default 1. */
  channels?: number;
  /** the offer's a=fmtp for this PT, e.g. 'octet-align=1', 'mode=30', 'annexb=no' */
  fmtp?: string;
}

/** SDES crypto suites (RFC 4568, RFC 6188, RFC 7714) the engine decrypts. */
export type SrtpSuite =
  | 'AES_CM_128_HMAC_SHA1_80'
  | 'AES_CM_128_HMAC_SHA1_32'
  | 'AES_256_CM_HMAC_SHA1_80'
  | 'AES_256_CM_HMAC_SHA1_32'
  | 'AEAD_AES_128_GCM'
  | 'AEAD_AES_256_GCM';

/**
 * The SRTP parameters of one leg (from the chosen a=crypto line). A secret: never logged, never
 * written to session.json or the spool (the spool holds decoded u-law; recovery needs no key). The
 * engine copies the key and zeroes its copy when the leg closes.
 */
export interface SrtpParams {
  suite: SrtpSuite;
  /** master key||salt, raw bytes */
  keySalt: Buffer;
  /** RFC 4568 MKI: its value and its length in bytes (1-4) in every packet. */
  mki?: { value: number; length: number };
  unencryptedSrtp?: boolean;
  unencryptedSrtcp?: boolean;
  unauthenticatedSrtp?: boolean;
}

export interface LegSpec {
  /** Unique within its session and safe as a file name (e.g. "leg0"). */
  legId: string;
  /** Even RTP port to bind on the engine's bind address (RTCP would be port+1). */
  port: number;
  /**
   * Payload type number -> meaning. Unknown payload types are counted and ignored. The old
   * PayloadKind strings are still accepted (PCMU/PCMA at 8000, telephone-event at 8000, CN).
   */
  payloadTypes: Readonly<Record<number, PayloadKind | PayloadSpec>>;
  /** SRTP (SDES) parameters; absent = plain RTP. */
  srtp?: SrtpParams;
  /**
   * Ingress trust: the SRC's address from the SDP (c=) and its m= port. When given (and not
   * 0.0.0.0), only that host may start the leg; otherwise the first source is latched. Either way
   * the leg then takes RTP/RTCP only from the latched source (see native/src/latch.h).
   */
  remoteHost?: string;
  remotePort?: number;
  /** Silence (ms) after which another source may take the leg over; 0/absent = never. */
  relatchMs?: number;
}

export interface OpenSessionOptions {
  recordingId: string;
  /** Directory for this session's spool files (created by the engine if missing). */
  spoolDir: string;
  legs: readonly LegSpec[];
  /**
   * Also bind each leg's port+1 and drain the RTCP arriving there (counted in rtcpPackets). Off by
   * default: one more descriptor per leg against the open-file limit; ports are always allocated in
   * even pairs so port+1 is free for it.
   */
  rtcp?: boolean;
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
  /** RTP/RTCP datagrams from a source other than the latched SRC: dropped, never recorded. */
  packetsRejected?: number;
  /** Audio lost to spool write failures (each failed batch cut back, never torn), ms. */
  spoolDamagedMs?: number;
  /** The first 16 damaged spans, [fromMs, toMs) on the session timeline. */
  spoolDamagedSpansMs?: [number, number][];
  /** SSRCs seen past the 16 kept in `ssrcs` (counted, not stored). */
  ssrcsOverflow?: number;
  /**
   * Times the leg's timeline was moved off its RTP clock: a timestamp step, a talk spurt off
   * arrival time, drift (docs/media-engine.md, "Timeline"). Never over audio already recorded.
   */
  reanchors?: number;
  /**
   * The most the end of the leg's audio ran ahead of its arrival time, ms (about one packet
   * normally; more for a sender whose clock runs fast and that never pauses).
   */
  aheadMs?: number;
  /** RFC 3550 A.8 interarrival jitter of the audio packets at the end, in ms. */
  jitterMs?: number;
  /** Datagrams that arrived while the leg was paused (dropped, not recorded). */
  packetsPaused?: number;
  /** RTCP datagrams drained from port+1 (only when the session was opened with `rtcp: true`). */
  rtcpPackets?: number;
  /** RFC 4733 telephone-events of this leg (the first 1000), kept out of the audio. */
  dtmf?: DtmfEvent[];
  /** SRTP/SRTCP packets that failed authentication (dropped, never in the audio). */
  srtpAuthFailures?: number;
  /** SRTP packets dropped by replay protection. */
  srtpReplayDrops?: number;
  /** Packets of a known codec the decoder rejected (malformed payload). */
  packetsUndecodable?: number;
  /** Audio codec names played on this leg (PCMU, PCMA, G722, G729, opus, AMR, AMR-WB, iLBC, G726-32 order). */
  codecs?: string[];
}

/** A leg's packet counters alone (MediaEngine.liveCounters). */
export interface LegCounters {
  legId: string;
  packetsReceived: number;
  packetsLost: number;
  /** Datagrams that arrived while paused (native engine). */
  packetsPaused?: number;
  /** Datagrams from a source other than the latched SRC (native engine). */
  packetsRejected?: number;
}

/** Packets received and lost on every leg of every session since the engine started. */
export interface MediaTotals {
  packetsReceived: number;
  packetsLost: number;
  /** Datagrams dropped because they came from a source other than a leg's latched SRC. */
  packetsRejected?: number;
  /** Spool batches that could not be written, and the audio they held (ms). */
  spoolErrors?: number;
  spoolDamagedMs?: number;
}

export interface DtmfEvent {
  digit: string;
  /** ms after the session was opened (its t0), on the leg's timeline. */
  atMs: number;
  durationMs: number;
}

export interface SessionStats {
  recordingId: string;
  openedAt: Date;
  legs: LegStats[];
}

export type MediaEvent =
  | { type: 'first-packet'; recordingId: string; legId: string; atMs: number }
  | { type: 'ssrc-change'; recordingId: string; legId: string; atMs: number; ssrc: number }
  | { type: 'dtmf'; recordingId: string; legId: string; atMs: number; digit: string; durationMs: number }
  /** Recording of the leg paused / resumed (engine.pause / engine.resume); atMs on the session timeline. */
  | { type: 'pause'; recordingId: string; legId: string; atMs: number }
  | { type: 'resume'; recordingId: string; legId: string; atMs: number };

export interface MixOptions {
  /** The spool directory of a closed (or interrupted) session. */
  spoolDir: string;
  /**
   * Where to write the G.711 u-law WAV (format tag 7, 8 kHz, 8 bit, fact chunk; written to a
   * temporary file, fsynced and renamed). Absent (or ''): the WAV is mixed into memory and returned
   * as `MixResult.data`, byte for byte what the file would hold; nothing is written to disk.
   */
  wavPath?: string;
  /**
   * legIds mixed into each output channel (interleaved u-law). Default: one channel with every leg.
   * Stereo with one party per channel: [['leg0'], ['leg1']]; one leg's own file: [['leg1']]. All
   * files of one spool directory have the same length, so they line up.
   */
  channels?: readonly (readonly string[])[];
  /**
   * Timeline intervals `[from, to)` in samples since t0 left out of the file (the pause "cut" mode;
   * see `pausedSpans`). Every file mixed with the same cuts has the same length.
   */
  cut?: readonly (readonly [number, number])[];
}

export interface MixResult {
  /** The file written: set when `MixOptions.wavPath` was given. */
  wavPath?: string;
  /** The whole WAV (header included): set when the mix was into memory (no `MixOptions.wavPath`). */
  data?: Buffer;
  /** Samples at 8 kHz in the mixed file. */
  samples: number;
  durationMs: number;
  legs: number;
}

/** Live audio of one leg for listen-in: u-law samples placed at `offset` samples from the session's t0. */
export interface LiveFrame {
  legId: string;
  offset: number;
  ulaw: Uint8Array;
}

/** The native worker's state (MediaEngine.health). */
export interface EngineHealth {
  /** Why the worker thread stopped on its own, or null while it runs. */
  workerFailure: string | null;
  /** Events dropped by the bounded queues (an event storm or a stalled JS thread). */
  eventsDropped: number;
  /** Spool bytes waiting for the writer thread now and at most (a slow disk shows here first). */
  spoolQueueBytes?: number;
  spoolQueuePeakBytes?: number;
  /** Spool batches dropped because the writer's queue was full (legs marked damaged). */
  spoolBatchesDropped?: number;
}

export interface MediaEngine {
  /** The worker's state (native engine); absent in the reference implementation. */
  health?(): EngineHealth;
  /** Test-only fault injection (SRS_TEST_ENGINE_FAULT); absent in the reference implementation. */
  testFault?(kind: string): boolean;
  /**
   * Optional live tap: delivers a watched session's new audio in batches every 100-200 ms,
   * only while watched; returns the function that stops watching. When absent, the monitor tails
   * the spool files instead. The native engine implements it: once per worker tick (~150 ms) it
   * hands over the spool records a watched session's legs produced, and nothing for the others.
   */
  watch?(recordingId: string, onFrames: (frames: LiveFrame[]) => void): () => void;
  readonly bindAddress: string;
  /** Binds one UDP socket per leg and starts recording. Throws PortInUseError if a port is taken. */
  openSession(options: OpenSessionOptions): void;
  /** Stops receiving, flushes the spool to disk and returns the final stats. Safe to call twice. */
  closeSession(recordingId: string): SessionStats | undefined;
  /**
   * closeSession without file work on the caller's thread: receiving stops now, the last records
   * and session.json are written on the libuv pool, and the promise resolves with the final stats
   * once they are on disk (undefined for an unknown session). Safe to call twice.
   */
  endSession(recordingId: string): Promise<SessionStats | undefined>;
  sessionStats(recordingId: string): SessionStats | undefined;
  /** Packet totals of every session since the start (closed ones included), in one cheap call. */
  mediaTotals(): MediaTotals;
  /** Every open session's per-leg packet counters, in one call (for periodic health checks). */
  liveCounters(): Map<string, LegCounters[]>;
  /**
   * Pauses recording of the named legs (all legs when `legIds` is omitted): a SIPREC pause, or a
   * stream re-offered a=inactive. The file holds silence for the paused time, a `pause` event is
   * emitted with its time, and datagrams that still arrive are counted (packetsPaused) and dropped.
   * The pause is also written to the spool directory's session.json (`pauses`), so a mix can leave
   * the paused time out (`pausedSpans`, MixOptions.cut), even after a crash.
   * Returns false when the session or a named leg is unknown. Idempotent.
   */
  pause(recordingId: string, legIds?: readonly string[]): boolean;
  /**
   * Replaces a leg's SRTP parameters (a re-INVITE with a new a=crypto): the new key applies to
   * packets from now on, the timeline has no gap. `null` turns SRTP off (plain RTP from now on).
   * Returns false when the session or leg is unknown.
   */
  rekey(recordingId: string, legId: string, srtp: SrtpParams | null): boolean;
  /** Resumes recording (the stream is taken up again at its arrival time); emits `resume`. */
  resume(recordingId: string, legIds?: readonly string[]): boolean;
  /**
   * Adds legs to an open session (streams added by a re-INVITE): same timeline (t0) and spool
   * directory, so they are part of the mix. Throws PortInUseError when a port is taken (nothing
   * changes), NotFoundError for an unknown session. legIds and ports must be new to the session.
   * `paused`: the legs open paused (their pause in session.json starts where they do).
   */
  addLegs(recordingId: string, legs: readonly LegSpec[], options?: { paused?: boolean }): void;
  /**
   * Stops receiving on the named legs (streams removed by a re-INVITE): their sockets close, what
   * they recorded stays in the spool, the mix and the stats. Unknown ids are ignored.
   */
  removeLegs(recordingId: string, legIds: readonly string[]): void;
  /** Mixes a session's spool into a WAV file, or into memory without `wavPath`, on a worker thread (never blocks the event loop). */
  mix(options: MixOptions): Promise<MixResult>;
  /** Events arrive in batches a few times a second, never per packet. */
  onEvents(listener: (events: MediaEvent[]) => void): void;
  readonly activeSessions: number;
  /** Closes every session (spools flushed) and stops the worker threads. Safe to call twice. */
  close(): void;
}
