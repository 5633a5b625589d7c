/**
 * The MP3 export late in a busy day: its day index (`YYYY/MM/DD/index.csv`) already names K
 * recordings exported earlier that day, then N new one-minute recordings (stored by the real
 * finalize step into a real Postgres, RSA 4096) are exported to a local directory through
 * `startDelivery` with the production pass settings, timed from the start until every one is
 * done. The K earlier rows are put straight into the catalogue (recordings and their done export
 * items, as the export leaves them); their index is written by the export's first pass.
 * `npx tsx scripts/export-day-rate.ts [N] [K]` (defaults 300 and 50000); figures in docs/delivery.md.
 * EXPORT_DAY_TARGET=s3 exports to a Ceph radosgw of its own instead (S3 cannot append: every pass
 * writes the day's whole index).
 * A recorder ending 27 calls a second adds 97,200 rows to a day's index in an hour.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig, type Config } from '../src/config.js';
import { S3ArtifactStore } from '../src/storage/index.js';
import { s3ServerMissing, startS3Server, type S3Server } from '../test/helpers/s3-server.js';
import { startDelivery } from '../src/delivery/index.js';
import {
  openDeliveryCatalogue,
  seedEarlierExports,
  testLog as log,
  until,
} from '../test/helpers/delivery-catalogue.js';

const n = Number(process.argv[2] ?? 300);
const k = Number(process.argv[3] ?? 50_000);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 0) {
  console.error(
    'usage: npx tsx scripts/export-day-rate.ts [new recordings, default 300] [earlier rows, default 50000]',
  );
  process.exit(2);
}
const PASSPHRASE = 'export day rate passphrase';
const catalogue = await openDeliveryCatalogue('srs-export-day-', PASSPHRASE, log);
const { db } = catalogue;
const exportDir = await mkdtemp(join(tmpdir(), 'srs-export-day-'));
const onS3 = process.env.EXPORT_DAY_TARGET === 's3';
let rgw: S3Server | undefined;
let admin: S3ArtifactStore | undefined;
try {
  if (onS3) {
    const missing = await s3ServerMissing();
    if (missing) throw new Error(`EXPORT_DAY_TARGET=s3: ${missing}`);
    rgw = await startS3Server();
    admin = new S3ArtifactStore({
      backend: 's3',
      bucket: 'srs-export-day',
      prefix: '',
      region: rgw.region,
      endpoint: rgw.endpoint,
      forcePathStyle: true,
      credentialsFile: rgw.credentialsFile,
      sseKmsKeyId: undefined,
      partSizeMiB: 5,
      maxAttempts: 1,
    } as never);
    await admin.client.send(new CreateBucketCommand({ Bucket: 'srs-export-day' }));
  }
  // K recordings of today exported earlier, before the export's cursor.
  let t = Date.now();
  await seedEarlierExports(db, k);
  console.log(
    `${k} earlier exports of today put in the catalogue in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  await db.offload.cursor('export');
  await new Promise((r) => setTimeout(r, 20));
  t = Date.now();
  for (let i = 0; i < n; i++)
    await catalogue.store('1001', `4930${String(i).padStart(6, '0')}`, 60, 440 + (i % 40));
  console.log(`${n} one-minute recordings stored in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const off = { enabled: false };
  const config = {
    dataDir: catalogue.dataDir,
    keys: { passphrase: PASSPHRASE, inCatalogue: true },
    offload: off,
    notifications: off,
    journal: off,
    export: {
      enabled: true,
      intervalSeconds: 60,
      template: '%{recording-id}',
      primary: onS3 ? s3Primary(rgw as S3Server) : { type: 'local', directory: exportDir },
      maxAttempts: 10,
    },
  } as unknown as Config;
  t = Date.now();
  const cpu0 = process.cpuUsage();
  const delivery = await startDelivery({ config, db, log });
  try {
    await until(
      `the export of ${n}`,
      async () =>
        ((
          await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM export_items e JOIN recordings r ON r.id = e.recording_id
             WHERE e.state = 'done' AND r.call_id NOT LIKE 'earlier-%'`,
          )
        ).rows[0]?.n ?? 0) >= n,
      60 * 60_000,
      50,
    );
  } finally {
    await delivery.stop();
  }
  const s = (Date.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const index = onS3
    ? ((await (
        await admin?.client.send(
          new GetObjectCommand({ Bucket: 'srs-export-day', Key: `mp3/${day}/index.csv` }),
        )
      )?.Body?.transformToString('utf8')) ?? '')
    : await readFile(join(exportDir, day, 'index.csv'), 'utf8');
  const rows = index.split('\r\n').filter((l) => l.length > 0).length - 1;
  console.log(
    `export (${onS3 ? 'S3, radosgw' : 'local directory'}), day index holding ${k} rows before: ${n} in ${s.toFixed(1)} s = ${(n / s).toFixed(1)} recordings/s; ` +
      `this process ${((cpu.user + cpu.system) / 1000 / n).toFixed(1)} CPU-ms per recording; the index now names ${rows} recordings`,
  );
  if (rows !== n + k) throw new Error(`the day index names ${rows} recordings, not ${n + k}`);
} finally {
  await admin?.close();
  await rgw?.stop();
  await rm(exportDir, { recursive: true, force: true });
  await catalogue.close();
}

/** The export's S3 destination at the script's radosgw, as the configuration loads it. */
function s3Primary(server: S3Server): unknown {
  const s3 = {
    type: 's3',
    bucket: 'srs-export-day',
    prefix: 'mp3',
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentialsFile: server.credentialsFile,
  };
  return loadConfig({ SRS_DATA_DIR: catalogue.dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE }, {
    export: { enabled: true, primary: s3 },
  } as never).export.primary;
}
