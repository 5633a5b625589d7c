import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InvalidStateError, NotFoundError, ParseError, SrsError } from '../errors.js';
import type {
  LegSpec,
  LegStats,
  MediaEngine,
  MediaEvent,
  MixOptions,
  MixResult,
  OpenSessionOptions,
  PayloadKind,
  SessionStats,
} from './types.js';

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
  legs: { legId: string; port: number; payloadTypes: Record<string, PayloadKind>; spool: string }[];
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
interface NativeEngine {
  openSession(options: OpenSessionOptions): number;
  closeSession(recordingId: string): NativeSessionStats | undefined;
  sessionStats(recordingId: string): NativeSessionStats | undefined;
  activeSessions(): number;
  close(): void;
}
interface NativeMixResult {
  wavPath: string;
  samples: number;
  legs: number;
  truncatedSpools: number;
}
interface NativeAddon {
  version: string;
  Engine: new (bindAddress: string, onEvents: (events: MediaEvent[]) => void) => NativeEngine;
  mix(spoolDir: string, wavPath: string): Promise<NativeMixResult>;
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
const KINDS: ReadonlySet<string> = new Set<PayloadKind>(['PCMU', 'PCMA', 'telephone-event', 'CN']);

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
      if (!KINDS.has(kind)) throw new RangeError(`leg ${leg.legId}: unknown payload kind ${String(kind)}`);
    }
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
    })),
  };
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
  return new SrsError('ERR_MEDIA_MIX', `cannot mix ${options.spoolDir} into ${options.wavPath}: ${detail}`, {
    cause: err,
  });
}

/**
 * Mixes a session's spool directory into a mono u-law WAV on the libuv thread pool. Needs no engine
 * (no sockets): the pipeline can finalize recordings of a process that died.
 */
export async function mixSpool(options: MixOptions, addonPath?: string): Promise<MixResult> {
  const addon = loadAddon(addonPath);
  let r: NativeMixResult;
  try {
    r = await addon.mix(options.spoolDir, options.wavPath);
  } catch (err) {
    throw mapMixError(err, options);
  }
  return { wavPath: r.wavPath, samples: r.samples, durationMs: (r.samples * 1000) / 8000, legs: r.legs };
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
  private closed = false;

  constructor(addon: NativeAddon, bindAddress: string, addonPath: string | undefined) {
    this.bindAddress = bindAddress;
    this.addonPath = addonPath;
    this.native = new addon.Engine(bindAddress, (events) => this.dispatch(events));
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
    mkdirSync(options.spoolDir, { recursive: true });
    let t0: number;
    try {
      t0 = this.native.openSession({
        recordingId: options.recordingId,
        spoolDir: options.spoolDir,
        legs: options.legs.map((l) => ({ legId: l.legId, port: l.port, payloadTypes: l.payloadTypes })),
      });
    } catch (err) {
      const code = nativeCode(err);
      const port = (err as { port?: number }).port;
      if (code === 'EADDRINUSE') {
        throw new PortInUseError(port ?? 0, this.bindAddress, { cause: err });
      }
      if (code === 'ERR_SESSION_EXISTS') throw new InvalidStateError((err as Error).message);
      if (code === 'EEXIST') {
        throw new InvalidStateError(
          `spool directory ${options.spoolDir} already holds spools of a session: ${(err as Error).message}`,
        );
      }
      throw new SrsError(
        'ERR_MEDIA',
        `cannot open media session ${options.recordingId}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const meta: SessionFile = {
      version: 1,
      recordingId: options.recordingId,
      t0,
      sampleRate: 8000,
      legs: options.legs.map((l) => ({
        legId: l.legId,
        port: l.port,
        payloadTypes: { ...l.payloadTypes },
        spool: `${l.legId}.spool`,
      })),
    };
    try {
      const file = join(options.spoolDir, SESSION_FILE);
      writeFileSync(`${file}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.native.closeSession(options.recordingId);
      throw err;
    }
  }

  closeSession(recordingId: string): SessionStats | undefined {
    const s = this.native.closeSession(recordingId);
    return s && toSessionStats(s);
  }

  sessionStats(recordingId: string): SessionStats | undefined {
    const s = this.native.sessionStats(recordingId);
    return s && toSessionStats(s);
  }

  mix(options: MixOptions): Promise<MixResult> {
    return mixSpool(options, this.addonPath);
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
