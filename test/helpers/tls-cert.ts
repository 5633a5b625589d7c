import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
