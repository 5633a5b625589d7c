/**
 * The embedded Postgres's files in the data directory (see embedded.ts): its connection settings
 * (`pg.json`), the lock file every start and stop decision is taken under (`pg.lock`), the owner
 * and postmaster pids, and the loopback ports it may use.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
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

/** A lock file made with O_EXCL; a lock whose holder is dead (or that is very old) is taken over. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await open(lockPath, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readText(lockPath))?.trim());
      const st = await stat(lockPath).catch(() => undefined);
      const old = st ? Date.now() - st.mtimeMs > LOCK_STALE_MS : false;
      // An empty file means the holder is between open and write: give it a moment.
      if ((holder > 0 && !pidAlive(holder)) || old) {
        await unlink(lockPath).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new EmbeddedPostgresError(`timed out waiting for ${lockPath}`);
      await sleep(100);
    }
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
