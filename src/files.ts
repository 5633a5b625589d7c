import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

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

/** Directories this process has made durable (mkdirDurable), or is making durable now. */
const durableDirs = new Map<string, Promise<void>>();

/**
 * Creates `dir` (and its missing parents) with `mode`, and fsyncs the parent of every component
 * from `dir` up to `root` (`root` itself included, its own entry taken as durable), so that after
 * a power cut the new directories are still there: fsyncing a file and its directory does not
 * persist that directory's own entry in its parent (POSIX; btrfs and some network filesystems
 * really lose it). Whoever created them (another job, another node), the fsyncs run once per
 * process and directory, and again whenever this call had to create one (a folder removed since);
 * concurrent callers wait for the same fsyncs.
 */
export async function mkdirDurable(dir: string, o: { root: string; mode?: number }): Promise<void> {
  const abs = resolve(dir);
  const root = resolve(o.root);
  const rel = relative(root, abs);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`mkdirDurable: ${abs} is not under ${root}`);
  const created = await mkdir(abs, { recursive: true, mode: o.mode ?? 0o777 });
  const known = durableDirs.get(abs);
  if (known && created === undefined) return known;
  const done = (async () => {
    for (let d = abs; d !== root; d = dirname(d)) await fsyncPath(dirname(d));
  })();
  durableDirs.set(abs, done);
  // A failure is not remembered: the next caller tries again.
  done.catch(() => durableDirs.delete(abs));
  // One entry per folder made (a day's): bounded all the same, for a process that runs for years.
  if (durableDirs.size > 4096) durableDirs.delete(durableDirs.keys().next().value as string);
  return done;
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
