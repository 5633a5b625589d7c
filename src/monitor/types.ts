/** The live monitor's options and interfaces, and the state it keeps per client. */
import type { IncomingMessage, Server } from 'node:http';
import type { Logger } from '../log.js';
import type { LiveFrame, SessionStats } from '../media/types.js';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';
import type { Principal } from '../store/users.js';
import type { OperationGate } from './limits.js';

/** The read-only face of the recording service the monitor needs. */
export interface LiveCallSource {
  activeCalls(): ActiveCall[];
  on(event: 'event', listener: (e: RecordingEvent) => void): unknown;
  off(event: 'event', listener: (e: RecordingEvent) => void): unknown;
}

export type CallFilter = (participants: readonly { aor: string | null }[]) => boolean;

export interface MonitorOptions {
  server: Server;
  path?: string;
  /** The admin token (a getter follows its rotations); accepted as admin in the Authorization header only. */
  token: string | (() => string);
  /** Resolves a connection's principal (session cookie, API token, ?token=); null refuses it. */
  authenticate?: (req: IncomingMessage) => Promise<Principal | null>;
  /** Which calls a principal may see (default: all). */
  filterFor?: (who: Principal) => Promise<CallFilter>;
  source: LiveCallSource;
  /** Media counters of a live call (for the snapshot and the events a client is sent). */
  stats?: (recordingId: string) => SessionStats | undefined;
  /**
   * Every live call's per-leg counters in one call, read by the media-health poll instead of
   * `stats` call by call (MediaEngine.liveCounters).
   */
  counters?: () => ReadonlyMap<string, readonly LegHealthCounters[]>;
  /** Live audio for listen-in; without it listen requests are refused. */
  taps?: LiveTaps;
  log: Logger;
  /** A client whose unsent data exceeds this is dropped rather than grow server memory. */
  maxBufferedBytes?: number;
  /** Audio frames are skipped (not queued) for a client with more unsent data than this. */
  audioSkipBytes?: number;
  /** Media-health poll interval (default 1000 ms). */
  statsIntervalMs?: number;
  /**
   * Recording control: messages {"type":"pause"|"resume"|"start"|"stop","recordingId"}
   * are passed here; the reply is {"type":"control",...} or an error.
   */
  control?: (
    who: Principal,
    action: 'pause' | 'resume' | 'start' | 'stop',
    recordingId: string,
    /** The client's address, for the audit entry. */
    ip: string,
    /** The client's handshake (its credential, relayed when another node holds the call). */
    req: IncomingMessage,
  ) => Promise<unknown>;
  /** Called with the measured latency of each audio frame sent (ms from the audio's arrival). */
  onAudioLatency?: (ms: number) => void;
  /**
   * The audio access path (src/api/access.ts): listen-in checks the `listen` permission and is
   * audited at start, and at stop with its duration. Without it listen-in is not audited.
   */
  access?: ListenAccess;
  /** The client address of a handshake (trusted proxies; default the socket's peer). */
  clientIp?: (req: IncomingMessage) => string;
  /** Every connection's credential is checked again this often (default 30 s); a dead one closes. */
  recheckMs?: number;
  /**
   * Sockets one user (a user's sessions and tokens together; a credential without a user alone)
   * may hold at once (default 8, limits.ts); more are closed at once with 4429.
   */
  maxSocketsPerPrincipal?: number;
  /** Principals the cap does not apply to (cluster peers: one socket per relayed listen-in). */
  uncapped?: (who: Principal) => boolean;
  /** Every socket is pinged this often (default 30 s); one that missed the previous ping is cut. */
  pingMs?: number;
}

/** What the monitor needs of the audio access path. */
export interface ListenAccess {
  /** Throws (403) unless `who` may listen now (the `listen` permission's level), writing nothing. */
  check?(who: Principal, purpose: 'listen-in'): Promise<void>;
  grant(
    who: Principal,
    origin: { ip: string; userAgent?: string },
    recordingId: string,
    purpose: 'listen-in',
    details?: Record<string, unknown>,
  ): Promise<void>;
  record(
    who: Principal,
    origin: { ip: string; userAgent?: string },
    recordingId: string,
    purpose: 'listen-stop',
    details?: Record<string, unknown>,
  ): Promise<void>;
}

export interface Monitor {
  readonly clients: number;
  readonly listeners: number;
  /** Closes at once the sockets of a user (all sessions) or of one session / API token. */
  revoke(match: { userId?: string; sessionId?: string; reason: string }): number;
  /** Re-reads every connection's call filter (users, groups or numbers changed). */
  refreshFilters(): Promise<void>;
  close(): Promise<void>;
}

/** One connected client. */
export interface Client {
  who: Principal;
  filter: CallFilter;
  origin: { ip: string; userAgent: string };
  /** The handshake, kept to check the credential again. */
  req: IncomingMessage;
  /** Its listen/control operations: one at a time, rate-limited (limits.ts). */
  gate: OperationGate;
  listen: {
    recordingId: string;
    channel: string;
    stop: () => void;
    skipped: number;
    since: number;
  } | null;
}

/** The loss counters of one leg. */
export interface LegHealthCounters {
  legId: string;
  packetsReceived: number;
  packetsLost: number;
}

/**
 * Why a listen-in's audio ended before the listener stopped it (a relay to another node that the
 * node refused, lost or closed): `error` for the client, `reason` for the audit trail.
 */
export interface TapEnd {
  error: string;
  reason: string;
}

/**
 * Live audio for listen-in: this node's taps (TapHub), or the cluster's hub that relays a call on
 * another node from there. `onEnd` is called at most once, and never after the returned stop.
 */
export interface LiveTaps {
  subscribe(
    recordingId: string,
    listener: (frames: LiveFrame[]) => void,
    onEnd?: (end: TapEnd) => void,
  ): () => void;
}
