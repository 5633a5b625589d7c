/**
 * How fast the MP3 export drains a backlog to a destination across a network: N one-minute
 * recordings (default 300) stored by the real finalize step into a real Postgres, then exported
 * through `startDelivery` with the production pass settings to a real OpenSSH server (SFTP) and to
 * a Ceph radosgw (S3, when the machine has it), each behind a TCP proxy that holds every chunk
 * half of DELIVERY_RTT_MS (default 40) in each direction. Timed from the service's start until
 * every recording is exported and indexed; the day index is checked to name each of them once.
 * EXPORT_PARALLEL sets `export.parallel` (default: the configuration's).
 * `npx tsx scripts/export-remote-rate.ts [N]`; figures in docs/delivery.md.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig, type Config } from '../src/config.js';
import { startDelivery } from '../src/delivery/index.js';
import { S3ArtifactStore } from '../src/storage/index.js';
import { parseCsv } from '../src/delivery/csv.js';
import { s3ServerMissing, startS3Server } from '../test/helpers/s3-server.js';
import { openDeliveryCatalogue, testLog as log, until } from '../test/helpers/delivery-catalogue.js';
import { startCutProxy, startSshd } from '../test/helpers/delivery-fixtures.js';
import { sftpDest } from '../test/helpers/delivery-seed.js';

const n = Number(process.argv[2] ?? 300);
if (!Number.isInteger(n) || n < 1) {
  console.error('usage: npx tsx scripts/export-remote-rate.ts [number of recordings, default 300]');
  process.exit(2);
}
const PASSPHRASE = 'export rate passphrase';
const RTT_MS = Number(process.env.DELIVERY_RTT_MS ?? 40);
const defaults = loadConfig({ SRS_DATA_DIR: tmpdir() }).export as unknown as Record<string, unknown>;
const PARALLEL = Number(process.env.EXPORT_PARALLEL ?? defaults.parallel ?? 1);

const catalogue = await openDeliveryCatalogue('srs-export-rate-', PASSPHRASE, log);
const { db } = catalogue;
const done = async () =>
  (
    await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM export_items WHERE state = 'done' AND destination = 'primary'`,
    )
  ).rows[0]?.n ?? 0;

/** Exports every recording not yet exported to `primary`, timed, and checks the day index. */
async function exportAll(label: string, primary: unknown, readIndex: () => Promise<string>): Promise<void> {
  const before = await done();
  const config = {
    dataDir: catalogue.dataDir,
    keys: { passphrase: PASSPHRASE },
    offload: { enabled: false },
    notifications: { enabled: false },
    journal: { enabled: false },
    export: {
      enabled: true,
      intervalSeconds: 60,
      template: '%{setup-time##%Y/%m/%d}/%{recording-id}',
      primary,
      maxAttempts: 10,
      parallel: PARALLEL,
    },
  } as unknown as Config;
  const t = Date.now();
  const cpu0 = process.cpuUsage();
  const delivery = await startDelivery({ config, db, log });
  try {
    await until(`export to ${label}`, async () => (await done()) - before >= n, 30 * 60_000, 50);
  } finally {
    await delivery.stop();
  }
  const s = (Date.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const [header, ...rows] = parseCsv(await readIndex());
  const col = header?.indexOf('Recording ID') ?? -1;
  if (col < 0) throw new Error(`${label}: the day index has no Recording ID column`);
  const ids = rows.map((r) => r[col]);
  if (new Set(ids).size !== ids.length || ids.length < n)
    throw new Error(`${label}: the index names ${ids.length} rows, ${new Set(ids).size} distinct`);
  console.log(
    `export (${label}, ${RTT_MS} ms RTT, export.parallel ${PARALLEL}): ${n} in ${s.toFixed(1)} s = ${(n / s).toFixed(1)} recordings/s; ` +
      `this process ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} CPU-ms per recording (the server not counted); index ${ids.length} rows, each once`,
  );
}

const store = async (batch: number) => {
  for (let i = 0; i < n; i++)
    await catalogue.store('1001', `49${batch}${String(i).padStart(6, '0')}`, 60, 440 + (i % 40));
};
const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '/');
try {
  await db.users.create({ username: 'agent', displayName: 'Agent', role: 'user', numbers: ['1001'] });
  await db.offload.cursor('export');
  await new Promise((r) => setTimeout(r, 20));
  const t = Date.now();
  await store(1);
  console.log(`${n} one-minute recordings stored in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const sshd = await startSshd();
  const dir = await mkdtemp(join(tmpdir(), 'srs-export-rate-sftp-'));
  try {
    const proxy = await startCutProxy(sshd.port);
    proxy.delayMs = RTT_MS / 2;
    const dest = { type: 'sftp', ...sftpDest(sshd, proxy.port, { directory: dir, chunkBytes: undefined }) };
    await exportAll('SFTP', dest, async () => {
      const day = join(dir, today());
      if (!(await readdir(day)).includes('index.csv')) throw new Error('no index.csv');
      return readFile(join(day, 'index.csv'), 'utf8');
    });
    await proxy.close();
  } finally {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const missing = await s3ServerMissing();
  if (missing) console.log(`export (S3): not measured: ${missing}`);
  else {
    // As many new recordings again: the S3 destination gets them (and its whole day index).
    await store(2);
    const rgw = await startS3Server();
    const proxy = await startCutProxy(Number(new URL(rgw.endpoint).port));
    proxy.delayMs = RTT_MS / 2;
    try {
      const s3 = {
        type: 's3',
        bucket: 'srs-export-rate',
        prefix: 'mp3',
        region: rgw.region,
        endpoint: `http://127.0.0.1:${proxy.port}`,
        forcePathStyle: true,
        credentialsFile: rgw.credentialsFile,
      };
      const primary = loadConfig({ SRS_DATA_DIR: catalogue.dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE }, {
        export: { enabled: true, primary: s3 },
      } as never).export.primary;
      const admin = new S3ArtifactStore({
        ...s3,
        endpoint: rgw.endpoint,
        backend: 's3',
        prefix: '',
        sseKmsKeyId: undefined,
        partSizeMiB: 5,
        maxAttempts: 1,
      });
      await admin.client.send(new CreateBucketCommand({ Bucket: 'srs-export-rate' }));
      try {
        await exportAll('S3, radosgw', primary, async () => {
          const r = await admin.client.send(
            new GetObjectCommand({ Bucket: 'srs-export-rate', Key: `mp3/${today()}/index.csv` }),
          );
          return (await r.Body?.transformToString('utf8')) ?? '';
        });
      } finally {
        await admin.close();
      }
    } finally {
      await proxy.close();
      await rgw.stop();
    }
  }
} finally {
  await catalogue.close();
}
