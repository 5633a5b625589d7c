import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { TransformStream, type ReadableStream as NodeReadableStream } from 'node:stream/web';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffmpeg from 'fluent-ffmpeg';
import * as openpgp from 'openpgp';

/** File helpers for the pipeline: hashing, atomic writes, MP3 conversion, encryption, wiping. */

ffmpeg.setFfmpegPath(ffmpegInstaller.path);

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** rename() then fsync the directory, so the new name survives a power cut. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncPath(dirname(to));
}

/** Shared, never written to: wiping allocates nothing per file. */
const ZEROS = Buffer.alloc(1 << 20);

/** Overwrites a file with zeros, fsyncs and unlinks it. A missing file is fine. */
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
    await fh.sync();
  } finally {
    await fh.close();
  }
  await unlink(path);
}

/** Wipes every regular file below `dir` (see wipeFile) and removes the directories. */
export async function wipeDir(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await wipeDir(p);
    else if (e.isFile()) await wipeFile(p);
    else await rm(p, { force: true });
  }
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

export interface Mp3Options {
  bitrateKbps: number;
  sampleRate: number;
}

/** WAV -> mono MP3 with ffmpeg, written to `<out>.part` and renamed when complete. */
export async function wavToMp3(wavPath: string, mp3Path: string, o: Mp3Options): Promise<void> {
  const part = `${mp3Path}.part`;
  await new Promise<void>((resolve, reject) => {
    ffmpeg(wavPath)
      .noVideo()
      .audioCodec('libmp3lame')
      .audioChannels(1)
      .audioFrequency(o.sampleRate)
      .audioBitrate(o.bitrateKbps)
      .format('mp3')
      // No progress lines for fluent-ffmpeg to parse; errors are still reported on stderr.
      .outputOptions(['-nostats', '-loglevel', 'error'])
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        const tail = (stderr ?? '').trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`ffmpeg failed on ${wavPath}: ${err.message}${tail ? ` (${tail})` : ''}`));
      })
      .on('end', () => resolve())
      .save(part);
  });
  await fsyncPath(part);
  await renameDurable(part, mp3Path);
}

export interface EncryptResult {
  /** Size of the ciphertext file. */
  bytes: number;
  sha256Plain: string;
  sha256Cipher: string;
}

/**
 * Encrypts `src` to the public key as a binary OpenPGP message (what `gpg --decrypt` reads),
 * streaming, into a temporary file that is fsynced and then renamed to `dest`.
 */
export async function encryptFile(
  src: string,
  dest: string,
  publicKey: openpgp.PublicKey,
): Promise<EncryptResult> {
  // Up to 64 MiB (about 2 h of 8 kHz u-law), encrypting from memory costs half the CPU of
  // openpgp.js's web-stream path; larger files stream.
  if ((await stat(src)).size <= IN_MEMORY_LIMIT) return encryptInMemory(src, dest, publicKey);
  const plainHash = createHash('sha256');
  const cipherHash = createHash('sha256');
  const hashing = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      plainHash.update(chunk);
      controller.enqueue(chunk);
    },
  });
  const plain = (Readable.toWeb(createReadStream(src)) as NodeReadableStream<Uint8Array>).pipeThrough(
    hashing,
  );
  const message = await openpgp.createMessage({ binary: plain as unknown as ReadableStream<Uint8Array> });
  const encrypted = await openpgp.encrypt({ message, encryptionKeys: publicKey, format: 'binary' });

  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  let bytes = 0;
  try {
    for await (const chunk of Readable.fromWeb(encrypted as unknown as NodeReadableStream<Uint8Array>)) {
      const buf = chunk as Buffer;
      cipherHash.update(buf);
      bytes += buf.length;
      await fh.write(buf);
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await renameDurable(tmp, dest);
  return { bytes, sha256Plain: plainHash.digest('hex'), sha256Cipher: cipherHash.digest('hex') };
}

const IN_MEMORY_LIMIT = 64 << 20;

async function encryptInMemory(
  src: string,
  dest: string,
  publicKey: openpgp.PublicKey,
): Promise<EncryptResult> {
  const plain = await readFile(src);
  const sha256Plain = createHash('sha256').update(plain).digest('hex');
  const message = await openpgp.createMessage({ binary: plain });
  const cipher = (await openpgp.encrypt({
    message,
    encryptionKeys: publicKey,
    format: 'binary',
  })) as Uint8Array;
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(cipher);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await renameDurable(tmp, dest);
  plain.fill(0);
  return {
    bytes: cipher.length,
    sha256Plain,
    sha256Cipher: createHash('sha256').update(cipher).digest('hex'),
  };
}

/** Removes leftovers of interrupted encryptions (`<dest>.<random>.tmp`) next to `dest`. */
export async function removeTempsFor(dest: string): Promise<void> {
  const dir = dirname(dest);
  const base = dest.slice(dir.length + 1);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(`${base}.`) && n.endsWith('.tmp')) await unlink(join(dir, n)).catch(() => undefined);
  }
}
