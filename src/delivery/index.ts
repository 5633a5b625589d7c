import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import type { User } from '../store/users.js';
import type { ArtifactStore } from '../storage/index.js';
import type { RetryCounts } from '../store/offload.js';
import { Decryptor } from './decrypt.js';
import { ExportService } from './export.js';
import { JournalService } from './journal.js';
import { NotifyService } from './notify.js';
import { OffloadService } from './offload.js';
import { checkS3Destination } from './s3.js';
import { checkFtpDestination, type FtpDestination } from './ftp.js';
import {
  namedDestinations,
  testDestinationAccess,
  type AccessTestResult,
  type NamedDestination,
} from './destination.js';
import { parseTemplate } from './template.js';
import { deliveryTlsPolicy, withTlsPolicy } from './tls-policy.js';
import type { S3Destination } from '../config/s3-destination.js';

export { deliveryStatus, type DeliveryStatusView } from './status.js';
export { OffloadService, backoffMs } from './offload.js';
export { ExportService, exportPath } from './export.js';
export { NotifyService } from './notify.js';
export { JournalService } from './journal.js';
export { parseTemplate, renderTemplate } from './template.js';
export { describeS3, s3Key } from './s3.js';
export { carrierCsv, carrierCsvName, parseCsv } from './csv.js';

/**
 * Delivery of recordings: SFTP, FTP(S) or S3 offload in the carrier format, MP3 export, email
 * notifications. `checkDeliveryConfig` runs before anything starts (templates, passphrase);
 * `startDelivery` starts the enabled services; `stop()` stops them (each finishes its current
 * file, the durable state in Postgres takes the rest up on the next start).
 */

export interface Delivery {
  readonly offload?: OffloadService;
  readonly export?: ExportService;
  readonly notify?: NotifyService;
  readonly journal?: JournalService;
  /**
   * Re-queues now, with a fresh attempt budget, every failed (or backing-off) offload batch,
   * export item and notification, retries unreachable destinations at once, and wakes the
   * services; returns how many items of each went back in the queue. Audited ('delivery.requeue',
   * actor `actor`, e.g. the console user who asked; default 'delivery').
   */
  retryFailed(actor?: string): Promise<RetryCounts>;
  /** The destinations the running services write to, by the console's name (their health name). */
  destinations(): NamedDestination[];
  /** Tests access to the destination named `name` (src/delivery/destination.ts); undefined: no such one. */
  testAccess(name: string): Promise<AccessTestResult | undefined>;
  stop(): Promise<void>;
}

type DeliveryConfig = Pick<Config, 'offload' | 'export' | 'notifications' | 'journal' | 'keys' | 'dataDir'> &
  Partial<Pick<Config, 'security'>>;

/**
 * Throws ConfigError naming the setting when an enabled feature cannot work as configured.
 * `passphraseLater`: the passphrase is not known yet (srs serve checks before it reads the
 * generated one from `<data>/secrets/`; startDelivery checks the one it is given).
 */
export function checkDeliveryConfig(config: DeliveryConfig, o: { passphraseLater?: boolean } = {}): void {
  const on = [
    config.offload.enabled && 'offload',
    config.export.enabled && 'export',
    config.notifications.enabled && 'notifications',
    config.journal.enabled && 'journal',
  ].filter((x): x is string => Boolean(x));
  if (on.length === 0) return;
  if (!o.passphraseLater) Decryptor.require(config.dataDir, config.keys.passphrase, on);
  if (config.export.enabled) parseTemplate(config.export.template);
  // S3 destinations: a credentials file that cannot be read or holds no keys refuses the start;
  // FTP: a CA file that is not PEM, plain FTP not asked for twice.
  const dests: [{ type?: string | undefined } | undefined, string][] = [];
  if (config.offload.enabled)
    dests.push([config.offload.audio, 'offload.audio'], [config.offload.metadata, 'offload.metadata']);
  if (config.export.enabled)
    dests.push([config.export.primary, 'export.primary'], [config.export.secondary, 'export.secondary']);
  for (const [d, setting] of dests) {
    if (d?.type === 's3') checkS3Destination(d as S3Destination, setting);
    if (d?.type === 'ftp') checkFtpDestination(d as FtpDestination, setting);
  }
  // FTP has no fsync: a purge after it could wipe the only copy while the file is in the server's cache.
  if (config.offload.enabled && config.offload.purgeAfterTransfer && config.offload.audio?.type === 'ftp')
    throw new ConfigError(
      "offload.purgeAfterTransfer: not with an ftp audio destination (FTP cannot confirm that a file is on the server's disk, so a crash of the server could lose the only copy); use sftp (OpenSSH, fsync@openssh.com) or s3, or set purgeAfterTransfer to false",
    );
  for (const part of ['notifications', 'journal'] as const) {
    if (!config[part].enabled) continue;
    try {
      new Intl.DateTimeFormat('en', { timeZone: config[part].timeZone });
    } catch {
      throw new ConfigError(`${part}.timeZone: unknown time zone "${config[part].timeZone}"`);
    }
  }
  // A purge after the journal would wipe recordings before the offload or export sends them.
  if (
    config.journal.enabled &&
    config.journal.purgeAfterTransfer &&
    (config.offload.enabled || config.export.enabled)
  )
    throw new ConfigError(
      'journal.purgeAfterTransfer: not with offload or export enabled (the recordings would be wiped before they go there); use offload.purgeAfterTransfer, or retention',
    );
}

/** Test only (SRS_TEST_CRASH_AFTER_STEP, pipeline.testCrashAfterStep): die as kill -9 would after that step. */
function crashAfter(config: object): ((step: string) => void) | undefined {
  const at = (config as { pipeline?: { testCrashAfterStep?: string } }).pipeline?.testCrashAfterStep;
  return at
    ? (step) => {
        if (step === at) process.kill(process.pid, 'SIGKILL');
      }
    : undefined;
}

export async function startDelivery(o: {
  config: DeliveryConfig;
  db: Pick<Database, 'offload' | 'users' | 'keys'>;
  log: Logger;
  /** Where the encrypted artifacts are read from (docs/storage.md); default: the data directory. */
  artifacts?: ArtifactStore;
  /**
   * The passphrase the server holds (SRS_KEY_PASSPHRASE, else the one the first start generated,
   * read back from `<data>/secrets/`: src/app/first-start.ts); default: keys.passphrase.
   */
  passphrase?: string;
  /** Whether a notification may carry a user's recording (the download permission); default: never. */
  mayAttach?: (user: User) => Promise<boolean>;
  /** Test overrides (the configuration counts in minutes and seconds). */
  intervalsMs?: { offload?: number; export?: number; notify?: number; journal?: number };
  retryBaseMs?: number;
}): Promise<Delivery> {
  const passphrase = o.passphrase ?? o.config.keys.passphrase;
  // The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) on every FTPS and SMTP connection.
  const tls = deliveryTlsPolicy(o.config);
  const { offload: off, export: exp, notifications: notif, journal: jour } = o.config;
  const config = {
    ...o.config,
    keys: { ...o.config.keys, passphrase },
    offload: { ...off, audio: withTlsPolicy(off.audio, tls), metadata: withTlsPolicy(off.metadata, tls) },
    export: {
      ...exp,
      primary: withTlsPolicy(exp.primary, tls),
      secondary: withTlsPolicy(exp.secondary, tls),
    },
    notifications: { ...notif, smtp: notif.smtp && { ...notif.smtp, tlsPolicy: tls } },
    journal: { ...jour, smtp: jour.smtp && { ...jour.smtp, tlsPolicy: tls } },
  };
  const { db } = o;
  checkDeliveryConfig(config);
  const log = o.log.child({ part: 'delivery' });
  const on = {
    offload: config.offload.enabled,
    export: config.export.enabled,
    notify: config.notifications.enabled,
    journal: config.journal.enabled,
  };
  if (!on.offload && !on.export && !on.notify && !on.journal)
    return {
      // Nothing runs, but what an earlier configuration left failed can still be re-queued.
      retryFailed: (actor) => db.offload.retryFailed(actor),
      destinations: () => [],
      testAccess: async () => undefined,
      stop: async () => undefined,
    };
  const decryptor = Decryptor.require(
    config.dataDir,
    config.keys.passphrase,
    ['delivery'],
    o.artifacts,
    config.keys.inCatalogue ? db.keys : undefined,
  );
  // A wrong passphrase stops the start here, not at the first delivery.
  await decryptor.check().catch((err: Error) => {
    throw new ConfigError(
      `${o.config.keys.passphrase !== undefined ? 'keys.passphrase (SRS_KEY_PASSPHRASE)' : `the generated passphrase in ${join(config.dataDir, 'secrets', 'recording-key-passphrase')}`} cannot unlock the recording key: ${err.message}; set SRS_KEY_PASSPHRASE to its passphrase`,
    );
  });
  // Every decryption for a delivery is audited (system principal, one entry per recording,
  // purpose and destination or mailbox within 10 minutes: retries of a batch add none), like every
  // other way audio leaves. A decryption that finds its entry still being written waits for it.
  const audit = (db as Partial<Pick<Database, 'audit'>>).audit;
  // Removals the store refuses after a purge, kept for the retention pass (src/store/pending-deletions.ts).
  const pending = (db as Partial<Pick<Database, 'pendingDeletions'>>).pendingDeletions;
  if (audit) {
    const seen = new Map<string, { at: number; done: Promise<void> }>();
    decryptor.onAccess = async (recordingId, purpose, to, user) => {
      const key = `${recordingId}\n${purpose}\n${to}`;
      const now = Date.now();
      const first = seen.get(key);
      if (first && now - first.at < 10 * 60_000) return first.done;
      const done = audit
        .append({
          actor: 'system',
          actorRole: 'system',
          ip: '',
          via: 'system',
          action: 'delivery',
          resource: 'recording',
          resourceId: recordingId,
          details: { purpose, permission: 'download', to, ...(user !== undefined ? { user } : {}) },
        })
        .then(() => undefined);
      if (seen.size > 50_000) seen.clear();
      seen.set(key, { at: now, done });
      try {
        await done;
      } catch (err) {
        if (seen.get(key)?.done === done) seen.delete(key);
        throw err;
      }
    };
  }
  const services: { stop(): Promise<void> }[] = [];
  let offload: OffloadService | undefined;
  let exporter: ExportService | undefined;
  let notify: NotifyService | undefined;
  let journal: JournalService | undefined;
  if (on.offload && config.offload.audio) {
    offload = new OffloadService({
      repo: db.offload,
      decryptor,
      dataDir: config.dataDir,
      artifacts: o.artifacts,
      pending,
      log,
      audio: config.offload.audio,
      metadata: config.offload.metadata,
      intervalMs: o.intervalsMs?.offload ?? config.offload.intervalMinutes * 60_000,
      purgeAfterTransfer: config.offload.purgeAfterTransfer,
      manifest: config.offload.manifest,
      maxAttempts: config.offload.maxAttempts,
      parallel: config.offload.parallel,
      retryBaseMs: o.retryBaseMs,
      afterStep: crashAfter(config),
    });
  }
  if (on.export && config.export.primary) {
    exporter = new ExportService({
      repo: db.offload,
      decryptor,
      log,
      template: parseTemplate(config.export.template),
      primary: config.export.primary,
      secondary: config.export.secondary,
      intervalMs: o.intervalsMs?.export ?? config.export.intervalSeconds * 1000,
      maxAttempts: config.export.maxAttempts,
      parallel: config.export.parallel,
      parallelDestinations: config.export.parallelDestinations,
      retryBaseMs: o.retryBaseMs,
    });
  }
  if (on.notify && config.notifications.smtp) {
    const n = config.notifications;
    for (const [username, r] of Object.entries(n.recipients)) {
      if (!(await db.offload.subscribe(username, r.email, r.attach, r.enabled)))
        log.warn({ username }, 'notifications.recipients: no such user; subscription not saved');
    }
    notify = new NotifyService({
      repo: db.offload,
      users: db.users,
      decryptor,
      log,
      smtp: n.smtp as NonNullable<typeof n.smtp>,
      from: n.from,
      subject: n.subject,
      body: n.body,
      templateFile: n.templateFile,
      groups: n.groups,
      maxAttachmentBytes: n.maxAttachmentBytes,
      // Without the check (a caller that gives none), nothing is attached.
      mayAttach: o.mayAttach ?? (async () => false),
      timeZone: n.timeZone,
      intervalMs: o.intervalsMs?.notify ?? n.intervalSeconds * 1000,
      maxAttempts: n.maxAttempts,
      retryBaseMs: o.retryBaseMs,
    });
    await notify.checkTemplates();
  }
  if (on.journal && config.journal.smtp && config.journal.to) {
    const j = config.journal;
    journal = new JournalService({
      repo: db.offload,
      decryptor,
      log,
      smtp: j.smtp as NonNullable<typeof j.smtp>,
      from: j.from,
      to: j.to as string,
      attach: j.attach,
      maxMessageBytes: j.maxMessageBytes,
      purgeAfterTransfer: j.purgeAfterTransfer,
      artifacts: o.artifacts,
      pending,
      dataDir: config.dataDir,
      timeZone: j.timeZone,
      intervalMs: o.intervalsMs?.journal ?? j.intervalSeconds * 1000,
      maxAttempts: j.maxAttempts,
      retryBaseMs: o.retryBaseMs,
    });
  }
  for (const s of [offload, exporter, notify, journal]) {
    if (!s) continue;
    s.start();
    services.push(s);
  }
  log.info(
    {
      offload: offload ? `every ${config.offload.intervalMinutes} min` : 'off',
      export: exporter ? `every ${config.export.intervalSeconds} s` : 'off',
      notifications: notify ? 'on' : 'off',
      journal: journal ? `to ${config.journal.to}` : 'off',
    },
    'delivery started',
  );
  let stopped: Promise<void> | undefined;
  const named = namedDestinations([
    ['offload.audio', offload && config.offload.audio],
    ['offload.metadata', offload && config.offload.metadata],
    ['export.primary', exporter && config.export.primary],
    ['export.secondary', exporter && config.export.secondary],
  ]);
  return {
    offload,
    export: exporter,
    notify,
    journal,
    destinations: () => named,
    async testAccess(name) {
      const d = named.find((x) => x.name === name);
      return d && testDestinationAccess(d.dest, log);
    },
    async retryFailed(actor) {
      const counts = await db.offload.retryFailed(actor);
      log.info({ ...counts, actor }, 'delivery: failed items re-queued');
      for (const s of [offload, exporter, notify, journal]) s?.kick();
      return counts;
    },
    stop() {
      stopped ??= Promise.all(services.map((s) => s.stop())).then(() => undefined);
      return stopped;
    },
  };
}
