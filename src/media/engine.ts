/**
 * The MediaEngine over the native addon (sessions, legs, pauses, the live tap, stats). Loading the
 * addon: addon.ts; legs checked and mapped: legs.ts; session.json: session-file.ts; mixing and the
 * test-only entries: mix.ts. Their public names are re-exported here.
 */
import { isIP } from 'node:net';

import { InvalidStateError, NotFoundError, SrsError } from '../errors.js';
import { loadAddon, nativeCode, type NativeAddon, type NativeEngine, type NativeLiveChunk } from './addon.js';
import { toNativeLeg, toSessionStats, validateLegs, validateSrtp } from './legs.js';
import { mixSpool } from './mix.js';
import { legEntry, sessionFileText, type SessionFile } from './session-file.js';
import { scanSpoolRecords } from './spool.js';
import type {
  EngineHealth,
  LegSpec,
  LegCounters,
  LiveFrame,
  MediaTotals,
  MediaEngine,
  MediaEvent,
  MixOptions,
  MixResult,
  OpenSessionOptions,
  SessionStats,
  SrtpParams,
} from './types.js';

export { defaultAddonPath, loadAddon, MediaEngineLoadError } from './addon.js';
export type { SimulatedLegOp, SimulatedLegResult } from './addon.js';
export { normalizePayload, SRTP_KEY_SALT_BYTES } from './legs.js';
export { depacketizeAmrNative, mixSpool, simulateLegNative } from './mix.js';
export { pausedSpans, readPausedSpans, SESSION_FILE, spoolFilePath } from './session-file.js';
export type { SessionFile } from './session-file.js';

/** A leg's RTP port is already bound by another socket (ours or someone else's). */
export class PortInUseError extends SrsError {
  readonly port: number;
  constructor(port: number, bindAddress: string, options?: { cause?: unknown }) {
    super('ERR_PORT_IN_USE', `UDP port ${bindAddress}:${port} is already in use`, options);
    this.port = port;
  }
}

export interface LoadMediaEngineOptions {
  /** IPv4 or IPv6 address every RTP socket binds to. */
  bindAddress: string;
  /** Path of the compiled addon; defaults to build/Release/srs_media.node in the package. */
  addonPath?: string;
}

/**
 * MediaEngine over the addon. Stats semantics: packetsReceived counts every valid RTP packet of the
 * leg (any payload type, duplicates excluded); packetsIgnored counts unknown payload types and
 * datagrams that are not RTP; packetsLost counts sequence numbers skipped by the reorder window and
 * never received (a late arrival takes one back and counts in packetsLate). Events arrive every
 * ~150 ms. While sessions are open the engine keeps the event loop alive, like an open socket.
 */
class NativeMediaEngine implements MediaEngine {
  readonly bindAddress: string;
  private readonly native: NativeEngine;
  private readonly addonPath: string | undefined;
  private readonly listeners = new Set<(events: MediaEvent[]) => void>();
  private readonly watchers = new Map<string, Set<(frames: LiveFrame[]) => void>>();
  private readonly sessions = new Map<string, { spoolDir: string; meta: SessionFile }>();
  private closed = false;

  constructor(addon: NativeAddon, bindAddress: string, addonPath: string | undefined) {
    this.bindAddress = bindAddress;
    this.addonPath = addonPath;
    this.native = new addon.Engine(bindAddress, (events, live) => {
      if (events.length > 0) this.dispatch(events);
      if (live.length > 0) this.dispatchLive(live);
    });
  }

  private dispatchLive(chunks: NativeLiveChunk[]): void {
    const byRecording = new Map<string, LiveFrame[]>();
    for (const c of chunks) {
      if (!this.watchers.has(c.recordingId)) continue;
      let frames = byRecording.get(c.recordingId);
      if (!frames) byRecording.set(c.recordingId, (frames = []));
      const list = frames;
      scanSpoolRecords(c.records, 0, (offset, ulaw) => list.push({ legId: c.legId, offset, ulaw }));
    }
    for (const [recordingId, frames] of byRecording) {
      for (const w of this.watchers.get(recordingId) ?? []) {
        try {
          w(frames);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  }

  watch(recordingId: string, onFrames: (frames: LiveFrame[]) => void): () => void {
    let set = this.watchers.get(recordingId);
    if (!set) {
      this.watchers.set(recordingId, (set = new Set()));
      if (!this.closed) this.native.setWatched(recordingId, true);
    }
    const mine = set;
    mine.add(onFrames);
    return () => {
      mine.delete(onFrames);
      if (mine.size === 0 && this.watchers.get(recordingId) === mine) {
        this.watchers.delete(recordingId);
        if (!this.closed) this.native.setWatched(recordingId, false);
      }
    };
  }

  private dispatch(events: MediaEvent[]): void {
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (err) {
        // One listener's bug must not hide the batch from the others; it still surfaces as uncaught.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  openSession(options: OpenSessionOptions): void {
    if (this.closed) throw new InvalidStateError('the media engine is closed');
    if (typeof options.recordingId !== 'string' || options.recordingId === '') {
      throw new RangeError('recordingId must be a non-empty string');
    }
    validateLegs(options.legs);
    // No file work here: the engine's worker makes the directory and the spool files, and writes
    // session.json, in its next pass (within a tick).
    let t0: number;
    try {
      t0 = this.native.openSession({
        recordingId: options.recordingId,
        spoolDir: options.spoolDir,
        legs: options.legs.map(toNativeLeg),
        rtcp: options.rtcp === true,
      });
    } catch (err) {
      throw this.mapOpenError(err, options.recordingId, options.spoolDir);
    }
    const meta: SessionFile = {
      version: 1,
      recordingId: options.recordingId,
      t0,
      sampleRate: 8000,
      legs: options.legs.map(legEntry),
    };
    this.native.saveMeta(options.recordingId, sessionFileText(meta));
    this.sessions.set(options.recordingId, { spoolDir: options.spoolDir, meta });
  }

  private mapOpenError(err: unknown, recordingId: string, spoolDir: string): Error {
    const code = nativeCode(err);
    const port = (err as { port?: number }).port;
    if (code === 'EADDRINUSE') return new PortInUseError(port ?? 0, this.bindAddress, { cause: err });
    if (code === 'ERR_SESSION_EXISTS') return new InvalidStateError((err as Error).message);
    if (code === 'ERR_NO_SESSION') return new NotFoundError((err as Error).message);
    if (code === 'EEXIST') {
      return new InvalidStateError(
        `spool directory ${spoolDir} already holds spools of a session: ${(err as Error).message}`,
      );
    }
    return new SrsError('ERR_MEDIA', `cannot open media for ${recordingId}: ${(err as Error).message}`, {
      cause: err,
    });
  }

  /**
   * Adds legs to an open session (streams added by a re-INVITE): same timeline, same spool
   * directory, part of the mix. Throws PortInUseError when a port is taken (nothing is changed).
   * `paused`: they open paused (recording control holds the call), paused in session.json from
   * their start on, so that no gap breaks a span the cut mode leaves out.
   */
  addLegs(recordingId: string, legs: readonly LegSpec[], options: { paused?: boolean } = {}): void {
    if (this.closed) throw new InvalidStateError('the media engine is closed');
    const s = this.sessions.get(recordingId);
    if (!s) throw new NotFoundError(`no open media session for recording ${recordingId}`);
    validateLegs(legs);
    for (const l of legs) {
      if (s.meta.legs.some((x) => x.legId === l.legId || x.port === l.port))
        throw new RangeError(`leg ${l.legId} (port ${l.port}) clashes with a leg of the session`);
    }
    try {
      this.native.addLegs(recordingId, legs.map(toNativeLeg));
    } catch (err) {
      throw this.mapOpenError(err, recordingId, s.spoolDir);
    }
    const addedAt = this.nowSamples(s.meta);
    s.meta.legs.push(...legs.map((l) => ({ ...legEntry(l), addedAt })));
    const ids = legs.map((l) => l.legId);
    // Before this returns: the SRC learns the new ports from our answer, after it.
    if (options.paused === true && ids.length > 0 && this.native.setPaused(recordingId, ids, true) !== false)
      (s.meta.pauses ??= []).push(...ids.map((legId) => ({ legId, from: addedAt, to: null })));
    this.saveMeta(recordingId, s);
  }

  /** Samples since the session's t0 by the wall clock (the engine's own clock for pauses). */
  private nowSamples(meta: SessionFile): number {
    return Math.max(0, Math.round((Date.now() - meta.t0) * 8));
  }

  /** Stops receiving on the named legs (streams removed by a re-INVITE); their audio stays in the mix. */
  removeLegs(recordingId: string, legIds: readonly string[]): void {
    if (this.closed) return;
    this.native.removeLegs(recordingId, legIds);
    const s = this.sessions.get(recordingId);
    if (!s) return;
    const at = this.nowSamples(s.meta);
    let changed = false;
    for (const l of s.meta.legs) {
      if (legIds.includes(l.legId) && l.removedAt === undefined) {
        l.removedAt = at;
        changed = true;
      }
    }
    if (changed) this.saveMeta(recordingId, s);
  }

  /**
   * Hands session.json's new contents to the engine, whose worker writes it (tmp + rename) in its
   * next pass; the session's close writes the latest version. A failed write keeps the previous one
   * (the audio is in the spools; only the pause/leg times would be missing).
   */
  private saveMeta(recordingId: string, s: { meta: SessionFile }): void {
    this.native.saveMeta(recordingId, sessionFileText(s.meta));
  }

  /** Records a pause/resume of `legIds` (all when empty) at `at` in the session file. */
  private notePause(recordingId: string, legIds: readonly string[], paused: boolean, at: number): void {
    const s = this.sessions.get(recordingId);
    if (!s) return;
    const pauses = (s.meta.pauses ??= []);
    const ids = legIds.length > 0 ? legIds : s.meta.legs.map((l) => l.legId);
    let changed = false;
    for (const legId of ids) {
      const open = pauses.find((p) => p.legId === legId && p.to === null);
      if (paused && !open) {
        pauses.push({ legId, from: at, to: null });
        changed = true;
      } else if (!paused && open) {
        open.to = at;
        changed = true;
      }
    }
    if (changed) this.saveMeta(recordingId, s);
  }

  closeSession(recordingId: string): SessionStats | undefined {
    this.sessions.delete(recordingId);
    const s = this.native.closeSession(recordingId);
    return s && toSessionStats(s);
  }

  async endSession(recordingId: string): Promise<SessionStats | undefined> {
    this.sessions.delete(recordingId);
    if (this.closed) return undefined;
    const s = await this.native.endSession(recordingId);
    return s && toSessionStats(s);
  }

  sessionStats(recordingId: string): SessionStats | undefined {
    const s = this.native.sessionStats(recordingId);
    return s && toSessionStats(s);
  }

  mediaTotals(): MediaTotals {
    const c = this.native.counters(false);
    return {
      packetsReceived: c.packetsReceived,
      packetsLost: c.packetsLost,
      packetsRejected: c.packetsRejected ?? 0,
      spoolErrors: c.spoolErrors ?? 0,
      spoolDamagedMs: c.spoolDamagedMs ?? 0,
    };
  }

  /** The worker thread's state: a dead worker receives nothing (the server must refuse calls). */
  health(): EngineHealth {
    if (this.closed) return { workerFailure: null, eventsDropped: 0 };
    const c = this.native.counters(false);
    return {
      workerFailure: c.workerFailure ?? null,
      eventsDropped: (c.eventsDropped ?? 0) + (c.eventBatchesDropped ?? 0),
      spoolQueueBytes: c.spoolQueueBytes ?? 0,
      spoolQueuePeakBytes: c.spoolQueuePeakBytes ?? 0,
      spoolBatchesDropped: c.spoolBatchesDropped ?? 0,
    };
  }

  /** Test-only fault injection ("worker-exit"). */
  testFault(kind: string): boolean {
    return this.closed ? false : (this.native.testFault?.(kind) ?? false);
  }

  liveCounters(): Map<string, LegCounters[]> {
    const out = new Map<string, LegCounters[]>();
    for (const s of this.native.counters(true).sessions ?? []) out.set(s.recordingId, s.legs);
    return out;
  }

  mix(options: MixOptions): Promise<MixResult> {
    return mixSpool(options, this.addonPath);
  }

  rekey(recordingId: string, legId: string, srtp: SrtpParams | null): boolean {
    if (this.closed) return false;
    if (srtp !== null) validateSrtp(legId, srtp);
    return this.native.rekey(recordingId, legId, srtp);
  }

  pause(recordingId: string, legIds: readonly string[] = []): boolean {
    return this.setPaused(recordingId, legIds, true);
  }

  resume(recordingId: string, legIds: readonly string[] = []): boolean {
    return this.setPaused(recordingId, legIds, false);
  }

  private setPaused(recordingId: string, legIds: readonly string[], paused: boolean): boolean {
    if (this.closed) return false;
    const at = this.native.setPaused(recordingId, legIds, paused);
    if (at === false) return false;
    this.notePause(recordingId, legIds, paused, at);
    return true;
  }

  onEvents(listener: (events: MediaEvent[]) => void): void {
    this.listeners.add(listener);
  }

  get activeSessions(): number {
    return this.native.activeSessions();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sessions.clear();
    this.watchers.clear();
    this.native.close();
  }
}

/**
 * Loads the native addon and starts its receive thread. Sessions bind their RTP sockets on
 * `bindAddress`. Throws MediaEngineLoadError (what was tried, why it failed, how to fix it) if the
 * addon is missing or stale.
 */
export function loadMediaEngine(opts: LoadMediaEngineOptions): MediaEngine {
  if (isIP(opts.bindAddress) === 0)
    throw new RangeError(`bindAddress is not an IP address: ${opts.bindAddress}`);
  const addon = loadAddon(opts.addonPath);
  return new NativeMediaEngine(addon, opts.bindAddress, opts.addonPath);
}
