/**
 * The LDAP directory at run time: the client the API logs directory users in with and syncs
 * through, and the periodic sync (`directory.syncMinutes`), audited as the system. In a cluster
 * every node syncs on its own timer; a sync that finds the users as the directory has them changes
 * nothing, and one that loses a race to another node's (ConflictError) is retried next time.
 */
import type { Config } from '../config.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import { runDirectorySync } from '../api/resources/users-directory.js';
import { DirectoryError, ldapDirectory, type Directory } from '../directory/ldap.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import type { Defer } from './shutdown.js';

/** How the periodic sync went, for /metrics. */
export interface DirectorySyncState {
  /** Unix ms of the last sync that finished; 0 before any. */
  lastSuccessAt: number;
  /** Syncs failed since the last that finished. */
  failures: number;
  /** People the last finished sync skipped. */
  skipped: number;
}

/** The directory series of /metrics (only while the server syncs on its own). */
export function directoryMetrics(
  m: { collect(name: string, help: string, type: 'gauge', fn: () => { value: number }[]): void },
  s: DirectorySyncState,
): void {
  m.collect(
    'srs_directory_sync_last_success_timestamp_seconds',
    'When the periodic LDAP directory sync last finished (unix seconds); 0 before the first.',
    'gauge',
    () => [{ value: Math.floor(s.lastSuccessAt / 1000) }],
  );
  m.collect(
    'srs_directory_sync_failures',
    'Periodic LDAP directory syncs failed since the last one that finished (the directory unreachable, a refused sync).',
    'gauge',
    () => [{ value: s.failures }],
  );
  m.collect(
    'srs_directory_sync_skipped',
    'People the last periodic LDAP directory sync skipped (each logged with the reason).',
    'gauge',
    () => [{ value: s.skipped }],
  );
}

export function startDirectory(
  config: Config['directory'],
  db: Database,
  hooks: {
    revoke: (who: { userId: string; reason: string }) => void;
    accessChanged: () => void;
  },
  log: Logger,
  defer: Defer,
  /** The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of ldaps:// and StartTLS. */
  tls: TlsPolicy,
): { directory: Directory; sync?: DirectorySyncState } | undefined {
  if (!config.url) return undefined;
  const directory = ldapDirectory(config, tls);
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
  if (config.syncMinutes === 0) return { directory };
  const state: DirectorySyncState = { lastSuccessAt: 0, failures: 0, skipped: 0 };
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
      Object.assign(state, { lastSuccessAt: Date.now(), failures: 0, skipped: r.skipped.length });
    } catch (err) {
      state.failures++;
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
  return { directory, sync: state };
}
