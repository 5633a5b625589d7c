import { chmod, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** File helpers shared by the pipeline, the CLI and delivery. */

/** fsync a file or a directory by its path. */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A text file's content, or undefined when there is no such file. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface DurableWrite {
  /** Mode the file is created with. */
  mode: number;
  /** Set the mode exactly (chmod), whatever the umask took away. */
  exactMode?: boolean;
  /** The temporary name (default `<path>.<pid>.tmp`). */
  tmp?: string;
  /** fsync the directory after the rename, so the new name survives a power cut. */
  syncDir?: boolean;
}

/**
 * Writes to a temporary name, fsyncs, then renames: a crash leaves the old file or the new one,
 * never half of one. On failure the temporary file (ours alone) is removed.
 */
export async function writeFileDurable(
  path: string,
  data: string | Uint8Array,
  o: DurableWrite,
): Promise<void> {
  const tmp = o.tmp ?? `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w', o.mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (o.exactMode) await chmod(tmp, o.mode);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (o.syncDir) await fsyncPath(dirname(path));
}
