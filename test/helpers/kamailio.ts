import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort } from './server.js';

/** The shipped configuration: the test runs the same file as docker/compose.yml. */
export const KAMAILIO_CFG = join(ROOT, 'docker', 'kamailio', 'kamailio.cfg');
export const KAMAILIO_BIN = '/usr/sbin/kamailio';

export async function kamailioMissing(): Promise<string | undefined> {
  return access(KAMAILIO_BIN).then(
    () => undefined,
    () => `${KAMAILIO_BIN} not installed: apt-get install -y --no-install-recommends kamailio`,
  );
}

export interface Kamailio {
  proc: ChildProcess;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Kamailio in the foreground (-DD -E) with docker/kamailio/kamailio.cfg on a free loopback port,
 * a generated dispatcher list (set 1 = the given SIP host:ports) and OPTIONS probes every second.
 */
export async function startKamailio(nodes: string[]): Promise<Kamailio> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-kamailio-'));
  const list = join(dir, 'dispatcher.list');
  await writeFile(list, nodes.map((n) => `1 sip:${n}\n`).join(''));
  const port = await freePort(true);
  const proc = spawn(
    KAMAILIO_BIN,
    [
      ...['-DD', '-E', '-f', KAMAILIO_CFG, '-l', `udp:127.0.0.1:${port}`],
      ...['-A', `DISPATCHER_LIST="${list}"`, '-A', 'DS_PING_INTERVAL=1', '-Y', dir, '-w', dir],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // Ready when it answers an OPTIONS of its own (the config answers OPTIONS to itself 200).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await sipOptions(`127.0.0.1:${port}`, 500).catch(() => 0);
    if (status === 200) break;
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`kamailio did not start:\n${out.slice(-3000)}`);
  }
  return {
    proc,
    port,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Sends one OPTIONS over UDP to host:port and resolves with the final response's status code. */
export async function sipOptions(target: string, timeoutMs = 2000): Promise<number> {
  const [host, portText] = target.split(':') as [string, string];
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const local = sock.address().port;
  const tag = Math.random().toString(36).slice(2);
  const msg =
    `OPTIONS sip:${target} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${tag}\r\n` +
    `From: <sip:probe@127.0.0.1>;tag=${tag}\r\nTo: <sip:${target}>\r\n` +
    `Call-ID: ${tag}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
  try {
    return await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to OPTIONS from ${target}`)), timeoutMs);
      sock.on('error', (err) => {
        clearTimeout(t);
        reject(err);
      });
      sock.on('message', (m) => {
        const code = Number(/^SIP\/2\.0 (\d{3})/.exec(m.toString())?.[1] ?? 0);
        if (code >= 200) {
          clearTimeout(t);
          resolve(code);
        }
      });
      sock.send(msg, Number(portText), host);
    });
  } finally {
    sock.close();
  }
}
