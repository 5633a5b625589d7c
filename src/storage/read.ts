import { createHash } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { HashCheck } from './common.js';
import { InvalidKeyError, StorageError, StorageUnavailableError } from './errors.js';
import { LocalArtifactStore } from './local.js';
import type { ArtifactStore } from './types.js';

/**
 * The read side shared by the API, delivery and the CLI: the key of a catalogue path, a whole
 * object in memory with its SHA-256 (decryption needs the whole OpenPGP message), a stream checked
 * against its SHA-256, and what an error met while reading means.
 */

/**
 * The store key of a catalogue path (`RecordingFile.path`): relative paths are keys as they are;
 * an absolute path under a local store's root (an old catalogue) maps to its relative part.
 */
export function keyOfPath(store: ArtifactStore, path: string): string {
  if (!isAbsolute(path)) return path;
  if (store instanceof LocalArtifactStore) {
    const rel = relative(store.root, path);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  throw new InvalidKeyError(path);
}

/** Codes of a connection or stream that broke while an object was being read. */
const BROKEN = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/**
 * An error met while reading an object's body as one of the store's: a connection that broke
 * mid-body (the SDK hands the socket's error through as it is) is the store being unavailable.
 */
export function readError(err: unknown, key: string): unknown {
  if (err instanceof StorageError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (
    (e.code !== undefined && BROKEN.has(e.code)) ||
    e.name === 'AbortError' ||
    e.name === 'TimeoutError' ||
    e.message === 'aborted'
  )
    return new StorageUnavailableError(`reading ${key} broke off: ${e.message ?? String(err)}`, {
      cause: err,
    });
  return err;
}

/** A whole object in memory and the SHA-256 of what was read (errors: the store's). */
export async function readObject(
  store: ArtifactStore,
  key: string,
): Promise<{ data: Buffer; sha256: string; size: number }> {
  const { body, size } = await store.get(key);
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const c = chunk as Buffer;
      hash.update(c);
      chunks.push(c);
      total += c.length;
    }
  } catch (err) {
    throw readError(err, key);
  }
  return { data: Buffer.concat(chunks, total), sha256: hash.digest('hex'), size };
}

/**
 * Passes content through while hashing it and holds its last chunk back until the end: content
 * that does not match the SHA-256 (or size) fails the stream with ChecksumMismatchError before its
 * last bytes go out, so a reader that knows the length never sees it complete (HashCheck with
 * `holdLast`).
 */
export class VerifyingStream extends HashCheck {
  constructor(key: string, expected: string, expectedSize?: number) {
    super(key, expected, expectedSize, { holdLast: true });
  }
}
