import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

/**
 * A self-signed certificate made by `openssl` (CN srs.test, one day) in a new temporary directory:
 * `cert.pem` and `key.pem` there. The caller removes the directory.
 */
export function selfSignedCertDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'srs-tls-'));
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=srs.test'],
      ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    ],
    { stdio: 'ignore' },
  );
  return dir;
}

/**
 * A private CA made by `openssl` in a new temporary directory, and two certificates it signs for
 * 127.0.0.1 (subjectAltName IP:127.0.0.1, one day): `edge` (the server's) and `src` (an SRC's,
 * for its client connections and its own listener). Files: `ca.pem`, `<name>.pem`, `<name>.key`.
 * The caller removes the directory.
 */
export function privateCaDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'srs-ca-'));
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl([
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=SRS Test CA'],
    ...['-keyout', 'ca.key', '-out', 'ca.pem'],
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['edge', 'src']) {
    ssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ]);
    ssl([
      ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'],
      ...['-days', '1', '-extfile', 'san.ext', '-out', `${name}.pem`],
    ]);
  }
  return dir;
}

export type Handshake =
  { ok: true; cipher: string; version: string; fingerprint: string } | { ok: false; error: string };

/**
 * One TLS handshake with 127.0.0.1:`port` (the certificate not verified): the protocol, cipher and
 * certificate fingerprint it agreed, or the error (`timeout` after 10 s).
 */
export function handshake(port: number, opts: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    const t = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, error: 'timeout' });
    }, 10_000);
    s.once('secureConnect', () => {
      clearTimeout(t);
      const r: Handshake = {
        ok: true,
        cipher: s.getCipher().name,
        version: s.getProtocol() ?? '',
        fingerprint: s.getPeerCertificate().fingerprint256,
      };
      s.destroy();
      resolve(r);
    });
    s.once('error', (err) => {
      clearTimeout(t);
      s.destroy();
      resolve({ ok: false, error: err.message });
    });
  });
}
