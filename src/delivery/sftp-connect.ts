import { createHash, createHmac } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { readSettingFileText } from '../config/setting-file.js';

/** How an SFTP connection is made: the TCP socket and the host key checks (src/delivery/sftp.ts). */

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints a host key's fingerprint. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Does this known_hosts host field name host:port? (plain, [host]:port, or |1|salt|hash entries) */
function hostMatches(field: string, host: string, port: number): boolean {
  const name = port === 22 ? host : `[${host}]:${port}`;
  return field.split(',').some((h) => {
    if (h.startsWith('|1|')) {
      const [, , salt, hash] = h.split('|');
      if (!salt || !hash) return false;
      return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
    }
    return h === name;
  });
}

/** The keys (raw blobs) known_hosts lists for host:port. */
export async function knownHostKeys(file: string, host: string, port: number): Promise<Buffer[]> {
  const text = await readSettingFileText(file, 16 << 20); // a large site's known_hosts
  const keys: Buffer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@revoked')) continue;
    const parts = line.replace(/^@cert-authority\s+/, '').split(/\s+/);
    if (parts.length >= 3 && hostMatches(parts[0] as string, host, port))
      keys.push(Buffer.from(parts[2] as string, 'base64'));
  }
  return keys;
}

/** A TCP connection to `host:port` with Nagle off, or an error after `timeoutMs`. */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port });
    s.setNoDelay(true);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.on('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}
