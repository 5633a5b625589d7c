/**
 * The LDAP directory at run time: the client the API logs directory users in with and syncs
 * through, and the periodic sync (`directory.syncMinutes`), audited as the system. In a cluster
 * every node syncs on its own timer; a sync that finds the users as the directory has them changes
 * nothing, and one that loses a race to another node's (ConflictError) is retried next time.
 */
import type { Config } from '../config.js';
import { runDirectorySync } from '../api/resources/users-directory.js';
import { DirectoryError, ldapDirectory, type Directory } from '../directory/ldap.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import type { Defer } from './shutdown.js';

export function startDirectory(
  config: Config['directory'],
  db: Database,
  hooks: {
    revoke: (who: { userId: string; reason: string }) => void;
    accessChanged: () => void;
  },
  log: Logger,
  defer: Defer,
): Directory | undefined {
  if (!config.url) return undefined;
  const directory = ldapDirectory(config);
  log.info({ url: directory.url, syncMinutes: config.syncMinutes }, 'LDAP directory configured');
  if (
    directory.url.startsWith('ldap://') &&
    !config.startTls &&
    !/^ldap:\/\/(127\.|localhost|\[::1\])/.test(directory.url)
  )
    log.warn(
      { url: directory.url },
      'directory: passwords (the bind account and every directory login) cross the network in clear; use ldaps:// or directory.startTls',
    );
  if (config.syncMinutes === 0) return directory;
  let running: Promise<void> | undefined;
  const sync = async () => {
    try {
      const r = await runDirectorySync(
        directory,
        { dryRun: false, disableMissing: config.disableMissing },
        {
          db,
          audit: async (action, resourceId, details) => {
            await db.audit.append({
              actor: 'directory-sync',
              actorRole: 'system',
              ip: '',
              via: 'system',
              action,
              resource: 'user',
              resourceId,
              details,
            });
          },
          ...hooks,
        },
      );
      const n = (k: 'created' | 'updated' | 'disabled' | 'skipped') => r[k].length;
      log.info(
        { created: n('created'), updated: n('updated'), disabled: n('disabled'), skipped: n('skipped') },
        'directory sync',
      );
      for (const s of r.skipped)
        log.warn({ line: s.line, username: s.username }, `directory sync: ${s.message}`);
    } catch (err) {
      const message = (err as Error).message;
      log.error({ err: message, directory: err instanceof DirectoryError }, 'directory sync failed');
    }
  };
  const tick = () => {
    running ??= sync().finally(() => (running = undefined));
  };
  const first = setTimeout(tick, 5_000);
  const every = setInterval(tick, config.syncMinutes * 60_000);
  first.unref();
  every.unref();
  defer(async () => {
    clearTimeout(first);
    clearInterval(every);
    await running;
  });
  return directory;
}
