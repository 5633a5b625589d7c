/**
 * The compiled addon (native/src/addon*.cc): its shape as TypeScript sees it, and loading it once
 * per path with its version checked against the package.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SrsError } from '../errors.js';
import type { LegCounters, LegStats, MediaEvent, PayloadSpec, SrtpParams } from './types.js';

/** The native addon could not be loaded, or it was built from another version of the package. */
export class MediaEngineLoadError extends SrsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MEDIA_ENGINE_LOAD', message, options);
  }
}

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where the addon is looked for unless `addonPath` says otherwise. */
export const defaultAddonPath = join(packageRoot, 'build', 'Release', 'srs_media.node');

export interface NativeLegStats extends LegStats {
  reanchors: number;
  aheadMs: number;
  spoolErrors: number;
}
export interface NativeSessionStats {
  recordingId: string;
  openedAtMs: number;
  legs: NativeLegStats[];
}
/** A leg as the addon takes it: payload types normalised to specs, SRTP passed through. */
export interface NativeLegSpec {
  legId: string;
  port: number;
  payloadTypes: Record<number, Required<PayloadSpec>>;
  srtp?: SrtpParams;
  remoteHost?: string;
  remotePort?: number;
  relatchMs?: number;
}
export interface NativeEngine {
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
export interface NativeCounters {
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
export interface NativeLiveChunk {
  recordingId: string;
  legId: string;
  records: Buffer;
}
export interface NativeMixResult {
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

/** Counters and events of the test-only simulateLeg entry (see native/src/addon_testing.cc). */
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
export interface NativeAddon {
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

/** The `code` a native error carries ("EADDRINUSE", "ERR_NO_SESSION", ...), if any. */
export function nativeCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}
