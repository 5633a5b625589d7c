import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey, checkPrefix, checkSha256, HashCheck, resolveRange, sha256Hex } from './common.js';
import { ChecksumMismatchError, ObjectExistsError, ObjectNotFoundError } from './errors.js';
import type {
  ArtifactStore,
  ByteRange,
  GetResult,
  ObjectInfo,
  PutOptions,
  PutResult,
  PutSource,
} from './types.js';

/**
 * The `local` backend: today's tree under the data directory (`recordings/YYYY/MM/DD/...`), written
 * the way the pipeline writes it: a temporary file next to the destination
 * (`<dest>.<8 hex>.tmp`, mode 0600) filled and fdatasynced, renamed over the final name, then the
 * directory fsynced (and the parent of each directory made for it); directories 0750. Content
 * goes in byte for byte, so files written here and files written by the pipeline are read alike
 * by the API's reader. Deleting wipes (zeros, flush, unlink), as retention does. No Object Lock:
 * `retention` is ignored.
 */

/** Read/write slice and the shared zero buffer of the wipe. */
const SLICE = 1 << 20;
const ZEROS = Buffer.alloc(SLICE);

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p, then fsync the parent of each directory it made: new folders outlive a power cut. */
async function mkdirSynced(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o750 });
  if (created === undefined) return;
  const first = resolve(created);
  for (let d = resolve(dir); ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === first || d === dirname(d)) break;
  }
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: SLICE })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Overwrites a file with zeros, flushes them, unlinks it; false when it was not there. */
async function wipe(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    for (let pos = 0; pos < size; pos += ZEROS.length)
      await fh.write(ZEROS, 0, Math.min(ZEROS.length, size - pos), pos);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await unlink(path);
  return true;
}

export class LocalArtifactStore implements ArtifactStore {
  readonly backend = 'local' as const;
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  #path(key: string): string {
    return join(this.root, checkKey(key));
  }

  async put(key: string, source: PutSource, opts: PutOptions): Promise<PutResult> {
    const dest = this.#path(key);
    checkSha256(opts.sha256);
    const existing = await this.head(key);
    if (existing) {
      const sha = await fileSha256(dest);
      if (sha === opts.sha256 && (opts.size === undefined || opts.size === existing.size))
        return { key, size: existing.size, sha256: sha, created: false };
      if (!opts.overwrite) throw new ObjectExistsError(key, sha);
    }
    await mkdirSynced(dirname(dest));
    const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    let size: number;
    try {
      if (Buffer.isBuffer(source)) {
        const actual = sha256Hex(source);
        if (actual !== opts.sha256) throw new ChecksumMismatchError(key, opts.sha256, actual);
        if (opts.size !== undefined && opts.size !== source.length)
          throw new ChecksumMismatchError(key, `${opts.size} bytes`, `${source.length} bytes`);
        for (let at = 0; at < source.length; at += SLICE)
          await fh.write(source, at, Math.min(SLICE, source.length - at));
        size = source.length;
      } else {
        const input =
          source instanceof Readable ? source : createReadStream(source.path, { highWaterMark: SLICE });
        const check = new HashCheck(key, opts.sha256, opts.size);
        // The check fails the stream before its end: the temporary file is then never renamed.
        await pipeline(input, check, async (chunks: AsyncIterable<Buffer>) => {
          for await (const c of chunks) await fh.write(c);
        });
        size = check.bytes;
      }
      await fh.datasync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await fh.close();
    await rename(tmp, dest);
    await fsyncDir(dirname(dest));
    return { key, size, sha256: opts.sha256, created: true };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.#path(key));
      if (!st.isFile()) return undefined;
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const info = await this.head(key);
    if (!info) throw new ObjectNotFoundError(key);
    if (info.size === 0 && !range) return { body: Readable.from([]), size: 0, start: 0, end: -1 };
    const r = resolveRange(key, info.size, range);
    const body = createReadStream(this.#path(key), { start: r.start, end: r.end, highWaterMark: SLICE });
    return { body, size: info.size, ...r };
  }

  async delete(key: string): Promise<boolean> {
    return wipe(this.#path(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash + 1);
    yield* this.#walk(base, prefix);
  }

  /** Entries of `rel` (a key prefix ending in `/`, or '') in S3 key order, recursively. */
  async *#walk(rel: string, prefix: string): AsyncIterable<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, rel), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    // A directory sorts as `name/`, so the order is that of the full keys, byte by byte.
    const sortName = (e: Dirent) => (e.isDirectory() ? `${e.name}/` : e.name);
    entries.sort((a, b) => Buffer.compare(Buffer.from(sortName(a)), Buffer.from(sortName(b))));
    for (const e of entries) {
      const key = `${rel}${e.name}`;
      if (e.isDirectory()) {
        const dirKey = `${key}/`;
        if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey)) yield* this.#walk(dirKey, prefix);
      } else if (e.isFile() && key.startsWith(prefix) && !key.endsWith('.tmp')) {
        const st = await stat(join(this.root, key)).catch(() => undefined);
        if (st) yield { key, size: st.size, lastModified: st.mtime };
      }
    }
  }

  async close(): Promise<void> {}
}
