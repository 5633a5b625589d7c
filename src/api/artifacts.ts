import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import * as openpgp from 'openpgp';
import type { RecordingFile } from '../store/types.js';
import { HttpError } from './http.js';

/**
 * Decrypts stored artifacts on the server for playback and download. The plaintext never touches
 * the disk; a few recent ones are kept in memory so that a player's successive range requests do
 * not decrypt the file again.
 */

export type PrivateKeyLoader = (fingerprint: string) => Promise<openpgp.PrivateKey>;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export class ArtifactReader {
  readonly #cache = new Map<string, { at: number; data: Buffer }>();
  readonly #keys = new Map<string, Promise<openpgp.PrivateKey>>();

  constructor(
    readonly dataDir: string,
    readonly loadKey: PrivateKeyLoader | null,
    readonly maxCached = 8,
    readonly ttlMs = 5 * 60_000,
  ) {}

  /** The plaintext of an artifact; `cache: false` for one-off reads (bulk export) that should not evict a player's. */
  async read(recordingId: string, file: RecordingFile, opts: { cache?: boolean } = {}): Promise<Buffer> {
    const cacheKey = `${recordingId}:${file.kind}:${file.sha256Cipher}`;
    const hit = this.#cache.get(cacheKey);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.data;
    if (!this.loadKey)
      throw new HttpError(
        503,
        'the recording key passphrase is not available to the server (set SRS_KEY_PASSPHRASE)',
      );
    const path = isAbsolute(file.path) ? file.path : join(this.dataDir, file.path);
    const cipher = await readFile(path).catch(() => {
      throw new HttpError(410, `the ${file.kind} file of recording ${recordingId} is missing from storage`);
    });
    if (sha256(cipher) !== file.sha256Cipher)
      throw new HttpError(
        500,
        `the ${file.kind} file of recording ${recordingId} does not match its catalogue hash`,
      );
    let keyP = this.#keys.get(file.keyFingerprint);
    if (!keyP) {
      keyP = this.loadKey(file.keyFingerprint);
      this.#keys.set(file.keyFingerprint, keyP);
      keyP.catch(() => this.#keys.delete(file.keyFingerprint));
    }
    let key: openpgp.PrivateKey;
    try {
      key = await keyP;
    } catch (err) {
      throw new HttpError(503, `cannot unlock the recording key: ${(err as Error).message}`);
    }
    const message = await openpgp.readMessage({ binaryMessage: cipher });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary' });
    const plain = Buffer.from(data as Uint8Array);
    if (sha256(plain) !== file.sha256Plain)
      throw new HttpError(
        500,
        `decrypted ${file.kind} of recording ${recordingId} does not match its catalogue hash`,
      );
    if (opts.cache === false) return plain;
    this.#cache.set(cacheKey, { at: Date.now(), data: plain });
    while (this.#cache.size > this.maxCached) this.#cache.delete(this.#cache.keys().next().value as string);
    return plain;
  }
}

/** Parses a single `bytes=` range against a body of `size` bytes; null: whole body; 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or garbage: send everything (RFC 9110 allows)
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end)
    throw new HttpError(416, `range not satisfiable (size ${size})`, { 'content-range': `bytes */${size}` });
  return { start, end };
}

const ULAW = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  ULAW[i] = u & 0x80 ? 0x84 - t : t - 0x84;
}
export const ulawToLinear = (b: number): number => ULAW[b & 0xff] as number;

/** Peak levels (0..1) of a u-law WAV in `points` buckets, for a waveform. */
export function waveformOf(wav: Buffer, points: number): { peaks: number[]; durationMs: number } {
  let pos = 12;
  let data: Buffer | null = null;
  let format = 0;
  while (pos + 8 <= wav.length) {
    const id = wav.toString('latin1', pos, pos + 4);
    const len = wav.readUInt32LE(pos + 4);
    if (id === 'fmt ') format = wav.readUInt16LE(pos + 8);
    if (id === 'data') data = wav.subarray(pos + 8, Math.min(wav.length, pos + 8 + len));
    pos += 8 + len + (len & 1);
  }
  if (!data || format !== 7) throw new HttpError(500, 'the stored WAV is not G.711 u-law');
  const n = Math.max(1, Math.min(points, 5000));
  const per = Math.max(1, Math.ceil(data.length / n));
  const peaks: number[] = [];
  for (let i = 0; i < data.length; i += per) {
    let peak = 0;
    const end = Math.min(data.length, i + per);
    for (let j = i; j < end; j++) peak = Math.max(peak, Math.abs(ULAW[data[j] as number] as number));
    peaks.push(Math.round((peak / 32768) * 1000) / 1000);
  }
  return { peaks, durationMs: Math.round(data.length / 8) };
}
