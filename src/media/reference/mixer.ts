/**
 * The mixer, as native/src/mixer.cc computes it: every leg's spool records applied in offset order
 * (file order for equal offsets, so the later record wins), legs summed as linear PCM, the sum
 * saturated to int16 (never wrapped) and encoded as u-law; written as a mono WAVE_FORMAT_MULAW file
 * with a fact chunk (58-byte header, a pad byte when the data is odd-sized). Timeline intervals
 * given as `cuts` (the pause "cut" mode) are left out. Pure.
 */
import { parseSpool } from '../spool.js';
import { linearToUlaw, ULAW_DECODE } from './g711.js';
import { ulawWavHeader } from '../wav.js';

/** The header writer is production code (src/media/wav.ts); the reference mixer writes it too. */
export { ulawWavHeader, WAV_HEADER_SIZE } from '../wav.js';

/** One leg's linear timeline (silence where it has no audio), `total` samples long. */
export function legTimeline(spool: Uint8Array, total: number): Int16Array {
  const out = new Int16Array(total);
  const records = parseSpool(spool).records.map((r, order) => ({ ...r, order }));
  records.sort((a, b) => (a.offset !== b.offset ? a.offset - b.offset : a.order - b.order));
  for (const r of records) {
    for (let i = 0; i < r.data.length && r.offset + i < total; i++) {
      out[r.offset + i] = ULAW_DECODE[r.data[i] as number] as number;
    }
  }
  return out;
}

/** Samples in the mix: the end of the latest record of any leg. */
export function mixLength(spools: readonly Uint8Array[]): number {
  let total = 0;
  for (const s of spools) {
    for (const r of parseSpool(s).records) total = Math.max(total, r.offset + r.data.length);
  }
  return total;
}

/** The timeline positions kept when `cuts` ([from, to) in samples) are left out of [0, total). */
export function keptPositions(total: number, cuts: readonly (readonly [number, number])[] = []): number[] {
  const cut = new Uint8Array(total);
  for (const [from, to] of cuts) cut.fill(1, Math.min(from, total), Math.min(Math.max(from, to), total));
  const kept: number[] = [];
  for (let i = 0; i < total; i++) if (cut[i] === 0) kept.push(i);
  return kept;
}

/**
 * Mixes spool file contents into a u-law WAV: by default one channel with every leg; with
 * `channels`, indices into `spools` per output channel (interleaved), as the native mixer's
 * legIds per channel; without the timeline intervals in `cuts`.
 */
export function mixSpoolsToWav(
  spools: readonly Uint8Array[],
  channels?: readonly (readonly number[])[],
  cuts?: readonly (readonly [number, number])[],
): Buffer {
  const total = mixLength(spools);
  const kept = keptPositions(total, cuts);
  const chans = channels ?? [spools.map((_, i) => i)];
  const timelines = spools.map((s) => legTimeline(s, total));
  const n = chans.length;
  const bytes = kept.length * n;
  const data = Buffer.alloc(bytes + (bytes & 1));
  const sum = new Int32Array(total);
  chans.forEach((legs, c) => {
    sum.fill(0);
    for (const l of legs) {
      const t = timelines[l] as Int16Array;
      for (let i = 0; i < total; i++) (sum[i] as number) += t[i] as number;
    }
    kept.forEach((pos, i) => {
      data[i * n + c] = linearToUlaw(Math.max(-32768, Math.min(32767, sum[pos] as number)));
    });
  });
  return Buffer.concat([ulawWavHeader(kept.length, n), data]);
}
