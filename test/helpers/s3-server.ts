import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './server.js';

const run = promisify(execFile);
const SCRIPT = join(ROOT, 'scripts', 's3-server.sh');
const BINARIES = ['radosgw', 'radosgw-admin', 'ceph-mon', 'ceph-osd', 'monmaptool', 'ceph'];

/** Why the S3 tests cannot run here (the Ceph binaries are missing), or undefined when they can. */
export async function s3ServerMissing(): Promise<string | undefined> {
  const missing: string[] = [];
  for (const b of BINARIES) await run('sh', ['-c', `command -v ${b}`]).catch(() => missing.push(b));
  return missing.length === 0
    ? undefined
    : `Ceph radosgw not installed (${missing.join(', ')} missing): apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd`;
}

export interface S3Server {
  dir: string;
  endpoint: string;
  region: string;
  credentialsFile: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** How long `scripts/s3-server.sh start` took. */
  startMs: number;
  /** kill -9 radosgw (the cluster below stays up). */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A throwaway single-node Ceph cluster with radosgw on loopback (scripts/s3-server.sh): on `port`
 * when given (tests that run beside others pick their own), else on a free port.
 */
export async function startS3Server(opts: { port?: number } = {}): Promise<S3Server> {
  const dir = join(await mkdtemp(join(tmpdir(), 'srs-s3-')), 'ceph');
  const started = Date.now();
  const port = opts.port === undefined ? [] : ['--port', String(opts.port)];
  try {
    await run(SCRIPT, ['start', '--dir', dir, ...port], { timeout: 180_000 });
  } catch (err) {
    await run(SCRIPT, ['stop', '--dir', dir]).catch(() => undefined);
    throw err;
  }
  const startMs = Date.now() - started;
  const env = Object.fromEntries(
    (await readFile(join(dir, 'env'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const script = (cmd: string) => async () => {
    await run(SCRIPT, [cmd, '--dir', dir], { timeout: 120_000 });
  };
  return {
    dir,
    endpoint: env.S3_ENDPOINT as string,
    region: env.S3_REGION as string,
    credentialsFile: env.S3_CREDENTIALS_FILE as string,
    accessKeyId: env.AWS_ACCESS_KEY_ID as string,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY as string,
    startMs,
    stopGateway: script('rgw-stop'),
    startGateway: script('rgw-start'),
    stop: async () => {
      await script('stop')();
      await rm(dirname(dir), { recursive: true, force: true });
    },
  };
}
