import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CapacityError, InvalidStateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CodecName, MediaEngine } from '../media/types.js';
import { awaitCatalogueRow } from './catalogue-row.js';
import { endOfCall, HandoffBacklog, handOff, logSpoolDamage, SERVER_ENDED } from './handoff.js';
import { DECODABLE, type PortPool } from '../media/index.js';
import { applyStreamChange, srtpTotals, type LiveSession } from './live-streams.js';
import { openMedia } from './media-open.js';
import { holdForControl } from './pause-owners.js';
import type {
  ActiveCall,
  FinalizeQueuePort,
  MetadataUpdate,
  SessionEvent,
  StreamChange,
  RecordingControlHooks,
  RecordingEvent,
  RecordingStorePort,
  StartRecordingRequest,
  StartedRecording,
} from './types.js';

export interface RecordingServiceOptions {
  engine: MediaEngine;
  ports: PortPool;
  store: RecordingStorePort;
  finalize: FinalizeQueuePort;
  dataDir: string;
  maxSessions: number;
  log: Logger;
  /** Drain and count RTCP on each stream's port+1 (config media.rtcp / SRS_RTCP). */
  rtcp?: boolean;
  /** Back-pressure: a reason to refuse a new call of `streams` streams (503 + Retry-After), or undefined. */
  admit?: (
    streams: number,
    liveStreams: number,
  ) => string | { reason: string; retryAfterSeconds: number } | undefined;
  /** Silence (ms) after which another source may take over a leg (SRS_RTP_RELATCH_MS); 0 = never. */
  relatchMs?: number;
  /** Watchdog (src/recording/watchdog.ts): RTP inactivity and maximum duration, seconds; 0 = off. */
  rtpTimeoutSeconds?: number;
  maxDurationSeconds?: number;
  /** Attempts of the end-of-call hand-off while the database is away (default 1000, backoff to 30 s). */
  handoffRetryLimit?: number;
  /** Test only (SRS_TEST_CRASH_AFTER_STEP): called with 'call-ended' after markEnded. */
  afterStep?: ((step: string) => void) | undefined;
  /** A new call's catalogue row must be written within this (ms, default 5000), else 503. */
  catalogueTimeoutMs?: number;
  /**
   * Removes what a refused call left: its catalogue row, should the insert still commit after the
   * refusal, and its spool directory.
   */
  forget?: (recordingId: string) => Promise<void>;
}

/**
 * The live registry of recording sessions: starts the media for a new SIPREC session, writes the
 * catalogue row, and on the end of the call closes the media and hands the recording to the
 * pipeline. Emits `event` with RecordingEvent for the monitor.
 */
export class RecordingService extends EventEmitter<{ event: [RecordingEvent] }> {
  readonly #o: RecordingServiceOptions;
  readonly #live = new Map<string, LiveSession>();
  /** Codecs the engine decodes: the SDP answer offers only these. */
  readonly decodable: readonly CodecName[] = DECODABLE;
  #closed = false;
  /** SRTP drops of the sessions already ended (live ones are read at scrape time). */
  readonly #srtpEnded = { authFailures: 0, replayDrops: 0 };
  #abandon = false;
  #handoffRetries = 0;
  #control: RecordingControlHooks | null = null;
  /** Hand-offs given up after their attempts, tried again every 30 s (src/recording/handoff.ts). */
  readonly #later: HandoffBacklog;

  constructor(options: RecordingServiceOptions) {
    super();
    this.#o = options;
    this.#later = new HandoffBacklog(options.log, options.store);
  }

  /** Packets received and lost on every recorded stream since the start (for the metrics). */
  mediaTotals(): { packetsReceived: number; packetsLost: number } {
    return this.#o.engine.mediaTotals();
  }

  /**
   * SRTP packets dropped since the start (for the metrics): ended sessions' totals plus the live
   * sessions' counters, read at scrape time only.
   */
  srtpTotals(): { authFailures: number; replayDrops: number } {
    return srtpTotals(this.#o.engine, this.#srtpEnded, this.#live.keys());
  }

  /** Recording control: consulted at each call's start and end. */
  useControl(control: RecordingControlHooks): void {
    this.#control = control;
  }

  /** Recording control holds or releases a whole call (src/recording/pause-owners.ts). */
  holdForControl(recordingId: string, held: boolean): boolean {
    const s = this.#live.get(recordingId);
    return s !== undefined && holdForControl(this.#o.engine, recordingId, s, held);
  }

  get activeCount(): number {
    return this.#live.size;
  }

  /** Streams of the live calls (each holds descriptors: src/recording/descriptor-guard.ts). */
  get liveStreams(): number {
    return [...this.#live.values()].reduce((n, s) => n + s.call.streams.length, 0);
  }

  activeCalls(): ActiveCall[] {
    return [...this.#live.values()].map((s) => s.call);
  }

  async start(req: StartRecordingRequest): Promise<StartedRecording> {
    if (this.#closed) throw new InvalidStateError('recording service is shutting down');
    if (this.#live.size >= this.#o.maxSessions) {
      throw new CapacityError(`concurrent session limit reached (${this.#o.maxSessions})`);
    }
    const refusal = this.#o.admit?.(req.streams.length, this.liveStreams);
    if (typeof refusal === 'string') throw new CapacityError(refusal);
    if (refusal) throw new CapacityError(refusal.reason, refusal.retryAfterSeconds);
    const recordingId = randomUUID();
    const spoolDir = join(this.#o.dataDir, 'spool', recordingId);
    const log = this.#o.log.child({ recordingId, callId: req.callId });

    // The spool directory is made on libuv's pool: a synchronous mkdir on the event loop costs
    // every call in flight (bench:cps). The engine's worker creates the spool files in it; made
    // before the catalogue row, so startup recovery finds a directory for every row.
    await mkdir(spoolDir, { recursive: true, mode: 0o700 });
    if (this.#closed) throw new InvalidStateError('recording service is shutting down');
    const ports = openMedia(this.#o, recordingId, spoolDir, req.streams);
    const startedAt = new Date();
    const streams = req.streams.map((s, i) => ({
      label: s.label ?? String(s.index),
      streamId: s.streamId ?? null,
      legId: `leg${i}`,
      codec: s.codec,
      port: ports[i] as number,
    }));
    const created = this.#o.store.create({
      id: recordingId,
      sessionId: req.sessionId,
      callId: req.callId,
      srcAddress: req.srcAddress,
      startedAt,
      participants: req.participants,
      streams,
      metadataXml: req.metadataXml,
      interactionId: req.interactionId ?? null,
      direction: req.direction ?? null,
    });
    await awaitCatalogueRow({
      created,
      waitMs: this.#o.catalogueTimeoutMs ?? 5000,
      undo: () => {
        this.#o.engine.closeSession(recordingId);
        this.#o.ports.release(ports);
      },
      ...(this.#o.forget ? { forget: () => this.#o.forget!(recordingId) } : {}),
      log,
    });
    const call: ActiveCall = {
      recordingId,
      callId: req.callId,
      sessionId: req.sessionId,
      srcAddress: req.srcAddress,
      startedAt: startedAt.toISOString(),
      participants: req.participants,
      streams: streams.map((s) => ({ label: s.label, codec: s.codec, port: s.port, legId: s.legId })),
    };
    this.#live.set(recordingId, {
      call,
      spoolDir,
      ports: [...ports],
      streams: streams.map((s, i) => ({
        ...s,
        ordinal: i + 1,
        index: req.streams[i]?.index ?? i,
        removed: false,
      })),
      startedMono: performance.now(),
      ending: false,
      queue: Promise.resolve(),
      writes: Promise.resolve(),
      paused: new Set(),
    });
    if (this.#control) {
      try {
        await this.#control.started(call);
      } catch (err) {
        log.error({ err }, 'recording control failed at the start; the call is recorded whole');
      }
    }
    log.info({ ports, streams: streams.length }, 'recording started');
    this.emit('event', { type: 'call-start', call });
    return { recordingId, ports };
  }

  #serial<T>(s: LiveSession, fn: () => Promise<T>): Promise<T> {
    const next = s.queue.then(fn, fn);
    s.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Applies a re-INVITE: streams stop (their legs close; what they recorded stays in the mix), new
   * ones start on new ports on the session's timeline, and streams pause (silence) or resume.
   */
  async updateStreams(recordingId: string, change: StreamChange): Promise<{ ports: number[] }> {
    const s = this.#live.get(recordingId);
    if (!s || s.ending) throw new InvalidStateError(`recording ${recordingId} is not live`);
    return this.#serial(s, () => {
      const { ports, write } = applyStreamChange(this.#o, recordingId, s, change);
      void this.#persist(s, recordingId, 'stream change', write).catch(() => undefined);
      return Promise.resolve({ ports });
    });
  }

  /**
   * Queues a catalogue write of a live session (after the ones before it), retried while the
   * database is away: a SIP answer never waits on the database. Resolves once written.
   */
  #persist(s: LiveSession, recordingId: string, what: string, write: () => Promise<void>): Promise<void> {
    const run = () =>
      handOff(write, {
        attempts: this.#o.handoffRetryLimit ?? 1000,
        onRetry: (attempt, err, delayMs) => {
          if (attempt === 1 || attempt % 10 === 0)
            this.#o.log.warn(
              { recordingId, what, attempt, delayMs, err: (err as Error).message },
              'catalogue write of a live call failed; retrying',
            );
        },
        stopped: () => this.#abandon,
      });
    const next = s.writes.then(run, run);
    s.writes = next.catch((err: unknown) =>
      this.#o.log.error({ recordingId, what, err }, 'catalogue write of a live call given up'),
    );
    return next;
  }

  /** Adds events to a live call's catalogue entry: resolves once written (retried while the database is away). */
  async addEvents(recordingId: string, events: SessionEvent[]): Promise<void> {
    const s = this.#live.get(recordingId);
    if (!s) throw new InvalidStateError(`recording ${recordingId} is not live`);
    await this.#serial(s, () => Promise.resolve());
    await this.#persist(s, recordingId, 'events', () => this.#o.store.addEvents(recordingId, events));
  }

  async updateMetadata(recordingId: string, u: MetadataUpdate): Promise<void> {
    const s = this.#live.get(recordingId);
    if (!s) throw new InvalidStateError(`recording ${recordingId} is not live`);
    await this.#serial(s, () => {
      s.call.participants = u.participants;
      const changed = s.streams.filter(
        (x) => u.streamIds[x.label] !== undefined && u.streamIds[x.label] !== x.streamId,
      );
      for (const x of changed) x.streamId = u.streamIds[x.label] ?? null;
      const at = new Date();
      void this.#persist(s, recordingId, 'metadata', async () => {
        await this.#o.store.replaceParticipants(recordingId, u.participants);
        await this.#o.store.upsertStreams(recordingId, changed);
        if (u.interactionId) await this.#o.store.setInteraction?.(recordingId, u.interactionId);
        await this.#o.store.addEvents(recordingId, [
          { at, type: 'metadata', detail: { xml: u.metadataXml, ...(u.parsed ?? {}) } },
        ]);
      }).catch(() => undefined);
      return Promise.resolve();
    });
  }

  /** Ends a call (BYE, CANCEL, ACK timeout, shutdown). Safe to call more than once. */
  async end(recordingId: string, reason: string): Promise<void> {
    const s = this.#live.get(recordingId);
    if (!s || s.ending) return;
    s.ending = true;
    const log = this.#o.log.child({ recordingId, callId: s.call.callId });
    // Receiving stops now; the last records are written off the event loop before the pipeline
    // gets the recording.
    const closing = this.#o.engine.endSession(recordingId);
    await s.queue;
    // The call's streams and events are in the catalogue before it is ended and finalized.
    await s.writes;
    const stats = (await closing) ?? null;
    this.#o.ports.release(s.ports);
    for (const l of stats?.legs ?? []) {
      this.#srtpEnded.authFailures += l.srtpAuthFailures ?? 0;
      this.#srtpEnded.replayDrops += l.srtpReplayDrops ?? 0;
    }
    const endedAt = new Date();
    const durationMs = Math.round(performance.now() - s.startedMono);
    const attempt = endOfCall({
      store: this.#o.store,
      finalize: this.#o.finalize,
      control: this.#control,
      recordingId,
      endedAt,
      durationMs,
      stats,
      serverReason: SERVER_ENDED.has(reason) || s.terminating ? (s.terminating ?? reason) : undefined,
      afterStep: this.#o.afterStep,
    });
    try {
      // The database may be away (restart, fail-over): the hand-off retries in-process with backoff,
      // so the recording is stored once it returns, without a restart (docs/security.md).
      await handOff(attempt, {
        attempts: this.#o.handoffRetryLimit ?? 1000,
        onRetry: (n, err, delayMs) => {
          this.#handoffRetries++;
          if (n === 1 || n % 10 === 0)
            log.warn(
              { attempt: n, delayMs, err: (err as Error).message },
              'end-of-call hand-off failed; retrying',
            );
        },
        stopped: () => this.#abandon,
      });
      log.info({ durationMs, reason, legs: stats?.legs }, 'recording ended');
      logSpoolDamage(log, stats);
    } catch (err) {
      // The spool is on disk: tried again every 30 s, and startup recovery finalizes what is left.
      log.error({ err }, 'could not hand the recording to the pipeline; trying again every 30 s');
      if (!this.#abandon) this.#later.add(recordingId, attempt);
    } finally {
      this.#live.delete(recordingId);
      this.emit('event', {
        type: 'call-end',
        call: s.call,
        endedAt: endedAt.toISOString(),
        durationMs,
        reason,
      });
    }
  }

  /**
   * The server ends a call itself (RTP timeout, maximum duration, disk floor, shutdown): BYE to the
   * SRC through the SIP side when the dialog exists, then the recording ends with `reason` (stored as
   * a `call-ended-by-server` event). Resolves once the recording is handed over.
   */
  async terminate(recordingId: string, reason: string): Promise<void> {
    const s = this.#live.get(recordingId);
    if (!s || s.ending || s.terminating) return;
    s.terminating = reason;
    this.#o.log.warn({ recordingId, callId: s.call.callId, reason }, 'the server ends the call');
    if (s.terminate) s.terminate(reason);
    await this.end(recordingId, reason);
  }

  /** Ends every live call with `reason` (BYE to each SRC). */
  async terminateAll(reason: string): Promise<void> {
    await Promise.all([...this.#live.keys()].map((id) => this.terminate(id, reason)));
  }

  /** Registers the SIP side's BYE for a call (RecordingPort.onTerminate). */
  onTerminate(recordingId: string, terminate: (reason: string) => void): void {
    const s = this.#live.get(recordingId);
    if (s) s.terminate = terminate;
  }

  /** Live sessions for the watchdog: start time, paused legs. */
  liveSessions(): { recordingId: string; startedMono: number; paused: number }[] {
    return [...this.#live.entries()]
      .filter(([, s]) => !s.ending)
      .map(([recordingId, s]) => ({ recordingId, startedMono: s.startedMono, paused: s.paused.size }));
  }

  /** End-of-call hand-offs retried because the database was away (for /metrics). */
  get handoffRetries(): number {
    return this.#handoffRetries;
  }

  /**
   * Stops taking calls and ends every live one: BYE to each SRC, the recording stored with its real
   * duration (reason `shutdown`). `abandonAfterMs`: hand-offs still failing then give up (startup
   * recovery finalizes what is left).
   */
  async close(abandonAfterMs = 15_000): Promise<void> {
    this.#closed = true;
    const timer = setTimeout(() => (this.#abandon = true), abandonAfterMs);
    timer.unref();
    await this.terminateAll('shutdown');
    clearTimeout(timer);
    this.#later.stop();
  }
}
