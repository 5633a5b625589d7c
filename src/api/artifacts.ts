import type { ServerResponse } from 'node:http';
import type * as openpgp from 'openpgp';
import { CiphertextHashError, decryptArtifact, PgpDecryptError } from '../pgp-decrypt.js';
import {
  InvalidKeyError,
  LocalArtifactStore,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  StorageError,
  type ArtifactStore,
  type ByteRange,
  type GetResult,
} from '../storage/index.js';
import { keyOfPath, readError } from '../storage/read.js';
import type { RecordingFile } from '../store/types.js';
import { HttpError } from './http.js';
import { RecentBuffers } from './recent.js';

/**
 * Reads stored artifacts through the artifact store (docs/storage.md): any node serves any
 * recording the store holds. Playback decrypts the whole object as it streams from the store
 * (src/pgp-decrypt.ts: one buffer of the plaintext's size), checks the SHA-256 of the ciphertext
 * and of the plaintext against the catalogue, and keeps a few recent plaintexts, so that a player's successive range requests neither fetch nor decrypt it
 * again (concurrent requests for one file share one read). The plaintext never touches the disk.
 * The encrypted file itself is streamed from the store, ranges as ranges (`openCipher`).
 *
 * Errors as HTTP: missing object 410, hash mismatch 500, store unavailable 503 with Retry-After.
 */

export type PrivateKeyLoader = (fingerprint: string) => Promise<openpgp.PrivateKey>;

/** Seconds a client is told to wait when the store does not answer. */
export const STORE_RETRY_AFTER_S = 10;

/** What a store error means to an HTTP client (an HttpError when it says something); `what` names the artifact. */
export function storageHttpError(err: unknown, what: string): unknown {
  const e = err instanceof StorageError ? err : readError(err, what);
  if (e instanceof HttpError) return e;
  if (e instanceof ObjectNotFoundError || e instanceof InvalidKeyError)
    return new HttpError(410, `${what} is missing from storage`);
  if (e instanceof RangeNotSatisfiableError)
    return new HttpError(416, `range not satisfiable (size ${e.size})`, {
      'content-range': `bytes */${e.size}`,
    });
  if (e instanceof StorageError && e.retryable)
    return new HttpError(503, `the artifact store is unavailable; try again later (reading ${what})`, {
      'retry-after': String(STORE_RETRY_AFTER_S),
    });
  // Anything else (refused credentials, permissions, a local read error): the server logs it, 500.
  return e;
}

export class ArtifactReader {
  readonly store: ArtifactStore;
  readonly #recent: RecentBuffers;
  readonly #keys = new Map<string, Promise<openpgp.PrivateKey>>();

  /** `store`: the artifact store, or a data directory (the `local` store of that directory). */
  constructor(
    store: ArtifactStore | string,
    readonly loadKey: PrivateKeyLoader | null,
    readonly maxCached = 8,
    readonly ttlMs = 5 * 60_000,
  ) {
    this.store = typeof store === 'string' ? new LocalArtifactStore(store) : store;
    this.#recent = new RecentBuffers({ ttlMs, maxEntries: maxCached });
  }

  /** The plaintext of an artifact; `cache: false` for one-off reads (bulk export) that should not evict a player's. */
  async read(recordingId: string, file: RecordingFile, opts: { cache?: boolean } = {}): Promise<Buffer> {
    const cacheKey = `${recordingId}:${file.kind}:${file.sha256Cipher}`;
    // Kept while in use: the time-out and the eviction count from the last request.
    const hit = this.#recent.hit(cacheKey, opts.cache !== false);
    if (hit) return hit;
    if (!this.loadKey)
      throw new HttpError(
        503,
        'the recording key passphrase is not available to the server (set SRS_KEY_PASSPHRASE)',
      );
    if (opts.cache === false) return this.#decrypt(recordingId, file);
    return this.#recent.fill(cacheKey, () => this.#decrypt(recordingId, file));
  }

  /**
   * The encrypted artifact as stored, or a byte range of it, streamed from the store (a range is
   * asked of the store as a range). The object's size must be the catalogue's (500 otherwise);
   * the content of a whole read is checked by the caller as it streams (`file.sha256Cipher`).
   */
  async openCipher(recordingId: string, file: RecordingFile, range?: ByteRange): Promise<GetResult> {
    const what = `the ${file.kind} file of recording ${recordingId}`;
    let g: GetResult;
    try {
      g = await this.store.get(keyOfPath(this.store, file.path), range);
    } catch (err) {
      throw storageHttpError(err, what);
    }
    if (g.size !== file.bytes) {
      g.body.destroy();
      throw new HttpError(500, `${what} does not match its catalogue size`);
    }
    return g;
  }

  async #decrypt(recordingId: string, file: RecordingFile): Promise<Buffer> {
    const what = `the ${file.kind} file of recording ${recordingId}`;
    let g: GetResult;
    try {
      g = await this.store.get(keyOfPath(this.store, file.path));
    } catch (err) {
      throw storageHttpError(err, what);
    }
    let keyP = this.#keys.get(file.keyFingerprint);
    if (!keyP) {
      keyP = (this.loadKey as PrivateKeyLoader)(file.keyFingerprint);
      this.#keys.set(file.keyFingerprint, keyP);
      keyP.catch(() => this.#keys.delete(file.keyFingerprint));
    }
    let key: openpgp.PrivateKey;
    try {
      key = await keyP;
    } catch (err) {
      g.body.destroy();
      throw new HttpError(503, `cannot unlock the recording key: ${(err as Error).message}`);
    }
    let r;
    try {
      r = await decryptArtifact(g, key, { sha256Cipher: file.sha256Cipher });
    } catch (err) {
      if (err instanceof CiphertextHashError)
        throw new HttpError(500, `${what} does not match its catalogue hash`);
      if (err instanceof PgpDecryptError) throw new HttpError(500, `cannot decrypt ${what}: ${err.message}`);
      throw storageHttpError(err, what);
    }
    if (r.sha256Plain !== file.sha256Plain) {
      r.plain.fill(0);
      throw new HttpError(
        500,
        `decrypted ${file.kind} of recording ${recordingId} does not match its catalogue hash`,
      );
    }
    return r.plain;
  }
}

/**
 * Sends decrypted audio held in memory: the whole of it (200) or the range asked (206), with
 * `headers` plus the length and range headers; nothing but headers for HEAD. `range` is what
 * parseRange made of the request's Range header.
 */
export function sendPlaintext(
  res: ServerResponse,
  head: boolean,
  plain: Buffer,
  range: { start: number; end: number } | null,
  headers: Record<string, string | number>,
): void {
  const h: Record<string, string | number> = {
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-store',
    ...headers,
  };
  if (range) {
    h['content-range'] = `bytes ${range.start}-${range.end}/${plain.length}`;
    h['content-length'] = range.end - range.start + 1;
  } else h['content-length'] = plain.length;
  res.writeHead(range ? 206 : 200, h);
  res.end(head ? undefined : range ? plain.subarray(range.start, range.end + 1) : plain);
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

/** The samples of a stored mono u-law WAV (the mixer's format); 500 when it is anything else. */
export function ulawWavData(wav: Buffer): Buffer {
  let pos = 12;
  let data: Buffer | null = null;
  let format = 0;
  let channels = 0;
  while (pos + 8 <= wav.length) {
    const id = wav.toString('latin1', pos, pos + 4);
    const len = wav.readUInt32LE(pos + 4);
    if (id === 'fmt ') {
      format = wav.readUInt16LE(pos + 8);
      channels = wav.readUInt16LE(pos + 10);
    }
    if (id === 'data') data = wav.subarray(pos + 8, Math.min(wav.length, pos + 8 + len));
    pos += 8 + len + (len & 1);
  }
  if (!data || format !== 7 || channels !== 1)
    throw new HttpError(500, 'the stored WAV is not mono G.711 u-law');
  return data;
}

/** Peak levels (0..1) of a u-law WAV in `points` buckets, for a waveform. */
export function waveformOf(wav: Buffer, points: number): { peaks: number[]; durationMs: number } {
  const data = ulawWavData(wav);
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
