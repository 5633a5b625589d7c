import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './delivery-fixtures.js';

/**
 * A real FTP server for the delivery tests: Debian's pyftpdlib (python3-pyftpdlib,
 * python3-openssl) on a free port of 127.0.0.1, one user with a password whose home is `home`
 * in a temp dir. With `tls` "explicit" (the default) it speaks FTPS (AUTH TLS) with a
 * self-signed certificate made by `openssl req -x509` for 127.0.0.1, and requires TLS on the
 * control and the data connections; "implicit" does TLS from the first byte; "none" is plain FTP.
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
  stop(): Promise<void>;
}

const SCRIPT = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler, TLS_DTPHandler
from pyftpdlib.servers import FTPServer
port, user, password, home, mode, cert, key = sys.argv[1:8]
logging.basicConfig(level=logging.WARNING)
auth = DummyAuthorizer()
auth.add_user(user, password, home, perm='elradfmwMT')
if mode == 'none':
    class Handler(FTPHandler):
        pass
else:
    class Handler(TLS_FTPHandler):
        pass
    Handler.certfile = cert
    Handler.keyfile = key
    Handler.tls_control_required = True
    Handler.tls_data_required = True
    class DTP(TLS_DTPHandler):
        # pyftpdlib 1.5.7 closes a data connection whose TLS handshake starts before the STOR or
        # RETR reaches it (basic-ftp and curl connect at once after EPSV): read the handshake.
        def readable(self):
            return self._ssl_accepting or super().readable()
    Handler.dtp_handler = DTP
    if mode == 'implicit':
        # TLS from the first byte, then the usual greeting (pyftpdlib has only explicit TLS).
        def handle(self):
            self.secure_connection(self.ssl_context)
        def handle_ssl_established(self):
            TLS_FTPHandler.handle(self)
        Handler.handle = handle
        Handler.handle_ssl_established = handle_ssl_established
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

export async function startFtpServer(o: { tls?: 'explicit' | 'implicit' | 'none' } = {}): Promise<FtpServer> {
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
  const child: ChildProcess = spawn(
    // Debian's interpreter, the one python3-pyftpdlib is installed for (not a pyenv or venv one).
    '/usr/bin/python3',
    ['-c', SCRIPT, String(port), user, password, home, mode, cert, key],
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
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
