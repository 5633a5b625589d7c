/**
 * How fast each per-recording delivery drains a backlog, with its production pass settings: N
 * one-minute recordings (default 300) stored by the real finalize step into a real Postgres with the
 * production key type (RSA 4096), then, one feature at a time through `startDelivery`, the MP3
 * export to a local directory, the email notifications (every recording's user subscribed, MP3
 * attached) and the SMTP journal (MP3 attached) to a real SMTP server on loopback, each timed from
 * its start until every recording is delivered; then the offload in the carrier format (the
 * decrypted WAVs and the CSV) to a real OpenSSH server, one batch of all of them, timed from its
 * cut to its confirmation, and as many again over FTPS (explicit TLS) to pyftpdlib, and to S3 on
 * a Ceph radosgw of its own (when the machine has it). A recorder ending calls at R per second needs each
 * enabled feature above R. `npx tsx scripts/delivery-rate.ts [N]`; figures in docs/delivery.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { loadConfig, type Config } from '../src/config.js';
import { S3ArtifactStore } from '../src/storage/index.js';
import { Decryptor } from '../src/delivery/decrypt.js';
import { OffloadService, startDelivery } from '../src/delivery/index.js';
import type { OffloadDestination } from '../src/delivery/destination.js';
import { ftpsDest, startFtpServer } from '../test/helpers/ftp-server.js';
import { s3ServerMissing, startS3Server } from '../test/helpers/s3-server.js';
import { openDeliveryCatalogue, testLog as log, until } from '../test/helpers/delivery-catalogue.js';
import { journalSettings, startCutProxy, startSmtp, startSshd } from '../test/helpers/delivery-fixtures.js';
import { sftpDest } from '../test/helpers/delivery-seed.js';

const n = Number(process.argv[2] ?? 300);
if (!Number.isInteger(n) || n < 1) {
  console.error('usage: npx tsx scripts/delivery-rate.ts [number of recordings, default 300]');
  process.exit(2);
}
const PASSPHRASE = 'delivery rate passphrase';
/**
 * DELIVERY_RTT_MS: the SFTP and S3 offloads go through a TCP proxy that holds every chunk half of
 * this in each direction, as a destination across a network would (FTPS, whose data connections
 * go to ports of the server's choosing, is not proxied).
 */
const RTT_MS = Number(process.env.DELIVERY_RTT_MS ?? 0);
/** The offload's connections at once: the configuration's default, or DELIVERY_PARALLEL. */
const PARALLEL = Number(
  process.env.DELIVERY_PARALLEL ?? loadConfig({ SRS_DATA_DIR: tmpdir() }).offload.parallel,
);
/** The port to reach `port` through: a delaying proxy when DELIVERY_RTT_MS is set. */
async function reach(port: number): Promise<{ port: number; close(): Promise<void> }> {
  if (!(RTT_MS > 0)) return { port, close: async () => undefined };
  const proxy = await startCutProxy(port);
  proxy.delayMs = RTT_MS / 2;
  return proxy;
}
const catalogue = await openDeliveryCatalogue('srs-delivery-rate-', PASSPHRASE, log);
const { db } = catalogue;
const smtp = await startSmtp();
const exportDir = await mkdtemp(join(tmpdir(), 'srs-delivery-rate-export-'));
try {
  await db.users.create({ username: 'agent', displayName: 'Agent', role: 'user', numbers: ['1001'] });
  await db.offload.subscribe('agent', 'agent@example.com', true, true);
  for (const c of ['offload', 'export', 'notifications', 'journal']) await db.offload.cursor(c);
  await new Promise((r) => setTimeout(r, 20));
  let t = Date.now();
  for (let i = 0; i < n; i++)
    await catalogue.store('1001', `4930${String(i).padStart(6, '0')}`, 60, 440 + (i % 40));
  console.log(`${n} one-minute recordings stored in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const off = { enabled: false };
  const base = {
    dataDir: catalogue.dataDir,
    keys: { passphrase: PASSPHRASE },
    offload: off,
    export: off,
    notifications: off,
    journal: off,
  };
  const smtpSettings = smtp.settings();
  const features: [string, Partial<Config>, string][] = [
    [
      'export (local directory)',
      {
        export: {
          enabled: true,
          intervalSeconds: 60,
          template: '%{recording-id}',
          primary: { type: 'local', directory: exportDir },
          maxAttempts: 10,
        },
      } as unknown as Partial<Config>,
      `SELECT count(*)::int AS n FROM export_items WHERE state = 'done'`,
    ],
    [
      'notifications (MP3 attached)',
      {
        notifications: {
          enabled: true,
          intervalSeconds: 10,
          smtp: smtpSettings,
          from: 'recorder@example.com',
          subject: 'Recorded',
          groups: {},
          maxAttachmentBytes: 0,
          timeZone: 'UTC',
          maxAttempts: 10,
          recipients: {},
        },
      } as unknown as Partial<Config>,
      `SELECT count(*)::int AS n FROM notifications WHERE state = 'sent'`,
    ],
    [
      'journal (MP3 attached)',
      { journal: journalSettings(smtp) } as unknown as Partial<Config>,
      `SELECT count(*)::int AS n FROM journal_messages WHERE state = 'sent'`,
    ],
  ];
  for (const [name, settings, doneSql] of features) {
    const config = { ...base, ...settings } as unknown as Config;
    t = Date.now();
    const cpu0 = process.cpuUsage();
    const delivery = await startDelivery({ config, db, log });
    try {
      await until(
        `${name} to deliver ${n}`,
        async () => ((await db.pool.query<{ n: number }>(doneSql)).rows[0]?.n ?? 0) >= n,
        30 * 60_000,
        50,
      );
    } finally {
      await delivery.stop();
    }
    const s = (Date.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `${name}: ${n} in ${s.toFixed(1)} s = ${(n / s).toFixed(1)} recordings/s; this process ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} CPU-ms per recording`,
    );
  }
  const interval = 30 * 60_000;
  /** One offload batch of every recording not yet offloaded, to `audio`: cut to confirmation. */
  let runs = 0;
  const offloadAll = async (label: string, audio: OffloadDestination) => {
    // Each run a boundary later than the last one's, so that it cuts a batch of its own.
    const ahead = ++runs * interval;
    const offload = new OffloadService({
      repo: db.offload,
      decryptor: new Decryptor(catalogue.dataDir, PASSPHRASE),
      dataDir: catalogue.dataDir,
      log,
      audio,
      intervalMs: interval,
      purgeAfterTransfer: false,
      manifest: true,
      parallel: PARALLEL,
      // A boundary after every recording: the first pass cuts them all into one batch.
      now: () => new Date(Date.now() + ahead),
    });
    t = Date.now();
    const cpu0 = process.cpuUsage();
    await offload.tick();
    const [batch] = await db.offload.listBatches(1);
    const s = (Date.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (batch?.state !== 'done' || batch.count !== n)
      throw new Error(`offload: batch ${batch?.state}, ${batch?.count}`);
    console.log(
      `offload (${label}, carrier format): ${n} in ${s.toFixed(1)} s = ${(n / s).toFixed(1)} recordings/s; this process ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} CPU-ms per recording (the server not counted)`,
    );
  };
  const sshd = await startSshd();
  try {
    // The production chunk size (1 MiB), not the tests' small one.
    const dir = await mkdtemp(join(tmpdir(), 'srs-rate-sftp-'));
    const via = await reach(sshd.port);
    const label = `SFTP${RTT_MS > 0 ? `, ${RTT_MS} ms RTT` : ''}, ${PARALLEL} connection(s)`;
    await offloadAll(label, sftpDest(sshd, via.port, { directory: dir, chunkBytes: undefined }));
    await via.close();
  } finally {
    await sshd.stop();
  }
  // FTPS (explicit TLS) to pyftpdlib, with as many new recordings: the first batch holds the others.
  for (let i = 0; i < n; i++)
    await catalogue.store('1001', `4931${String(i).padStart(6, '0')}`, 60, 440 + (i % 40));
  const ftps = await startFtpServer({ tls: 'explicit' });
  try {
    await offloadAll(`FTPS, explicit TLS, ${PARALLEL} connection(s)`, ftpsDest(ftps, { directory: '/' }));
  } finally {
    await ftps.stop();
  }
  // S3 on a Ceph radosgw of its own, when the machine has it: as many new recordings again.
  const missing = await s3ServerMissing();
  if (missing) console.log(`offload (S3): not measured: ${missing}`);
  else {
    for (let i = 0; i < n; i++)
      await catalogue.store('1001', `4932${String(i).padStart(6, '0')}`, 60, 440 + (i % 40));
    const rgw = await startS3Server();
    let via: { port: number; close(): Promise<void> } | undefined;
    try {
      via = await reach(Number(new URL(rgw.endpoint).port));
      const s3 = {
        type: 's3',
        bucket: 'srs-rate',
        prefix: 'carrier',
        region: rgw.region,
        endpoint: `http://127.0.0.1:${via.port}`,
        forcePathStyle: true,
        credentialsFile: rgw.credentialsFile,
      };
      const audio = loadConfig({ SRS_DATA_DIR: catalogue.dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE }, {
        offload: { enabled: true, audio: s3 },
      } as never).offload.audio;
      if (audio?.type !== 's3') throw new Error('the S3 destination did not load');
      const admin = new S3ArtifactStore({
        ...s3,
        backend: 's3',
        prefix: '',
        sseKmsKeyId: undefined,
        partSizeMiB: 5,
        maxAttempts: 1,
      });
      await admin.client.send(new CreateBucketCommand({ Bucket: 'srs-rate' }));
      await admin.close();
      await offloadAll(
        `S3, radosgw${RTT_MS > 0 ? `, ${RTT_MS} ms RTT` : ''}, ${PARALLEL} connection(s)`,
        audio,
      );
    } finally {
      await via?.close();
      await rgw.stop();
    }
  }
} finally {
  await smtp.close();
  await rm(exportDir, { recursive: true, force: true });
  await catalogue.close();
}
