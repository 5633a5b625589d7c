import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ChecksumMismatchError, InvalidKeyError, RangeNotSatisfiableError } from './errors.js';
import type { ByteRange } from './types.js';

/** Helpers shared by the backends: key rules, SHA-256 and range checks. */

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A key is a relative path of plain segments: no `..`, no leading `/`, no empty segment. */
export function checkKey(key: string): string {
  if (key.length === 0 || key.length > 900 || !key.split('/').every((s) => SEGMENT.test(s)))
    throw new InvalidKeyError(key);
  return key;
}

/** A listing prefix: like a key, but it may end with `/` or be empty. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

export function checkSha256(sha256: string): string {
  if (!SHA256_HEX.test(sha256))
    throw new TypeError(`sha256 must be 64 lower-case hex digits, got ${JSON.stringify(sha256)}`);
  return sha256;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
export const base64ToHex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

/** Checks a requested range against an object of `size` bytes; returns inclusive offsets. */
export function resolveRange(
  key: string,
  size: number,
  range: ByteRange | undefined,
): { start: number; end: number } {
  if (!range) return { start: 0, end: Math.max(0, size - 1) };
  const end = Math.min(range.end ?? size - 1, size - 1);
  if (!Number.isInteger(range.start) || range.start < 0 || range.start >= size || end < range.start)
    throw new RangeNotSatisfiableError(key, size);
  return { start: range.start, end };
}

/**
 * Passes the content through while hashing it; at the end, fails the stream (before its end is
 * seen downstream) when the SHA-256 or the size differs from what was announced. A consumer that
 * commits only at the end of the stream (a file rename, CompleteMultipartUpload) never commits
 * mismatched content. With `holdLast` the last chunk is held back until the check passes, so a
 * reader that knows the length (an HTTP client) never sees mismatched content complete either.
 */
export class HashCheck extends Transform {
  readonly #hash = createHash('sha256');
  readonly #holdLast: boolean;
  #held: Buffer | undefined;
  #bytes = 0;
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly expectedSize?: number,
    opts: { holdLast?: boolean } = {},
  ) {
    super();
    this.#holdLast = opts.holdLast ?? false;
  }
  get bytes(): number {
    return this.#bytes;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    if (!this.#holdLast) return done(null, chunk);
    const previous = this.#held;
    this.#held = chunk;
    done(null, previous);
  }
  override _flush(done: TransformCallback): void {
    const actual = this.#hash.digest('hex');
    if (actual !== this.expected) return done(new ChecksumMismatchError(this.key, this.expected, actual));
    if (this.expectedSize !== undefined && this.#bytes !== this.expectedSize)
      return done(new ChecksumMismatchError(this.key, `${this.expectedSize} bytes`, `${this.#bytes} bytes`));
    if (this.#held) this.push(this.#held);
    done();
  }
}
