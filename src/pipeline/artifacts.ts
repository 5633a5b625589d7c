import { constants, type Dirent } from 'node:fs';
import { access, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffmpeg from 'fluent-ffmpeg';
import { ffmpegBinary, lameAddon, type LameAddon, type Mp3Encoder } from './mp3.js';
import { fsyncPath } from '../files.js';

/** File helpers for the pipeline: hashing, atomic renames, MP3 conversion, wiping. */

// fluent-ffmpeg runs the configured ffmpeg (Mp3Options.ffmpegPath), else the system's when there is
// one (Debian's 5.1 encodes MP3 2-3x cheaper than the 2018 static build), else the binary
// @ffmpeg-installer ships.
const defaultFfmpeg = ffmpegBinary(ffmpegInstaller.path);

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export { fsyncPath };

/** rename() then fsync the directory, so the new name survives a power cut. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncPath(dirname(to));
}

/** Shared, never written to: wiping allocates nothing per file. */
const ZEROS = Buffer.alloc(1 << 20);

/**
 * Overwrites a file with zeros, flushes the zeros to disk (fdatasync: the data, which is what
 * matters here) and unlinks it. A missing file is fine, also one that vanishes meanwhile.
 */
export async function wipeFile(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    for (let pos = 0; pos < size; pos += ZEROS.length) {
      await fh.write(ZEROS, 0, Math.min(ZEROS.length, size - pos), pos);
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
  // Another wiper (a second node's retention pass finishing the same removal) may have unlinked
  // it meanwhile: the file is overwritten and gone either way.
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** The entries of `dir`, none when it is gone. */
async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Wipes every regular file below `dir` (see wipeFile) and removes the directories. */
export async function wipeDir(dir: string): Promise<void> {
  for (const e of await entriesOf(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await wipeDir(p);
    else if (e.isFile()) await wipeFile(p);
    else await rm(p, { force: true });
  }
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Wipes the regular files directly in `dir` whose names start with `prefix` (a missing dir is fine). */
export async function wipeFilesStartingWith(dir: string, prefix: string): Promise<void> {
  for (const e of await entriesOf(dir))
    if (e.isFile() && e.name.startsWith(prefix)) await wipeFile(join(dir, e.name));
}

export interface Mp3Options {
  bitrateKbps: number;
  sampleRate: number;
  /** LAME's algorithm quality, 0 (best, slowest) .. 9 (fastest); default 7 (docs/capacity.md). */
  quality?: number;
  /** `lame` (in-process, the default when the addon has it) or `ffmpeg` (a process per file). */
  encoder?: Mp3Encoder;
  /** The ffmpeg binary of the `ffmpeg` encoder (config pipeline.ffmpegPath / SRS_FFMPEG_PATH). */
  ffmpegPath?: string;
}

/** The default LAME quality for 8 kHz speech, chosen by bench:mp3 (docs/capacity.md). */
export const DEFAULT_MP3_QUALITY = 7;

/** An MP3 written to a file: its path and size (a plaintext of known size, see pgp.ts). */
export interface Mp3File {
  path: string;
  size: number;
}

/**
 * A WAV (in memory, or a file) -> mono MP3 in memory: by libmp3lame inside the addon (on libuv's
 * pool, no process) unless `encoder` is `ffmpeg` or the addon lacks it; else by ffmpeg (below).
 * A WAV file is read a block at a time. `background`: on CPU nothing else wants (a SCHED_IDLE
 * thread; ffmpeg at nice 19).
 */
export async function encodeMp3(wav: Buffer | string, o: Mp3Options, background = false): Promise<Buffer> {
  const lame = o.encoder === 'ffmpeg' ? undefined : lameAddon();
  if (!lame) return encodeMp3Ffmpeg(wav, o, background);
  try {
    return await lame.encodeMp3(wav, lameSettings(o, background));
  } catch (err) {
    throw lameError(wav, err);
  }
}

/**
 * The same, into a new file `outPath` (created exclusively, mode 0600, flushed to disk before this
 * resolves): a long recording's WAV file and MP3 never sit whole in memory (libmp3lame holds a
 * block of each; ffmpeg streams between the two files). A failed encode leaves no file behind.
 * `lame`: the addon's encoder (tests give another).
 */
export async function encodeMp3ToFile(
  wav: Buffer | string,
  outPath: string,
  o: Mp3Options,
  background = false,
  lame: LameAddon | undefined = o.encoder === 'ffmpeg' ? undefined : lameAddon(),
): Promise<Mp3File> {
  if (!lame) return encodeMp3FfmpegToFile(wav, outPath, o, background);
  let size: unknown;
  try {
    size = await lame.encodeMp3(wav, { ...lameSettings(o, background), outPath });
  } catch (err) {
    throw lameError(wav, err);
  }
  if (typeof size !== 'number') {
    // An addon built before outPath existed ignores it and hands back the MP3 in memory: that
    // plaintext is zeroed, and no file was written.
    if (Buffer.isBuffer(size)) size.fill(0);
    throw new Error(
      `libmp3lame returned no file for ${outPath}: the media engine build is older than the code: run npm install / node-gyp rebuild`,
    );
  }
  return { path: outPath, size };
}

function lameSettings(o: Mp3Options, background: boolean) {
  return {
    bitrateKbps: o.bitrateKbps,
    sampleRate: o.sampleRate,
    quality: o.quality ?? DEFAULT_MP3_QUALITY,
    background,
  };
}

function lameError(wav: Buffer | string, err: unknown): Error {
  const what = typeof wav === 'string' ? wav : 'a WAV in memory';
  return new Error(`libmp3lame failed on ${what}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * A WAV (in memory, or a file) -> mono MP3 in memory, by ffmpeg through pipes: the WAV goes to
 * its stdin, the MP3 comes back on its stdout, and no plaintext is written to disk on the way.
 */
export async function encodeMp3Ffmpeg(
  wav: Buffer | string,
  o: Mp3Options,
  background = false,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      size += chunk.length;
      done();
    },
  });
  await runFfmpeg(wav, o, background, (cmd) => cmd.pipe(sink, { end: true }));
  if (size === 0) throw new Error(`ffmpeg made an empty MP3 of ${ffmpegInput(wav)}`);
  return Buffer.concat(chunks, size);
}

/**
 * The same, into a new file `outPath`: made here (exclusively, mode 0600), then written by ffmpeg
 * (which also writes the Info frame at its start, the file being seekable) and flushed to disk.
 * A failure wipes it.
 */
export async function encodeMp3FfmpegToFile(
  wav: Buffer | string,
  outPath: string,
  o: Mp3Options,
  background = false,
): Promise<Mp3File> {
  await (await open(outPath, 'wx', 0o600)).close();
  try {
    await runFfmpeg(wav, o, background, (cmd) => cmd.save(outPath));
    const fh = await open(outPath, 'r+');
    try {
      await fh.datasync();
      const { size } = await fh.stat();
      if (size === 0) throw new Error(`ffmpeg made an empty MP3 of ${ffmpegInput(wav)}`);
      return { path: outPath, size };
    } finally {
      await fh.close();
    }
  } catch (err) {
    await wipeFile(outPath).catch(() => undefined);
    throw err;
  }
}

const ffmpegInput = (wav: Buffer | string) => (typeof wav === 'string' ? wav : 'a WAV in memory');

/** Runs ffmpeg on `wav` with the MP3 settings; `output` names where the MP3 goes (a pipe, a file). */
async function runFfmpeg(
  wav: Buffer | string,
  o: Mp3Options,
  background: boolean,
  output: (cmd: ffmpeg.FfmpegCommand) => void,
): Promise<void> {
  const what = ffmpegInput(wav);
  const binary = o.ffmpegPath ?? defaultFfmpeg;
  // fluent-ffmpeg throws from its exit handler, uncaught, when the binary cannot be spawned:
  // a missing or unusable ffmpeg is refused here instead, as this encode's error.
  await access(binary, constants.X_OK).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`ffmpeg failed on ${what}: ${binary} cannot be run (${err.code ?? err.message})`);
  });
  await new Promise<void>((resolve, reject) => {
    const input = typeof wav === 'string' ? ffmpeg(wav) : ffmpeg(Readable.from([wav])).inputFormat('wav');
    const cmd = (background ? input.renice(19) : input)
      .setFfmpegPath(binary)
      .noVideo()
      .audioCodec('libmp3lame')
      .audioChannels(1)
      .audioFrequency(o.sampleRate)
      .audioBitrate(o.bitrateKbps)
      .format('mp3')
      // No progress lines for fluent-ffmpeg to parse; errors are still reported on stderr.
      .outputOptions([
        '-nostats',
        '-loglevel',
        'error',
        '-flush_packets',
        '0',
        '-compression_level',
        String(o.quality ?? DEFAULT_MP3_QUALITY),
      ])
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        const tail = (stderr ?? '').trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`ffmpeg failed on ${what}: ${err.message}${tail ? ` (${tail})` : ''}`));
      })
      .on('end', () => resolve());
    output(cmd);
  });
}

/** Removes leftovers of interrupted encryptions (`<dest>.<random>.tmp`) next to `dest`, but `keep`. */
export async function removeTempsFor(dest: string, keep?: string): Promise<void> {
  const dir = dirname(dest);
  const base = dest.slice(dir.length + 1);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(`${base}.`) && n.endsWith('.tmp') && join(dir, n) !== keep)
      await unlink(join(dir, n)).catch(() => undefined);
  }
}
