import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { FtpDestination } from '../../src/delivery/ftp.js';
import { freePort } from './delivery-fixtures.js';

/**
 * A real FTP server for the delivery tests: Debian's pyftpdlib (python3-pyftpdlib,
 * python3-openssl) on a free port of 127.0.0.1, one user with a password whose home is `home`
 * in a temp dir. With `tls` "explicit" (the default) it speaks FTPS (AUTH TLS) with a
 * self-signed certificate made by `openssl req -x509` for 127.0.0.1, and requires TLS on the
 * control and the data connections; "implicit" does TLS from the first byte; "none" is plain FTP.
 * Every upload (STOR, APPE) is logged with the bytes it wrote, and one can be cut mid-file: the
 * server then drops the client as a failing network would (TCP reset, no TLS close, no reply).
 */

const run = promisify(execFile);

export interface FtpServer {
  port: number;
  user: string;
  password: string;
  /** The user's home: what the server shows as `/`. */
  home: string;
  /** The self-signed certificate (PEM), to use as `caFile`; undefined in plain mode. */
  certFile: string | undefined;
  dir: string;
  /**
   * Arms a one-shot cut: the next upload (STOR or APPE) to a file named `name` (its base name)
   * stops once the file holds `atBytes` bytes (what arrived past them is not written) and the
   * server resets the data and control connections, without a reply or a TLS close.
   */
  cutUpload(name: string, atBytes: number): Promise<void>;
  /** Every upload the server took, in order: path from the home, bytes it wrote, finished or cut. */
  uploads(): Promise<FtpUpload[]>;
  stop(): Promise<void>;
}

export interface FtpUpload {
  cmd: 'STOR' | 'APPE' | 'STOU';
  /** As the client sees it: `/audio/.r_1.wav.part`. */
  path: string;
  bytes: number;
  completed: boolean;
}

/** An offload destination on `s` over explicit TLS, its certificate trusted through caFile; then `over`. */
export function ftpsDest(
  s: FtpServer,
  over: Partial<FtpDestination> & { directory: string },
): FtpDestination & { type: 'ftp' } {
  return {
    type: 'ftp',
    host: '127.0.0.1',
    port: s.port,
    username: s.user,
    password: s.password,
    tls: 'explicit',
    caFile: s.certFile,
    timeoutSeconds: 20,
    ...over,
  };
}

const SCRIPT = `
import sys, os, json, socket, struct, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, DTPHandler, TLS_FTPHandler, TLS_DTPHandler
from pyftpdlib.servers import FTPServer
port, user, password, home, mode, cert, key, uploads_log, cut_file, tls_max, tls_ciphers = sys.argv[1:12]
logging.basicConfig(level=logging.WARNING)
auth = DummyAuthorizer()
auth.add_user(user, password, home, perm='elradfmwMT')
real_home = os.path.realpath(home)
if mode == 'none':
    class Handler(FTPHandler):
        pass
    BaseDTP = DTPHandler
else:
    class Handler(TLS_FTPHandler):
        pass
    Handler.certfile = cert
    Handler.keyfile = key
    Handler.tls_control_required = True
    Handler.tls_data_required = True
    if tls_max or tls_ciphers:
        # A server held to TLS 1.2 (and to the ciphers given): what an outdated FTPS server offers.
        from OpenSSL import SSL
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.use_certificate_chain_file(cert)
        ctx.use_privatekey_file(key)
        if tls_max == 'TLSv1.2':
            ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
        if tls_ciphers:
            ctx.set_cipher_list(tls_ciphers.encode())
        Handler.ssl_context = ctx
    class BaseDTP(TLS_DTPHandler):
        # pyftpdlib 1.5.7 closes a data connection whose TLS handshake starts before the STOR or
        # RETR reaches it (basic-ftp and curl connect at once after EPSV): read the handshake.
        def readable(self):
            return self._ssl_accepting or super().readable()
    if mode == 'implicit':
        # TLS from the first byte, then the usual greeting (pyftpdlib has only explicit TLS).
        def handle(self):
            self.secure_connection(self.ssl_context)
        def handle_ssl_established(self):
            TLS_FTPHandler.handle(self)
        Handler.handle = handle
        Handler.handle_ssl_established = handle_ssl_established
class DTP(BaseDTP):
    # The cut armed in cut_file (name, atBytes) applies to the next upload to a file of that name.
    def enable_receiving(self, type, cmd):
        super().enable_receiving(type, cmd)
        self.cut_at = None
        try:
            with open(cut_file) as f:
                cut = json.load(f)
        except FileNotFoundError:
            return
        if os.path.basename(self.file_obj.name) == cut['name']:
            os.remove(cut_file)
            self.cut_at = cut['atBytes']
    def handle_read_event(self):  # what the loop calls (DTPHandler binds it to its handle_read)
        super().handle_read_event()
        if getattr(self, 'cut_at', None) is None or self._closed or self.file_obj.closed:
            return
        over = self.file_obj.tell() - self.cut_at
        if over < 0:
            return
        self.file_obj.truncate(self.cut_at)
        self.tot_bytes_received -= over
        # A failing network: no reply, no TLS close_notify, both connections reset.
        self._resp = None
        for channel in (self, self.cmd_channel):
            channel._error = True
            channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.cmd_channel.close()
def log_transfer(self, cmd, filename, receive, completed, elapsed, bytes):
    if receive:
        path = '/' + os.path.relpath(os.path.realpath(filename), real_home)
        with open(uploads_log, 'a') as f:
            f.write(json.dumps({'cmd': cmd, 'path': path, 'bytes': bytes, 'completed': bool(completed)}) + '\\n')
Handler.log_transfer = log_transfer
Handler.dtp_handler = DTP
Handler.authorizer = auth
Handler.banner = 'srs test ftp'
server = FTPServer(('127.0.0.1', int(port)), Handler)
print('ready', flush=True)
server.serve_forever()
`;

const accepts = (port: number) =>
  new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      r(true);
    });
    s.on('error', () => r(false));
  });

/**
 * `tlsMaxVersion` 'TLSv1.2': the server takes no TLS 1.3; `tlsCiphers`: its TLS 1.2 suites
 * (OpenSSL syntax), e.g. only 'AES128-SHA' (RSA key exchange, CBC).
 */
export async function startFtpServer(
  o: { tls?: 'explicit' | 'implicit' | 'none'; tlsMaxVersion?: 'TLSv1.2'; tlsCiphers?: string } = {},
): Promise<FtpServer> {
  const mode = o.tls ?? 'explicit';
  const dir = await mkdtemp(join(tmpdir(), 'srs-ftpd-'));
  const home = join(dir, 'home');
  await mkdir(home);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (mode !== 'none')
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
  const user = 'srs-archive';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const port = await freePort();
  const uploadsLog = join(dir, 'uploads.jsonl');
  const cutFile = join(dir, 'cut.json');
  const child: ChildProcess = spawn(
    // Debian's interpreter, the one python3-pyftpdlib is installed for (not a pyenv or venv one).
    '/usr/bin/python3',
    [
      '-c',
      SCRIPT,
      String(port),
      user,
      password,
      home,
      mode,
      cert,
      key,
      uploadsLog,
      cutFile,
      o.tlsMaxVersion ?? '',
      o.tlsCiphers ?? '',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pyftpdlib exited: ${stderr}`);
    if (await accepts(port)) break;
    if (i > 200) throw new Error(`pyftpdlib did not listen: ${stderr}`);
    await sleep(50);
  }
  return {
    port,
    user,
    password,
    home,
    certFile: mode === 'none' ? undefined : cert,
    dir,
    async cutUpload(name, atBytes) {
      await writeFile(cutFile, JSON.stringify({ name, atBytes }));
    },
    async uploads() {
      const text = await readFile(uploadsLog, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FtpUpload);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
