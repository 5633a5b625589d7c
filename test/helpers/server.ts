import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { seedDataDir } from './pg-template.js';

// The `srs` processes a test file started alone runs the TypeScript sources through tsx, so that it
// exercises the code as edited without a build step. `npm test` builds dist/ first and runs it
// (SRS_FROM_SOURCE=0), as production does: tsx's loading took about 1.1 CPU-s more per process, and
// the whole run is CPU-bound on 2 cores.
process.env.SRS_FROM_SOURCE ??= '1';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SRS_BIN = join(ROOT, 'bin', 'srs.js');

/**
 * Ports for the tests' listeners come from 10000-19999, below the kernel's ephemeral range
 * (32768-60999): a port asked of the kernel (listen on 0) and released could be handed again to
 * the server's own embedded Postgres, or to any outgoing connection, before the server bound it
 * (seen: EADDRINUSE at start, the test's SIP port taken by Postgres). Each test process takes
 * its ports in turn from a band of 100 of its own, checked free before use. The band is reserved
 * with a lock file naming the process (a band whose process is gone is taken over): picked by pid
 * alone, two of the three test processes running at once shared a band now and then, and a test
 * that restarts its server on the same ports after kill -9 found them taken (EADDRINUSE).
 */
function reserveBand(): number {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (let i = 0; i < 200; i++) {
    const n = (process.pid + i) % 100;
    const lock = join(tmpdir(), `srs-test-port-band-${n}.lock`);
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      process.once('exit', () => {
        try {
          unlinkSync(lock);
        } catch {
          // already gone
        }
      });
      return n;
    } catch {
      // Taken: free it if its process is gone (the next round tries it again).
      try {
        const owner = Number(readFileSync(lock, 'utf8').trim() || 0);
        if (i < 100 && owner > 0 && !alive(owner)) unlinkSync(lock);
      } catch {
        // gone meanwhile, or another process took it over first
      }
    }
  }
  return process.pid % 100;
}
const BAND = 10000 + reserveBand() * 100;
let nextInBand = 0;

function bindable(port: number, udpToo: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () =>
      s.close(() => {
        if (!udpToo) return resolve(true);
        const u = createSocket('udp4');
        u.once('error', () => resolve(false));
        u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
      }),
    );
  });
}

/** A TCP port that is free now (and its UDP twin, for SIP). */
export async function freePort(udpToo = false): Promise<number> {
  for (let tries = 0; ; tries++) {
    // The band first; once it is used up, anywhere in 10000-19999.
    const port = tries < 100 ? BAND + (nextInBand++ % 100) : 10000 + Math.floor(Math.random() * 10000);
    if (await bindable(port, udpToo)) return port;
  }
}

export interface TestServer {
  proc: ChildProcess;
  env: Record<string, string>;
  dataDir: string;
  sipPort: number;
  httpPort: number;
  token: string;
  passphrase: string;
  output: () => string;
  /** Resolves when the process logs a line matching re. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The environment of an `srs serve` a test runs by hand (start refusals, settings): its data
 * directory, free ports on loopback, the test passphrase and key type, no admin token and no
 * DATABASE_URL.
 */
export async function serveEnv(dataDir: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SRS_DATA_DIR: dataDir,
    SIP_HOST: '127.0.0.1',
    SIP_PORT: String(await freePort(true)),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(await freePort()),
    RTP_BIND_ADDRESS: '127.0.0.1',
    SRS_KEY_PASSPHRASE: 'e2e-secret-passphrase',
    SRS_FIRST_KEY_TYPE: 'curve25519',
    LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  return env;
}

/** Starts `srs serve` as a real child process on free ports with its own data directory. */
export async function startTestServer(
  extraEnv: Record<string, string> = {},
  dataDir?: string,
  /**
   * `detached`: the server leads its own process group, as a shell's foreground job does.
   * `nofile`: the open-files limit (soft and hard) to run it under, through prlimit(1).
   * `freshCluster`: a data directory without a cluster gets one by initdb, as in production,
   * rather than a copy of the test run's template (pg-template.ts).
   */
  opts: { detached?: boolean; nofile?: number; freshCluster?: boolean } = {},
): Promise<TestServer> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'srs-e2e-')));
  const sipPort = await freePort(true);
  const httpPort = await freePort();
  const rtpBase = 20000 + 2 * Math.floor(Math.random() * 5000);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SRS_DATA_DIR: dir,
    SIP_HOST: '127.0.0.1',
    SIP_PORT: String(sipPort),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    RTP_BIND_ADDRESS: '127.0.0.1',
    RTP_PORT_MIN: String(rtpBase),
    RTP_PORT_MAX: String(rtpBase + 999),
    SRS_KEY_PASSPHRASE: 'e2e-secret-passphrase',
    SRS_ADMIN_TOKEN: 'e2e-admin-token-0000',
    LOG_LEVEL: 'info',
    // Test servers generate a Curve25519 key at first start (milliseconds); the default RSA 4096 one
    // (seconds) is exercised by test/e2e/siprec-call.test.ts, which asks for it.
    SRS_FIRST_KEY_TYPE: 'curve25519',
    ...extraEnv,
  };
  delete env.DATABASE_URL;
  if (extraEnv.DATABASE_URL) env.DATABASE_URL = extraEnv.DATABASE_URL;
  if (!env.DATABASE_URL && !opts.freshCluster) await seedDataDir(dir);
  const argv = [process.execPath, '--initial-heap-size=64', SRS_BIN, 'serve'];
  if (opts.nofile) argv.unshift('prlimit', `--nofile=${opts.nofile}:${opts.nofile}`, '--');
  const proc = spawn(argv[0] as string, argv.slice(1), {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const server: TestServer = {
    proc,
    env,
    dataDir: dir,
    sipPort,
    httpPort,
    token: env.SRS_ADMIN_TOKEN as string,
    passphrase: env.SRS_KEY_PASSPHRASE as string,
    output: () => out,
    waitFor(re, timeoutMs = 30000) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${re} in server output:\n${out.slice(-4000)}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`server exited (${code}) before ${re}:\n${out.slice(-4000)}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 20000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  return server;
}

/**
 * Where the server's output stands now, for logLinesSince: the number of whole lines (the text after
 * the last newline is a line still being written, and is counted once it ends).
 */
export const logMark = (server: Pick<TestServer, 'output'>): number => server.output().split('\n').length - 1;

/** The server's log lines after `mark` whose message is `msg` (JSON lines: `"msg":"<msg>"`). */
export function logLinesSince(server: Pick<TestServer, 'output'>, mark: number, msg: string): number {
  const needle = `"msg":${JSON.stringify(msg)}`;
  return server
    .output()
    .split('\n')
    .slice(mark)
    .filter((l) => l.includes(needle)).length;
}

/** Runs a command to completion, capturing output. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe: EPIPE on stdin is not the
    // command's result (its exit code and output are), and unhandled it would end the test process.
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input ?? '');
  });
}

/**
 * The signal that ends `server`'s process (null when it exits on its own), or 'timeout' when it
 * is still running after `timeoutMs`: for a server that kills itself (SRS_TEST_CRASH_AFTER_STEP).
 * Call it before what makes the process exit: an exit already past is not seen.
 */
export function died(server: Pick<TestServer, 'proc'>, timeoutMs = 60_000): Promise<string | null> {
  return new Promise<string | null>((resolve) => {
    const t = setTimeout(() => resolve('timeout'), timeoutMs);
    server.proc.once('exit', (_c, sig) => {
      clearTimeout(t);
      resolve(sig);
    });
  });
}
