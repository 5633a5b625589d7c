import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InvalidStateError, NotFoundError, ParseError, SrsError } from '../errors.js';
import { scanSpoolRecords } from './spool.js';
import type {
  EngineHealth,
  LegSpec,
  LegCounters,
  LegStats,
  LiveFrame,
  MediaTotals,
  MediaEngine,
  MediaEvent,
  MixOptions,
  MixResult,
  OpenSessionOptions,
  PayloadKind,
  PayloadSpec,
  SessionStats,
  SrtpParams,
  SrtpSuite,
} from './types.js';
import { DECODABLE } from './types.js';

/** A leg's RTP port is already bound by another socket (ours or someone else's). */
export class PortInUseError extends SrsError {
  readonly port: number;
  constructor(port: number, bindAddress: string, options?: { cause?: unknown }) {
    super('ERR_PORT_IN_USE', `UDP port ${bindAddress}:${port} is already in use`, options);
    this.port = port;
  }
}

/** The native addon could not be loaded, or it was built from another version of the package. */
export class MediaEngineLoadError extends SrsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MEDIA_ENGINE_LOAD', message, options);
  }
}

export interface LoadMediaEngineOptions {
  /** IPv4 or IPv6 address every RTP socket binds to. */
  bindAddress: string;
  /** Path of the compiled addon; defaults to build/Release/srs_media.node in the package. */
  addonPath?: string;
}

/** The spool file of one leg inside a session's spool directory. */
export function spoolFilePath(spoolDir: string, legId: string): string {
  return join(spoolDir, `${legId}.spool`);
}

/** The metadata file written next to the spools when a session opens. */
export const SESSION_FILE = 'session.json';

/** Contents of `<spoolDir>/session.json`. */
export interface SessionFile {
  version: 1;
  recordingId: string;
  /** Epoch ms of the session's t0: spool offsets count 8 kHz samples from here. */
  t0: number;
  sampleRate: 8000;
  legs: {
    legId: string;
    port: number;
    /** What each payload type meant (never any SRTP parameter: keys stay out of session.json). */
    payloadTypes: Record<string, PayloadKind | PayloadSpec>;
    spool: string;
    /** Samples since t0 when the leg was added by a re-INVITE (absent: from the start). */
    addedAt?: number;
    /** Samples since t0 when the leg was removed by a re-INVITE (absent: to the end). */
    removedAt?: number;
  }[];
  /** Paused intervals of each leg in samples since t0 (`to` null: paused until the end). */
  pauses?: { legId: string; from: number; to: number | null }[];
}

/** A time later than any recording's end (samples), for intervals open to the end. */
const OPEN_END = 2 ** 48;

/**
 * The timeline intervals `[from, to)` (samples since t0) during which the whole recording was
 * paused: every leg that existed then was paused (a SIPREC pause, or every stream re-offered
 * a=inactive). A leg alone on hold does not count: the other party is still recorded. Sorted,
 * merged; an interval still open at the end runs to 2^48. Pure; used for the pause "cut" mode.
 */
export function pausedSpans(meta: Pick<SessionFile, 'legs' | 'pauses'>): [number, number][] {
  const pauses = meta.pauses ?? [];
  const legs = meta.legs ?? [];
  const points = new Set<number>([0]);
  for (const l of legs) {
    if (l.addedAt !== undefined) points.add(l.addedAt);
    if (l.removedAt !== undefined) points.add(l.removedAt);
  }
  for (const p of pauses) {
    points.add(p.from);
    if (p.to !== null) points.add(p.to);
  }
  const sorted = [...points].sort((a, b) => a - b);
  const out: [number, number][] = [];
  sorted.forEach((t, i) => {
    const live = legs.filter((l) => (l.addedAt ?? 0) <= t && t < (l.removedAt ?? OPEN_END));
    const allPaused =
      live.length > 0 &&
      live.every((l) => pauses.some((p) => p.legId === l.legId && p.from <= t && t < (p.to ?? OPEN_END)));
    if (!allPaused) return;
    const end = sorted[i + 1] ?? OPEN_END;
    const last = out[out.length - 1];
    if (last && last[1] === t) last[1] = end;
    else out.push([t, end]);
  });
  return out;
}

/** `pausedSpans` of a spool directory's session.json (none when it has no session file). */
export async function readPausedSpans(spoolDir: string): Promise<[number, number][]> {
  let meta: SessionFile;
  try {
    meta = JSON.parse(await readFile(join(spoolDir, SESSION_FILE), 'utf8')) as SessionFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ParseError(`cannot read ${join(spoolDir, SESSION_FILE)}: ${(err as Error).message}`);
  }
  return pausedSpans(meta);
}

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where the addon is looked for unless `addonPath` says otherwise. */
export const defaultAddonPath = join(packageRoot, 'build', 'Release', 'srs_media.node');

// ---- The addon's shape (native/src/addon.cc) ----

interface NativeLegStats extends LegStats {
  reanchors: number;
  spoolErrors: number;
}
interface NativeSessionStats {
  recordingId: string;
  openedAtMs: number;
  legs: NativeLegStats[];
}
/** A leg as the addon takes it: payload types normalised to specs, SRTP passed through. */
interface NativeLegSpec {
  legId: string;
  port: number;
  payloadTypes: Record<number, Required<PayloadSpec>>;
  srtp?: SrtpParams;
  remoteHost?: string;
  remotePort?: number;
  relatchMs?: number;
}
interface NativeEngine {
  openSession(options: {
    recordingId: string;
    spoolDir: string;
    legs: readonly NativeLegSpec[];
    rtcp: boolean;
  }): number;
  /** false: unknown session or leg. */
  rekey(recordingId: string, legId: string, srtp: SrtpParams | null): boolean;
  /** The time of the pause/resume (samples since t0), or false for an unknown session or leg. */
  setPaused(recordingId: string, legIds: readonly string[], paused: boolean): number | false;
  setWatched(recordingId: string, watched: boolean): boolean;
  addLegs(recordingId: string, legs: readonly NativeLegSpec[]): void;
  removeLegs(recordingId: string, legIds: readonly string[]): boolean;
  closeSession(recordingId: string): NativeSessionStats | undefined;
  endSession(recordingId: string): Promise<NativeSessionStats | undefined>;
  saveMeta(recordingId: string, text: string): boolean;
  counters(perSession: boolean): NativeCounters;
  sessionStats(recordingId: string): NativeSessionStats | undefined;
  activeSessions(): number;
  close(): void;
  testFault?(kind: string): boolean;
}
interface NativeCounters {
  packetsReceived: number;
  packetsLost: number;
  packetsRejected?: number;
  spoolErrors?: number;
  spoolDamagedMs?: number;
  eventsDropped?: number;
  eventBatchesDropped?: number;
  spoolQueueBytes?: number;
  spoolQueuePeakBytes?: number;
  spoolBatchesDropped?: number;
  workerFailure?: string;
  sessions?: { recordingId: string; legs: LegCounters[] }[];
}
/** A watched session's new spool records of one leg since the last tick (native/src/engine.h LiveChunk). */
interface NativeLiveChunk {
  recordingId: string;
  legId: string;
  records: Buffer;
}
interface NativeMixResult {
  /** File mode only. */
  wavPath?: string;
  /** Into-memory mode only (no wavPath): the WAV, in a Buffer that owns the native bytes. */
  data?: Buffer;
  samples: number;
  legs: number;
  truncatedSpools: number;
}
/** A datagram at `at` (samples), a pause/resume of the leg, or (neither) a worker tick. */
export interface SimulatedLegOp {
  at: number;
  data?: Uint8Array;
  pause?: boolean;
  resume?: boolean;
}

/** Counters and events of the test-only simulateLeg entry (see native/src/addon.cc). */
export interface SimulatedLegResult {
  packetsReceived: number;
  packetsLost: number;
  packetsDuplicate: number;
  packetsLate: number;
  packetsIgnored: number;
  reanchors: number;
  packetsPaused: number;
  /** RFC 3550 A.8 interarrival jitter of the audio packets, times 16, in samples. */
  jitterQ4: number;
  /** Payloads of a known codec its decoder rejected. */
  packetsUndecodable: number;
  /** Audio codecs played (engine order). */
  codecs: string[];
  ssrcs: number[];
  dtmf: { digit: string; atSamples: number; durationSamples: number }[];
  events: { type: string; atSamples: number; ssrc: number; digit: string; durationSamples: number }[];
}
interface NativeAddon {
  version: string;
  depacketizeAmr(
    payload: Buffer,
    wideband: boolean,
    octetAlign: boolean,
  ): { frames: Buffer; count: number } | null;
  simulateLeg(
    spoolPath: string,
    payloadTypes: Readonly<Record<number, Required<PayloadSpec>>>,
    ops: readonly SimulatedLegOp[],
  ): SimulatedLegResult;
  Engine: new (
    bindAddress: string,
    onEvents: (events: MediaEvent[], live: NativeLiveChunk[]) => void,
  ) => NativeEngine;
  mix(
    spoolDir: string,
    wavPath: string | undefined,
    channels?: readonly (readonly string[])[],
    cuts?: readonly (readonly [number, number])[],
  ): Promise<NativeMixResult>;
}

const loaded = new Map<string, NativeAddon>();

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

/** Loads (once per path) the compiled addon, checking that it was built from this package version. */
export function loadAddon(addonPath: string = defaultAddonPath): NativeAddon {
  const cached = loaded.get(addonPath);
  if (cached) return cached;
  const fix =
    'Build it with `npm rebuild` (or `npx node-gyp rebuild`) in the package directory; ' +
    'building needs python3, make and g++ (Debian/Ubuntu: apt-get install python3 make g++).';
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new MediaEngineLoadError(
      `Cannot load the native media engine from ${addonPath}: ${reason}. ${fix}`,
      { cause },
    );
  }
  const expected = packageVersion();
  if (addon.version !== expected) {
    throw new MediaEngineLoadError(
      `The native media engine at ${addonPath} was built for version ${String(addon.version)}, ` +
        `but the package is version ${expected}: the build is stale. ${fix}`,
    );
  }
  loaded.set(addonPath, addon);
  return addon;
}

// ---- Validation and mapping ----

const LEG_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CODECS: ReadonlySet<string> = new Set<string>([...DECODABLE, 'telephone-event', 'CN']);
const LEGACY_KINDS: Readonly<Record<PayloadKind, Required<PayloadSpec>>> = {
  PCMU: { codec: 'PCMU', clockRate: 8000, channels: 1, fmtp: '' },
  PCMA: { codec: 'PCMA', clockRate: 8000, channels: 1, fmtp: '' },
  'telephone-event': { codec: 'telephone-event', clockRate: 8000, channels: 1, fmtp: '' },
  CN: { codec: 'CN', clockRate: 8000, channels: 1, fmtp: '' },
};

/** Master key + salt lengths (RFC 3711, RFC 6188, RFC 7714) of each suite. */
export const SRTP_KEY_SALT_BYTES: Readonly<Record<SrtpSuite, number>> = {
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
  AES_256_CM_HMAC_SHA1_80: 46,
  AES_256_CM_HMAC_SHA1_32: 46,
  AEAD_AES_128_GCM: 28,
  AEAD_AES_256_GCM: 44,
};

/** One payload type's meaning as the addon takes it (old PayloadKind strings map to 8 kHz specs). */
export function normalizePayload(
  legId: string,
  pt: string,
  v: PayloadKind | PayloadSpec,
): Required<PayloadSpec> {
  if (typeof v === 'string') {
    const legacy = LEGACY_KINDS[v];
    if (!legacy)
      throw new RangeError(`leg ${legId}: unknown payload kind ${String(v)} for payload type ${pt}`);
    return legacy;
  }
  if (typeof v !== 'object' || v === null || !CODECS.has(v.codec))
    throw new RangeError(
      `leg ${legId}: unknown codec ${String((v as { codec?: unknown })?.codec)} for payload type ${pt}`,
    );
  if (!Number.isInteger(v.clockRate) || v.clockRate < 1000 || v.clockRate > 192000)
    throw new RangeError(`leg ${legId}: payload type ${pt} has a bad clock rate ${String(v.clockRate)}`);
  const channels = v.channels ?? 1;
  if (!Number.isInteger(channels) || channels < 1 || channels > 8)
    throw new RangeError(`leg ${legId}: payload type ${pt} has a bad channel count ${String(v.channels)}`);
  const fmtp = v.fmtp ?? '';
  if (typeof fmtp !== 'string' || fmtp.length > 1000)
    throw new RangeError(`leg ${legId}: payload type ${pt} has a bad fmtp`);
  return { codec: v.codec, clockRate: v.clockRate, channels, fmtp };
}

/** Checks SRTP parameters without ever putting the key into a message. */
function validateSrtp(legId: string, srtp: SrtpParams): void {
  const want = SRTP_KEY_SALT_BYTES[srtp.suite];
  if (want === undefined) throw new RangeError(`leg ${legId}: unknown SRTP suite ${String(srtp.suite)}`);
  if (!Buffer.isBuffer(srtp.keySalt) || srtp.keySalt.length !== want)
    throw new RangeError(`leg ${legId}: ${srtp.suite} needs a ${want}-byte master key and salt`);
  if (srtp.mki !== undefined) {
    const { value, length } = srtp.mki;
    if (!Number.isInteger(length) || length < 1 || length > 4)
      throw new RangeError(`leg ${legId}: SRTP MKI length must be 1..4 bytes`);
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * length))
      throw new RangeError(`leg ${legId}: SRTP MKI value does not fit its length`);
  }
}

function toNativeLeg(l: LegSpec): NativeLegSpec {
  const payloadTypes: Record<number, Required<PayloadSpec>> = {};
  for (const [pt, v] of Object.entries(l.payloadTypes))
    payloadTypes[Number(pt)] = normalizePayload(l.legId, pt, v);
  // What the addon takes of a leg: its socket, payload types, SRTP key and ingress trust (latching).
  return {
    legId: l.legId,
    port: l.port,
    payloadTypes,
    ...(l.srtp ? { srtp: l.srtp } : {}),
    ...(l.remoteHost ? { remoteHost: l.remoteHost } : {}),
    ...(l.remotePort ? { remotePort: l.remotePort } : {}),
    ...(l.relatchMs ? { relatchMs: l.relatchMs } : {}),
  };
}

function validateLegs(legs: readonly LegSpec[]): void {
  if (legs.length === 0) throw new RangeError('a session needs at least one leg');
  const ids = new Set<string>();
  const ports = new Set<number>();
  for (const leg of legs) {
    if (!LEG_ID.test(leg.legId))
      throw new RangeError(`legId is not a safe file name: ${JSON.stringify(leg.legId)}`);
    if (ids.has(leg.legId)) throw new RangeError(`duplicate legId ${leg.legId}`);
    ids.add(leg.legId);
    if (!Number.isInteger(leg.port) || leg.port < 2 || leg.port > 65534 || leg.port % 2 !== 0) {
      throw new RangeError(`leg ${leg.legId}: RTP port must be an even integer in 2..65534, got ${leg.port}`);
    }
    if (ports.has(leg.port)) throw new RangeError(`port ${leg.port} is used by two legs`);
    ports.add(leg.port);
    for (const [pt, kind] of Object.entries(leg.payloadTypes)) {
      const n = Number(pt);
      if (!Number.isInteger(n) || n < 0 || n > 127)
        throw new RangeError(`leg ${leg.legId}: bad payload type ${pt}`);
      normalizePayload(leg.legId, pt, kind);
    }
    if (leg.srtp !== undefined) validateSrtp(leg.legId, leg.srtp);
  }
}

function toSessionStats(s: NativeSessionStats): SessionStats {
  return {
    recordingId: s.recordingId,
    openedAt: new Date(s.openedAtMs),
    legs: s.legs.map((l) => ({
      legId: l.legId,
      packetsReceived: l.packetsReceived,
      packetsLost: l.packetsLost,
      packetsDuplicate: l.packetsDuplicate,
      packetsLate: l.packetsLate,
      packetsIgnored: l.packetsIgnored,
      ssrcs: l.ssrcs,
      firstPacketMs: l.firstPacketMs,
      spoolErrors: l.spoolErrors,
      packetsRejected: l.packetsRejected ?? 0,
      spoolDamagedMs: l.spoolDamagedMs ?? 0,
      spoolDamagedSpansMs: l.spoolDamagedSpansMs ?? [],
      ssrcsOverflow: l.ssrcsOverflow ?? 0,
      jitterMs: l.jitterMs,
      packetsPaused: l.packetsPaused,
      rtcpPackets: l.rtcpPackets,
      dtmf: l.dtmf,
      srtpAuthFailures: l.srtpAuthFailures,
      srtpReplayDrops: l.srtpReplayDrops,
      packetsUndecodable: l.packetsUndecodable,
      codecs: l.codecs,
    })),
  };
}

function legEntry(l: LegSpec): SessionFile['legs'][number] {
  // Deliberately field by field: l.srtp (the key) must never reach session.json.
  return { legId: l.legId, port: l.port, payloadTypes: { ...l.payloadTypes }, spool: `${l.legId}.spool` };
}

function sessionFileText(meta: SessionFile): string {
  return `${JSON.stringify(meta, null, 2)}\n`;
}

function nativeCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

function mapMixError(err: unknown, options: MixOptions): Error {
  const code = nativeCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT' || code === 'ERR_NO_SPOOL') {
    return new NotFoundError(`cannot mix ${options.spoolDir}: ${detail}`);
  }
  if (code === 'ERR_SPOOL_FORMAT') return new ParseError(`cannot mix ${options.spoolDir}: ${detail}`);
  const into = options.wavPath ? options.wavPath : 'memory';
  return new SrsError('ERR_MEDIA_MIX', `cannot mix ${options.spoolDir} into ${into}: ${detail}`, {
    cause: err,
  });
}

/**
 * Mixes a session's spool directory into a u-law WAV on the libuv thread pool. Needs no engine
 * (no sockets): the pipeline can finalize recordings of a process that died. With
 * `options.wavPath` the WAV is written to that file (result `wavPath`); without it, it is mixed into
 * memory (result `data`, the same bytes) and never touches the disk.
 */
export async function mixSpool(options: MixOptions, addonPath?: string): Promise<MixResult> {
  const addon = loadAddon(addonPath);
  if (options.channels !== undefined) {
    if (options.channels.length === 0 || options.channels.length > 8)
      throw new RangeError('channels must list 1 to 8 channels');
    for (const ch of options.channels)
      for (const legId of ch)
        if (!LEG_ID.test(legId)) throw new RangeError(`bad legId in channels: ${JSON.stringify(legId)}`);
  }
  for (const c of options.cut ?? []) {
    if (!Array.isArray(c) || c.length !== 2 || !(c[0] >= 0) || !(c[1] >= c[0]) || c[1] > OPEN_END)
      throw new RangeError(`bad cut interval: ${JSON.stringify(c)}`);
  }
  let r: NativeMixResult;
  try {
    r = await addon.mix(
      options.spoolDir,
      options.wavPath || undefined,
      options.channels,
      options.cut?.map((c) => [Math.floor(c[0]), Math.floor(c[1])] as const),
    );
  } catch (err) {
    throw mapMixError(err, options);
  }
  const durationMs = (r.samples * 1000) / 8000;
  if (r.data !== undefined) return { data: r.data, samples: r.samples, durationMs, legs: r.legs };
  return { wavPath: r.wavPath, samples: r.samples, durationMs, legs: r.legs };
}

/**
 * Test-only and deterministic: runs the native leg receive logic (no sockets, no threads) over
 * datagrams with given arrival times (`at`, samples since t0; an op without data is a worker tick:
 * release held packets, flush the spool) and writes the leg's spool file at `spoolPath`. The parity
 * tests compare it with the TypeScript reference (src/media/reference).
 */
export function simulateLegNative(
  spoolPath: string,
  payloadTypes: Readonly<Record<number, PayloadKind | PayloadSpec>>,
  ops: readonly SimulatedLegOp[],
  addonPath?: string,
): SimulatedLegResult {
  return loadAddon(addonPath).simulateLeg(
    spoolPath,
    toNativeLeg({ legId: 'sim', port: 2, payloadTypes }).payloadTypes,
    ops.map((o) =>
      o.data
        ? { at: o.at, data: Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength) }
        : { at: o.at, pause: o.pause === true, resume: o.resume === true },
    ),
  );
}

/** Test-only: the native RFC 4867 depacketizer (parity with src/media/reference/amr.ts). */
export function depacketizeAmrNative(
  payload: Uint8Array,
  wideband: boolean,
  octetAlign: boolean,
  addonPath?: string,
): { frames: Buffer; count: number } | null {
  return loadAddon(addonPath).depacketizeAmr(
    Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    wideband,
    octetAlign,
  );
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
   */
  addLegs(recordingId: string, legs: readonly LegSpec[]): void {
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
