/** Mixing a spool directory with the addon (no engine needed), and the addon's test-only entries. */
import { NotFoundError, ParseError, SrsError } from '../errors.js';
import {
  loadAddon,
  nativeCode,
  type NativeMixResult,
  type SimulatedLegOp,
  type SimulatedLegResult,
} from './addon.js';
import { LEG_ID, toNativeLeg } from './legs.js';
import { OPEN_END } from './session-file.js';
import type { MixOptions, MixResult, PayloadKind, PayloadSpec } from './types.js';

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
