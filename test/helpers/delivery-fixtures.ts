import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Logger } from '../../src/log.js';
import type { MixOptions, MixResult } from '../../src/media/types.js';
import type { Decryptor } from '../../src/delivery/decrypt.js';
import { NotifyService, type NotifyOptions } from '../../src/delivery/notify.js';
import { finalizeRecording } from '../../src/pipeline/finalize.js';
import type { Database } from '../../src/store/db.js';
import { toneWav } from './audio.js';

export { toneWav };

/**
 * Real parts for the delivery tests: an OpenSSH sshd (Debian openssh-server) on a loopback high
 * port with its own host key and config, a TCP proxy in front of it that can cut connections,
 * and recordings stored by the real finalize step (real MP3, real OpenPGP).
 */

const run = promisify(execFile);

export interface Sshd {
  port: number;
  user: string;
  /** Private key file accepted for `user`. */
  clientKey: string;
  /** Host key fingerprint as `ssh-keygen -lf` prints it (SHA256:...). */
  hostKeySha256: string;
  dir: string;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that is free now (sshd, FTP servers, proxies). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Starts sshd -D on 127.0.0.1 with key authentication for the current user. `sftpLog`: the SFTP
 * subsystem is OpenSSH's sftp-server at DEBUG3, logging every request to that file; `deny`: the
 * requests it refuses (sftp-server -P, e.g. "fsync").
 */
export async function startSshd(o: { sftpLog?: string; deny?: string } = {}): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-sshd-'));
  await mkdir('/run/sshd', { recursive: true }).catch(() => undefined);
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  const { stdout } = await run('ssh-keygen', ['-lf', `${hostKey}.pub`]);
  const hostKeySha256 = stdout.split(' ')[1] as string;
  const authorized = join(dir, 'authorized_keys');
  await run('cp', [`${clientKey}.pub`, authorized]);
  await chmod(authorized, 0o600);
  const port = await freePort();
  const cfg = join(dir, 'sshd_config');
  await writeFile(
    cfg,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      o.sftpLog
        ? `Subsystem sftp /usr/lib/openssh/sftp-server -e -l DEBUG3${o.deny ? ` -P ${o.deny}` : ''} 2>>${o.sftpLog}`
        : 'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      'MaxStartups 50',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-f', cfg, '-D', '-e'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Ready when the port accepts connections.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${stderr}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (i > 100) throw new Error(`sshd did not listen: ${stderr}`);
    await sleep(50);
  }
  return {
    port,
    user: userInfo().username,
    clientKey,
    hostKeySha256,
    dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

/** A TCP proxy to `port` that can cut every connection once `cutAfterBytes` client bytes went through. */
export interface CutProxy {
  port: number;
  /** Cut each connection after this many bytes upstream (undefined: never). */
  cutAfterBytes: number | undefined;
  /** Refuse (close at once) new connections. */
  down: boolean;
  /** Hold every chunk this long in each direction, in order (a network's latency: RTT / 2). */
  delayMs: number;
  cuts: number;
  /** The most client connections open at once. */
  peak: number;
  close(): Promise<void>;
}

export async function startCutProxy(targetPort: number): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  const open = new Set<Socket>();
  const state: CutProxy = {
    port: 0,
    cutAfterBytes: undefined,
    down: false,
    delayMs: 0,
    cuts: 0,
    peak: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((client) => {
    if (state.down) {
      client.destroy();
      return;
    }
    const up = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    open.add(client);
    state.peak = Math.max(state.peak, open.size);
    client.once('close', () => open.delete(client));
    let sent = 0;
    // Timers of one duration fire in the order they were set: the bytes keep their order.
    const later = (f: () => void) => (state.delayMs > 0 ? void setTimeout(f, state.delayMs) : f());
    const cut = () => {
      state.cuts++;
      client.destroy();
      up.destroy();
    };
    client.on('data', (d: Buffer) => {
      if (state.cutAfterBytes !== undefined && sent + d.length > state.cutAfterBytes) {
        // Forward up to the limit (the server keeps what arrived whole), then cut.
        const keep = Math.max(0, state.cutAfterBytes - sent);
        sent += keep;
        up.write(d.subarray(0, keep), () => setTimeout(cut, 50));
        client.pause();
        return;
      }
      sent += d.length;
      later(() => up.write(d));
    });
    up.on('data', (d: Buffer) => later(() => client.write(d)));
    // Delayed: the other side is ended after what is still held (a destroy would drop it).
    client.on('close', () => (state.delayMs > 0 ? later(() => up.end()) : up.destroy()));
    up.on('close', () => (state.delayMs > 0 ? later(() => client.end()) : client.destroy()));
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

export interface StoredFixture {
  id: string;
  wav: Buffer;
  callId: string;
}

/**
 * Stores a recording through the real finalize step (the mixer stand-in writes `wav`): real MP3
 * (ffmpeg), real OpenPGP encryption, catalogue row, hash chain.
 */
export async function storeRecording(o: {
  db: Database;
  dataDir: string;
  log: Logger;
  key: { fingerprint: string; publicKeyArmored: string };
  caller: { aor: string; name: string };
  callee: { aor: string; name: string };
  wav: Buffer;
  startedAt?: Date;
  callId?: string;
}): Promise<StoredFixture> {
  const id = randomUUID();
  const callId = o.callId ?? `call-${id.slice(0, 8)}@pbx.example`;
  await o.db.recordings.create({
    id,
    sessionId: `sess-${id.slice(0, 6)}`,
    callId,
    srcAddress: '192.0.2.10:5060',
    startedAt: o.startedAt ?? new Date(),
    participants: [
      { participantId: 'p1', aor: o.caller.aor, name: o.caller.name, sendsLabels: ['1'] },
      { participantId: 'p2', aor: o.callee.aor, name: o.callee.name, sendsLabels: ['2'] },
    ],
    streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
    metadataXml: null,
  });
  const durationMs = Math.round(((o.wav.length - 58) / 8000) * 1000);
  await o.db.recordings.markEnded(
    id,
    new Date((o.startedAt ?? new Date()).getTime() + durationMs),
    durationMs,
    {},
  );
  await mkdir(join(o.dataDir, 'spool', id), { recursive: true });
  const mixer = {
    async mix(m: MixOptions): Promise<MixResult> {
      const r = { samples: o.wav.length - 58, durationMs, legs: 1 };
      if (!m.wavPath) return { ...r, data: Buffer.from(o.wav) };
      await writeFile(m.wavPath, o.wav);
      return { ...r, wavPath: m.wavPath };
    },
  };
  await finalizeRecording(
    {
      recordings: o.db.recordings,
      mixer,
      dataDir: o.dataDir,
      log: o.log,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key: o.key,
      chain: o.db.chain,
    },
    id,
  );
  return { id, wav: o.wav, callId };
}

/** A real SMTP server on loopback (smtp-server) that keeps what arrives and can refuse it. */
export interface TestSmtp {
  port: number;
  mails: { to: string[]; raw: string }[];
  /** While set, every message is refused at DATA with this reply code (451 temporary, 550 permanent). */
  refuse: number | undefined;
  /** The next this many messages are refused at DATA with 451 (temporary), one by one. */
  refuseNext: number;
  refused: number;
  /** Notification settings' `smtp` for this server: plain SMTP on loopback, no TLS. */
  settings(): { host: string; port: number; secure: false; requireTLS: false; rejectUnauthorized: false };
  close(): Promise<void>;
}

export async function startSmtp(): Promise<TestSmtp> {
  const { SMTPServer } = await import('smtp-server');
  const state: TestSmtp = {
    port: 0,
    mails: [],
    refuse: undefined,
    refuseNext: 0,
    refused: 0,
    settings: () => ({
      host: '127.0.0.1',
      port: state.port,
      secure: false,
      requireTLS: false,
      rejectUnauthorized: false,
    }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (state.refuse !== undefined) {
          state.refused++;
          const err = new Error('mailbox unavailable') as Error & { responseCode: number };
          err.responseCode = state.refuse;
          cb(err);
          return;
        }
        if (state.refuseNext > 0) {
          state.refuseNext--;
          state.refused++;
          const err = new Error('mailbox busy, try later') as Error & { responseCode: number };
          err.responseCode = 451;
          cb(err);
          return;
        }
        state.mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('latin1'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.server.address() as AddressInfo).port;
  return state;
}

/**
 * A notifier on a test catalogue and SMTP server (UTC, a pass a second, no attachment limit), with
 * `over` on top.
 */
export function testNotifier(
  w: { db: Pick<Database, 'offload' | 'users'>; decryptor: Decryptor; log: Logger; smtp: TestSmtp },
  over: Partial<NotifyOptions>,
): NotifyService {
  return new NotifyService({
    repo: w.db.offload,
    users: w.db.users,
    decryptor: w.decryptor,
    log: w.log,
    smtp: w.smtp.settings(),
    from: 'recorder@example.com',
    subject: 'Recorded',
    maxAttachmentBytes: 0,
    // The recorded users may download (the server asks permissions.download: api-access-rules.test.ts).
    mayAttach: async () => true,
    timeZone: 'UTC',
    intervalMs: 1000,
    ...over,
  });
}

/** `journal` settings for a test SMTP server (MP3 attached, no size limit, no purge), with `over`. */
export function journalSettings(smtp: TestSmtp, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enabled: true,
    to: 'journal@archive.example',
    from: 'recorder@example.com',
    smtp: smtp.settings(),
    attach: 'mp3',
    maxMessageBytes: 0,
    purgeAfterTransfer: false,
    timeZone: 'UTC',
    intervalSeconds: 10,
    maxAttempts: 10,
    ...over,
  };
}
