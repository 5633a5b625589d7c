/**
 * How fast this machine is, in the recorder's own work: the CPU time libmp3lame (in the addon, the
 * pipeline's encoder, quality 7) needs for one minute of the speech-like signal, best of 5, one
 * encode at a time. Every figure in docs/ is a count of work done per second of a machine, so each
 * benchmark prints this first: a figure measured at 29 ms is not comparable with one at 70 ms
 * (docs/capacity.md#machine-speed). The benchmarks run on cloud VMs whose speed moves between
 * sessions (29 to 76 ms on the same day), and within one.
 */
import { DEFAULT_MP3_QUALITY } from '../../src/pipeline/artifacts.js';
import { lameAddon } from '../../src/pipeline/mp3.js';
import { speechLikePcm, ulawWav } from './speech.js';

/** The speed the figures in the README were measured at (bench:mp3's quality-7 row, 10 minutes / 10). */
export const REFERENCE_LAME_MS = 29;

export interface MachineSpeed {
  /** CPU ms of libmp3lame per audio-minute, best of the runs. */
  lameMs: number;
  /** REFERENCE_LAME_MS / lameMs: 1 on the docs' machine, 0.5 on one half as fast. */
  relative: number;
}

let wav: Buffer | undefined;

export async function machineSpeed(runs = 5): Promise<MachineSpeed | undefined> {
  const lame = lameAddon();
  if (!lame) return undefined;
  wav ??= ulawWav(speechLikePcm(60, 7));
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const before = lame.mp3CpuSeconds();
    await lame.encodeMp3(wav, { bitrateKbps: 32, sampleRate: 8000, quality: DEFAULT_MP3_QUALITY });
    best = Math.min(best, (lame.mp3CpuSeconds() - before) * 1000);
  }
  return { lameMs: best, relative: REFERENCE_LAME_MS / best };
}

/** One line for a benchmark's report. */
export async function machineSpeedLine(): Promise<string> {
  const s = await machineSpeed();
  if (!s) return 'machine speed: unknown (the addon has no libmp3lame)\n';
  return (
    `machine speed: libmp3lame ${s.lameMs.toFixed(1)} CPU-ms per audio-minute ` +
    `(the README's figures: ${REFERENCE_LAME_MS} ms; this machine x${s.relative.toFixed(2)})\n`
  );
}
