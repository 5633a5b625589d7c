/**
 * The server admin token: SRS_ADMIN_TOKEN, or a generated one kept in `<data>/admin-token` (mode
 * 0600) that `srs token rotate-admin` rewrites and a running server reads again.
 */
import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { writeSecretFile } from '../secrets.js';

/** Where the admin token lives when SRS_ADMIN_TOKEN is not set (`srs token rotate-admin` rewrites it). */
export const adminTokenFile = (dataDir: string): string => join(dataDir, 'admin-token');

/** The configured token, else the one in the token file, else a new one written there. */
export async function loadAdminToken(config: Config, log: Logger): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = adminTokenFile(config.dataDir);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('base64url');
    await writeSecretFile(file, token);
    log.warn({ file }, 'generated an admin token (mode 0600 file; set SRS_ADMIN_TOKEN to choose one)');
    return token;
  }
}

export interface AdminTokenWatch {
  dataDir: string;
  current: () => string;
  /** Takes the new token and drops the old one (sockets opened with it included). */
  replace: (next: string) => void;
  log: Logger;
}

/**
 * Watches the token file (every 2 s): a rotated token replaces the current one. Returns the
 * function that stops watching.
 */
export function watchAdminToken(o: AdminTokenWatch): () => void {
  const file = adminTokenFile(o.dataDir);
  const reload = (): void => {
    readFile(file, 'utf8').then(
      (t) => {
        const next = t.trim();
        if (next && next !== o.current()) {
          o.replace(next);
          o.log.warn({ file }, 'admin token rotated: the previous one no longer works');
        }
      },
      (err: Error) => o.log.error({ file, err: err.message }, 'cannot read the admin token file'),
    );
  };
  watchFile(file, { interval: 2000 }, reload);
  return () => unwatchFile(file);
}
