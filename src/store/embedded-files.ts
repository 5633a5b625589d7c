/**
 * The embedded Postgres's files in the data directory (see embedded.ts): its connection settings
 * (`pg.json`), the lock file every start and stop decision is taken under (`pg.lock`), the owner
 * and postmaster pids, and the loopback ports it may use.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, link, open, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SrsError } from '../errors.js';
import { readIfExists as readText } from '../files.js';
import type { Logger } from '../log.js';

/** Connection settings chosen at first init and kept in `<dataDir>/pg.json` (mode 0600). */
export interface EmbeddedSettings {
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The embedded Postgres cannot be set up, started or reached. */
export class EmbeddedPostgresError extends SrsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EMBEDDED_PG', message, options);
  }
}

const DATABASE = 'srs';
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MS = 120_000;

/** Where the instance keeps its files. */
export interface Paths {
  dataDir: string;
  pgDir: string;
  settings: string;
  owner: string;
  lock: string;
  postmasterPid: string;
}

export const socketPath = (p: Paths, port: number) => join(p.pgDir, `.s.PGSQL.${port}`);
/** Unix socket paths are limited to 107 bytes; a deeper data directory keeps TCP only. */
export const socketFits = (p: Paths, port: number) => Buffer.byteLength(socketPath(p, port)) <= 100;

/** The files of the instance of `dataDir`. */
export function pathsFor(dataDir: string): Paths {
  return {
    dataDir,
    pgDir: join(dataDir, 'pg'),
    settings: join(dataDir, 'pg.json'),
    owner: join(dataDir, 'pg.owner'),
    lock: join(dataDir, 'pg.lock'),
    postmasterPid: join(dataDir, 'pg', 'postmaster.pid'),
  };
}

/** Is a process with this pid alive? EPERM means it is, but belongs to another user. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A loopback TCP port free now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Is `port` free on loopback now? */
export async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/** Replaces the settings file (mode 0600) atomically. */
export async function writeSettings(path: string, s: EmbeddedSettings): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** The kept settings, or new ones (a free port, a random password) written at first init. */
export async function loadOrCreateSettings(p: Paths, log: Logger): Promise<EmbeddedSettings> {
  const text = await readText(p.settings);
  if (text !== undefined) {
    try {
      const s = JSON.parse(text) as Partial<EmbeddedSettings>;
      if (typeof s.port === 'number' && typeof s.user === 'string' && typeof s.password === 'string') {
        return { port: s.port, user: s.user, password: s.password, database: s.database ?? DATABASE };
      }
    } catch {
      // fall through to the error below
    }
    throw new EmbeddedPostgresError(`${p.settings} is not valid; remove it only together with ${p.pgDir}`);
  }
  const s: EmbeddedSettings = {
    port: await freePort(),
    user: 'srs',
    password: randomBytes(24).toString('base64url'),
    database: DATABASE,
  };
  await writeSettings(p.settings, s);
  log.info({ port: s.port }, 'embedded postgres: settings created');
  return s;
}

/** An empty lock is a leftover (the lock is written whole before it appears): stale after this. */
const EMPTY_LOCK_STALE_MS = 5_000;
/** A wait for a live holder is logged once, after this. */
const LOCK_WAIT_LOG_MS = 2_000;

/**
 * The data directory cannot take a write: full (ENOSPC, EDQUOT) or read-only (EROFS). Said in
 * those words, naming the directory and the setting, instead of the bare system error.
 */
export function dataDirWriteError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const dir = dirname(path);
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new EmbeddedPostgresError(
      `the data directory ${dir} is full (no space left on device, writing ${path}): free some space there (dataDir, SRS_DATA_DIR)`,
      { cause: err },
    );
  if (code === 'EROFS')
    return new EmbeddedPostgresError(
      `the data directory ${dir} is on a read-only file system (writing ${path}): give a writable one (dataDir, SRS_DATA_DIR)`,
      { cause: err },
    );
  return err;
}

/**
 * Creates the lock holding this pid, whole or not at all: the pid goes to a file of its own, then
 * a hard link gives it the lock's name (fails with EEXIST when the lock is held). Where hard links
 * are not supported, an O_EXCL create and write, removed again when the write fails. Never leaves
 * an empty or partial lock (a disk full at the write left an empty one, which made every later
 * command wait two minutes for it). False when the lock is held.
 */
async function createLock(lockPath: string): Promise<boolean> {
  const pid = String(process.pid);
  const tmp = `${lockPath}.${pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, pid, { mode: 0o600, flag: 'wx' });
    await link(tmp, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS')
      throw dataDirWriteError(err, lockPath);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  let fh: FileHandle;
  try {
    fh = await open(lockPath, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw dataDirWriteError(err, lockPath);
  }
  try {
    await fh.writeFile(pid);
    await fh.close();
    return true;
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(lockPath).catch(() => undefined);
    throw dataDirWriteError(err, lockPath);
  }
}

/**
 * A lock file holding its holder's pid; a lock whose holder is dead, an empty one (a leftover of
 * an older version) or a very old one is taken over. A wait for a live holder is logged once.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, log?: Logger): Promise<T> {
  const started = Date.now();
  const deadline = started + LOCK_WAIT_MS;
  let said = false;
  while (!(await createLock(lockPath))) {
    const text = await readText(lockPath).catch(() => undefined);
    const holder = Number(text?.trim());
    const st = await stat(lockPath).catch(() => undefined);
    const age = st ? Date.now() - st.mtimeMs : 0;
    const empty = text !== undefined && text.trim() === '';
    if ((holder > 0 && !pidAlive(holder)) || age > LOCK_STALE_MS || (empty && age > EMPTY_LOCK_STALE_MS)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new EmbeddedPostgresError(`timed out waiting for ${lockPath}`);
    if (!said && Date.now() - started > LOCK_WAIT_LOG_MS) {
      said = true;
      log?.info(
        { lock: lockPath, holder: holder > 0 ? holder : null },
        'waiting for the data directory lock',
      );
    }
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

/** The postmaster's pid from postmaster.pid when that process is alive and is a postgres. */
export async function livePostmaster(p: Paths): Promise<number | undefined> {
  const text = await readText(p.postmasterPid).catch(() => undefined);
  if (!text) return undefined;
  const pid = Number(text.split('\n')[0]);
  if (!pidAlive(pid)) return undefined;
  // After a reboot or in a container the pid may belong to something else now.
  const cmd = await readText(`/proc/${pid}/cmdline`).catch(() => undefined);
  if (cmd !== undefined && !cmd.includes('postgres')) return undefined;
  return pid;
}
