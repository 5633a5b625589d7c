import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defaultAddonPath } from '../media/index.js';

/**
 * MP3 encoders for the pipeline. `lame`: libmp3lame inside the native addon, on the libuv pool
 * (no process per recording; the fastest path measured, see docs/capacity.md). `ffmpeg`: a
 * process through fluent-ffmpeg, with the system's ffmpeg when there is one, else the static
 * binary of @ffmpeg-installer (kept as the fallback and for formats other than MP3).
 */

export type Mp3Encoder = 'lame' | 'ffmpeg';

interface LameSettings {
  bitrateKbps: number;
  sampleRate: number;
  quality: number;
  background?: boolean;
}

export interface LameAddon {
  /** The MP3 in memory; a WAV named by path is read a block at a time. */
  encodeMp3(wav: Buffer | string, o: LameSettings & { outPath?: undefined }): Promise<Buffer>;
  /** The MP3 written to the new file `outPath` (O_EXCL, 0600, fdatasync'ed): resolves with its size. */
  encodeMp3(wav: Buffer | string, o: LameSettings & { outPath: string }): Promise<number>;
  /** Background encodes (`background: true`) run under SCHED_IDLE, and those the kernel refused it. */
  mp3BackgroundEncodes(): { idle: number; refused: number };
  lameVersion: string;
  /** CPU seconds spent in LAME by this process so far (its pool threads' time while encoding). */
  mp3CpuSeconds(): number;
}

let lame: LameAddon | null | undefined;

/** The addon's encoder, or undefined when the addon was built without it (an older build). */
export function lameAddon(addonPath: string = defaultAddonPath): LameAddon | undefined {
  if (lame === undefined) {
    try {
      const a = createRequire(import.meta.url)(addonPath) as Partial<LameAddon>;
      lame = typeof a.encodeMp3 === 'function' ? (a as LameAddon) : null;
    } catch {
      lame = null;
    }
  }
  return lame ?? undefined;
}

/** The ffmpeg binary fluent-ffmpeg runs: the configured one, else a system ffmpeg, else @ffmpeg-installer's. */
export function ffmpegBinary(installerPath: string, configured?: string): string {
  if (configured) return configured;
  for (const p of ['/usr/bin/ffmpeg', '/usr/local/bin/ffmpeg']) if (existsSync(p)) return p;
  return installerPath;
}
