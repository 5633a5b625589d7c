import { timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from './log.js';

/**
 * Secrets generated at first start (admin token, admin password, recording key passphrase) go to
 * files only their owner can read, never to a terminal or a container log; the data directory and
 * what the server keeps in it are its owner's alone.
 */

/** Writes `value` to `file` (mode 0600, in a 0700 directory), replacing it atomically. */
export async function writeSecretFile(file: string, value: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${value}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Constant-time comparison of two secrets. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The data directory and its server-made subdirectories (spool, recordings, keys, secrets) to mode
 * 0700, and the files directly in it to 0600: earlier versions made them group-readable. The
 * embedded Postgres directory keeps its own modes (Postgres checks them itself).
 */
export async function restrictDataDir(dataDir: string, log: Logger): Promise<void> {
  const fix = async (path: string, mode: number): Promise<void> => {
    const s = await stat(path).catch(() => null);
    if (!s || (s.mode & 0o777) === mode) return;
    // Already private: no read or write for others (the embedded Postgres, run as root, needs o+x).
    if ((s.mode & 0o066) === 0 && mode === 0o700) return;
    await chmod(path, mode).catch((err: Error) =>
      log.warn({ path, err: err.message }, 'could not restrict the mode of a data path'),
    );
  };
  await fix(dataDir, 0o700);
  for (const e of await readdir(dataDir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dataDir, e.name);
    if (e.isDirectory() && ['spool', 'recordings', 'keys', 'secrets', 'spool-aside'].includes(e.name))
      await fix(path, 0o700);
    else if (e.isFile()) await fix(path, 0o600);
  }
}
