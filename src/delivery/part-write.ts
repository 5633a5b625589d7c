import { posix } from 'node:path';
import type { Logger } from '../log.js';

/**
 * How SFTP and FTP(S) destinations write a file so that a reader never sees a partial one: upload
 * to `.<name>.part` next to it, check its size, rename it into place, check again. A part an
 * interrupted attempt left is resumed (the protocol's `resume`: the rest appended, the whole part
 * checked by its SHA-256) and uploaded again from the start only when that does not match.
 */
export interface PartTarget {
  size(abs: string): Promise<number | undefined>;
  mkdirp(abs: string): Promise<void>;
  /** Uploads the whole of `data` to `part` (replacing what is there). */
  put(part: string, data: Buffer): Promise<void>;
  /** Appends `data` from `from` to `part` and checks the whole part: true when it matches `data`. */
  resume(part: string, data: Buffer, from: number): Promise<boolean>;
  /** Renames `part` to `abs`; `replacing`: our own earlier file is there. */
  place(part: string, abs: string, replacing: boolean): Promise<void>;
  /** The destination in messages (no secrets). */
  readonly describe: string;
  readonly protocol: 'sftp' | 'ftp';
  readonly log: Logger;
}

/**
 * Writes `data` at `abs` through its part: 'present' when a file of this size is there already
 * (a transfer confirmed before a crash; unless `replace` is 'always', a file we rewrite such as a
 * day index), 'exists' when another file is there and `replace` is false, otherwise 'resumed' or
 * 'written' (with `replace`, over our own earlier attempt).
 */
export async function writeThroughPart(
  t: PartTarget,
  abs: string,
  data: Buffer,
  replace: boolean | 'always',
): Promise<'written' | 'resumed' | 'present' | 'exists'> {
  const existing = await t.size(abs);
  if (existing === data.length && replace !== 'always') return 'present';
  if (existing !== undefined && !replace) return 'exists';
  await t.mkdirp(posix.dirname(abs));
  const part = posix.join(posix.dirname(abs), `.${posix.basename(abs)}.part`);
  const partSize = await t.size(part);
  let resumed = false;
  if (partSize !== undefined && partSize > 0 && partSize < data.length) {
    resumed = await t.resume(part, data, partSize);
    t.log.debug({ file: abs, from: partSize, bytes: data.length, resumed }, `${t.protocol} upload resumed`);
  }
  if (!resumed) await t.put(part, data);
  const written = await t.size(part);
  if (written !== data.length)
    throw new Error(
      `${t.describe}: ${part} has ${written ?? 'no'} bytes after upload, expected ${data.length}`,
    );
  await t.place(part, abs, existing !== undefined);
  const final = await t.size(abs);
  if (final !== data.length)
    throw new Error(`${t.describe}: ${abs} has ${final ?? 'no'} bytes after rename, expected ${data.length}`);
  return resumed ? 'resumed' : 'written';
}
