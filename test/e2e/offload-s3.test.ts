import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { parseCsv } from '../../src/delivery/csv.js';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { exportPath } from '../../src/delivery/export.js';
import { startDelivery, type Delivery } from '../../src/delivery/index.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { s3Key, s3Labels } from '../../src/delivery/s3.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { parseTemplate } from '../../src/delivery/template.js';
import { S3ArtifactStore } from '../../src/storage/index.js';
import type { Database } from '../../src/store/db.js';
import { startCutProxy, type CutProxy } from '../helpers/delivery-fixtures.js';
import {
  openDeliveryCatalogue,
  sha256Hex as sha,
  testLog as log,
  until as poll,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';
import { s3ServerMissing, startS3Server, type S3Server } from '../helpers/s3-server.js';

/**
 * The `s3` delivery destination against a real S3 implementation: Ceph radosgw (scripts/s3-server.sh,
 * one start for the file). Each destination has a secondary location: another bucket reached
 * through a TCP proxy that can refuse connections, so the secondary can fail on its own; stopping
 * radosgw (rgw-stop) is the primary's outage. Offload and export land the same bytes the SFTP path
 * sends (the decrypted WAV, the carrier CSV, the decrypted MP3) under the prefix at both locations,
 * are retried with backoff through an outage and delivered once after it, with the health of each
 * location and the audit trail following.
 */

const PASSPHRASE = 'delivery s3 passphrase';
/** radosgw's port: a free one, or TEST_RGW_PORT (runs beside other suites that pick theirs). */
const RGW_PORT = Number(process.env.TEST_RGW_PORT ?? '') || undefined;
const read = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

/** radosgw is slower than the SFTP and local paths: a longer wait, polled less often. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>) => poll(what, fn, 90_000, 200);

const missing = await s3ServerMissing();
if (missing) console.log(`# offload-s3 tests skipped: ${missing}`);

describe(
  'delivery to S3 on Ceph radosgw: offload and export, secondary location, outages',
  { skip: missing, timeout: 900_000 },
  () => {
    let server: S3Server;
    let proxy: CutProxy;
    let dataDir: string;
    let db: Database;
    let catalogue: DeliveryCatalogue;
    const stores: S3ArtifactStore[] = [];
    const env = () => ({ SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: PASSPHRASE });

    /** A whole bucket, to look at what arrived (prefix '' so every key shows). */
    const bucket = (name: string) => {
      const s = new S3ArtifactStore({
        backend: 's3',
        bucket: name,
        prefix: '',
        region: server.region,
        endpoint: server.endpoint,
        forcePathStyle: true,
        credentialsFile: server.credentialsFile,
        sseKmsKeyId: undefined,
        partSizeMiB: 5,
        maxAttempts: 1,
      });
      stores.push(s);
      return s;
    };
    const keys = async (s: S3ArtifactStore, prefix: string) => {
      const out: string[] = [];
      for await (const o of s.list(prefix)) out.push(o.key);
      return out.sort();
    };
    const body = async (s: S3ArtifactStore, k: string) => read((await s.get(k)).body);
    /**
     * An s3 destination as the configuration file gives it: primary straight to radosgw with a
     * credentials file; the secondary through the proxy with credentials from the environment.
     */
    const s3Setting = (primary: string, secondary: string, prefix: string) => ({
      type: 's3',
      bucket: primary,
      prefix,
      region: server.region,
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentialsFile: server.credentialsFile,
      partSizeMiB: 5,
      maxAttempts: 1,
      secondary: {
        bucket: secondary,
        prefix: `copy/${prefix}`,
        region: server.region,
        endpoint: `http://127.0.0.1:${proxy.port}`,
        forcePathStyle: true,
      },
    });
    const store = (caller: string, callee: string, seconds: number, hz: number) =>
      catalogue.store(caller, callee, seconds, hz);
    const actions = (resourceId: string) => catalogue.actions(resourceId);

    before(async () => {
      server = await startS3Server(RGW_PORT ? { port: RGW_PORT } : {});
      console.log(`# radosgw started in ${server.startMs} ms`);
      proxy = await startCutProxy(Number(new URL(server.endpoint).port));
      // The secondary locations take the SDK's default chain: the environment.
      process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
      const admin = bucket('srs-offload');
      for (const b of ['srs-offload', 'srs-offload-dr', 'srs-export', 'srs-export-dr'])
        await admin.client.send(new CreateBucketCommand({ Bucket: b }));
      // Versioned: every write of a key is kept, so "delivered once" can be counted.
      for (const b of ['srs-offload', 'srs-export'])
        await admin.client.send(
          new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }),
        );
      catalogue = await openDeliveryCatalogue('srs-delivery-s3-', PASSPHRASE, log);
      ({ dataDir, db } = catalogue);
      for (const c of ['offload', 'export']) await db.offload.cursor(c);
      await new Promise((r) => setTimeout(r, 20));
    });

    after(async () => {
      for (const s of stores) await s.close();
      await proxy?.close();
      await catalogue?.close();
      await server?.stop();
    });

    it('offload: carrier files at both locations; secondary then primary outage retried with backoff, delivered once; health and audit follow', async () => {
      const cfg = loadConfig(env(), {
        offload: {
          enabled: true,
          audio: s3Setting('srs-offload', 'srs-offload-dr', 'carrier/audio'),
          maxAttempts: 10,
        },
      } as never);
      const audio = cfg.offload.audio;
      assert.ok(audio?.type === 's3');
      const [primaryLabel, secondaryLabel] = s3Labels(audio) as [string, string];
      const primary = bucket('srs-offload');
      const secondary = bucket('srs-offload-dr');
      const interval = 60_000;
      let clock = (Math.floor(Date.now() / interval) + 1) * interval + interval / 2;
      const svc = new OffloadService({
        repo: db.offload,
        decryptor: new Decryptor(dataDir, PASSPHRASE),
        dataDir,
        log,
        audio,
        intervalMs: interval,
        purgeAfterTransfer: false,
        manifest: true,
        retryBaseMs: 1000,
        maxAttempts: cfg.offload.maxAttempts,
        now: () => new Date(clock),
      });
      const target = async (name: string) =>
        (await deliveryStatus(db.offload)).targets.find((t) => t.name === name);

      // 1. Both locations up: the batch lands whole under each prefix.
      const r1 = await store('1001', '4930111', 4, 440);
      const r2 = await store('1002', '4930222', 3, 660);
      await svc.tick();
      const [b1] = await db.offload.listBatches(1);
      assert.ok(b1);
      assert.equal(b1.state, 'done', b1.lastError ?? '');
      assert.equal(b1.count, 2);
      const want = [
        b1.csvName,
        b1.csvName.replace(/\.csv$/, '.sha256'),
        `r_${r1.id}.wav`,
        `r_${r2.id}.wav`,
      ].sort();
      for (const [s, prefix] of [
        [primary, 'carrier/audio/'],
        [secondary, 'copy/carrier/audio/'],
      ] as const) {
        assert.deepEqual(await keys(s, prefix), want.map((n) => prefix + n).sort());
        for (const r of [r1, r2]) {
          // What the SFTP path sends: the decrypted WAV, byte for byte (the catalogue's SHA-256).
          const wav = await body(s, `${prefix}r_${r.id}.wav`);
          assert.ok(wav.equals(r.wav));
          const row = (await db.recordings.get(r.id))!;
          assert.equal(sha(wav), row.files.find((f) => f.kind === 'wav')!.sha256Plain);
          assert.equal((await s.head(`${prefix}r_${r.id}.wav`))?.sha256, sha(wav), 'x-amz-meta-sha256');
        }
        assert.equal((await body(s, prefix + b1.csvName)).toString('utf8'), b1.csv);
        const rows = parseCsv(b1.csv);
        assert.equal(rows[0]?.[0], '#COUNT:2');
        const manifest = (await body(s, prefix + b1.csvName.replace(/\.csv$/, '.sha256'))).toString();
        assert.ok(manifest.includes(`${sha(r1.wav)}  r_${r1.id}.wav`));
        assert.ok(manifest.includes(`${sha(Buffer.from(b1.csv))}  ${b1.csvName}`));
      }
      assert.equal((await target(primaryLabel))?.ok, true);
      assert.equal((await target(secondaryLabel))?.ok, true);
      assert.deepEqual(await actions(b1.id), ['offload.batch.cut', 'offload.batch.start', 'offload.batch']);

      // 2. The secondary refuses connections: the batch fails and waits for its retry; the primary
      // keeps what it got and stays healthy; the archive sees no CSV of the batch anywhere yet.
      proxy.down = true;
      const r3 = await store('1001', '4930333', 3, 880);
      clock += interval;
      await svc.tick();
      let [b2] = await db.offload.listBatches(1);
      assert.ok(b2);
      assert.notEqual(b2.id, b1.id);
      assert.equal(b2.state, 'queued');
      assert.equal(b2.attempts, 1);
      assert.ok(b2.lastError?.includes(secondaryLabel), b2.lastError ?? '');
      let st = await deliveryStatus(db.offload);
      assert.equal(Date.parse(st.offload.batches.find((b) => b.id === b2!.id)!.nextAttemptAt!), clock + 1000);
      const down = (await target(secondaryLabel))!;
      assert.equal(down.ok, false);
      assert.equal(down.failures, 1);
      assert.ok(down.lastError);
      assert.equal((await target(primaryLabel))?.ok, true, 'only the location that failed goes down');
      assert.deepEqual(await keys(primary, 'carrier/audio/r_' + r3.id.slice(0, 8)), [
        `carrier/audio/r_${r3.id}.wav`,
      ]);
      assert.deepEqual(await keys(secondary, `copy/carrier/audio/r_${r3.id.slice(0, 8)}`), []);
      assert.deepEqual(await keys(primary, `carrier/audio/${b2.csvName}`), []);
      proxy.down = false;
      clock += 500;
      await svc.tick();
      assert.equal((await db.offload.listBatches(1))[0]?.attempts, 1, 'not before its backoff');
      clock += 600;
      await svc.tick();
      [b2] = await db.offload.listBatches(1);
      assert.ok(b2);
      assert.equal(b2.state, 'done', b2.lastError ?? '');
      assert.equal(b2.attempts, 2);
      assert.ok((await body(secondary, `copy/carrier/audio/r_${r3.id}.wav`)).equals(r3.wav));
      assert.equal((await target(secondaryLabel))?.ok, true);

      // 3. radosgw itself stops (rgw-stop): the primary fails, retried with backoff while it is
      // down; after rgw-start the batch goes out.
      await server.stopGateway();
      const r4 = await store('1002', '4930444', 3, 550);
      clock += interval;
      await svc.tick();
      let [b3] = await db.offload.listBatches(1);
      assert.ok(b3);
      assert.equal(b3.state, 'queued');
      assert.ok(b3.lastError?.includes(primaryLabel), b3.lastError ?? '');
      assert.equal((await target(primaryLabel))?.ok, false);
      clock += 1000;
      await svc.tick();
      [b3] = await db.offload.listBatches(1);
      assert.ok(b3);
      assert.equal(b3.attempts, 2, 'retried while down');
      st = await deliveryStatus(db.offload);
      assert.equal(st.targets.find((t) => t.name === primaryLabel)?.failures, 2);
      const bv = st.offload.batches.find((b) => b.id === b3!.id)!;
      assert.equal(Date.parse(bv.nextAttemptAt!), clock + 2000, 'the backoff doubles');
      await server.startGateway();
      clock += 2000;
      await svc.tick();
      [b3] = await db.offload.listBatches(1);
      assert.ok(b3);
      assert.equal(b3.state, 'done', b3.lastError ?? '');
      assert.equal(b3.attempts, 3);
      assert.ok((await body(primary, `carrier/audio/r_${r4.id}.wav`)).equals(r4.wav));
      assert.ok((await body(secondary, `copy/carrier/audio/r_${r4.id}.wav`)).equals(r4.wav));
      st = await deliveryStatus(db.offload);
      assert.ok(st.targets.every((t) => t.ok));

      // Exactly once: the retries found what was there (same SHA-256) and wrote nothing twice.
      const versions = await primary.client.send(
        new ListObjectVersionsCommand({ Bucket: 'srs-offload', Prefix: 'carrier/audio/' }),
      );
      const perKey = new Map<string, number>();
      for (const v of versions.Versions ?? []) perKey.set(v.Key!, (perKey.get(v.Key!) ?? 0) + 1);
      assert.equal(perKey.size, 10, 'three batches: 4 WAVs, 3 CSVs, 3 manifests');
      assert.deepEqual(
        [...perKey.values()].filter((n) => n !== 1),
        [],
        'one version per key',
      );

      // The trail: each batch's attempts, and each location going down once and up once.
      assert.deepEqual(await actions(b2.id), [
        'offload.batch.cut',
        'offload.batch.start',
        'offload.batch.error',
        'offload.batch.start',
        'offload.batch',
      ]);
      assert.deepEqual(await actions(b3.id), [
        'offload.batch.cut',
        'offload.batch.start',
        'offload.batch.error',
        'offload.batch.start',
        'offload.batch.error',
        'offload.batch.start',
        'offload.batch',
      ]);
      for (const label of [primaryLabel, secondaryLabel])
        assert.deepEqual(await actions(label), ['delivery.target.down', 'delivery.target.up'], label);
      const err = (await db.audit.search({ resourceId: b3.id, action: 'offload.batch.error' })).items[0]!;
      assert.equal(err.actor, 'delivery');
      assert.match(String(err.details.error), /srs-offload\//);
      assert.deepEqual((await db.audit.verify()).ok, true);
    });

    it('export through startDelivery: MP3s by template at both locations, a taken key gets a suffix, an outage catches up', async () => {
      const template = '%{setup-time##%Y/%m/%d}/%{caller-number}-%{callee-number}-%{call-id}';
      const primary = bucket('srs-export');
      const secondary = bucket('srs-export-dr');
      // Everything stored so far (the offload test's recordings) goes, plus one more.
      const r5 = await store('+390210001', '4930555', 3, 700);
      const ids = (
        await db.pool.query<{ id: string }>(`SELECT id FROM recordings WHERE state = 'stored' ORDER BY id`)
      ).rows.map((r) => r.id);
      assert.ok(ids.includes(r5.id));
      const n = ids.length; // 5 after the offload test
      // Something that is not ours at the key r5 will want: it stays as it is.
      const r5row = (await db.offload.recordings([r5.id]))[0]!;
      const taken = `mp3/${s3Key(exportPath(parseTemplate(template), r5row))}`;
      assert.ok(taken.includes('/_390210001-4930555-call-') && !taken.includes('@'), taken);
      await primary.client.send(new PutObjectCommand({ Bucket: 'srs-export', Key: taken, Body: 'not ours' }));

      const cfg = loadConfig(env(), {
        export: {
          enabled: true,
          template,
          primary: s3Setting('srs-export', 'srs-export-dr', 'mp3'),
          maxAttempts: 3,
        },
      } as never);
      assert.ok(cfg.export.primary?.type === 's3');
      const [primaryLabel, secondaryLabel] = s3Labels(cfg.export.primary) as [string, string];
      let delivery: Delivery | undefined;
      try {
        delivery = await startDelivery({
          config: cfg,
          db,
          log,
          intervalsMs: { export: 300 },
          retryBaseMs: 500,
        });
        await until(`${n} exported`, async () => (await deliveryStatus(db.offload)).export.done === n);
        const check = async (id: string) => {
          const row = (await db.recordings.get(id))!;
          const path = (
            await db.pool.query<{ path: string }>(
              `SELECT path FROM export_items WHERE recording_id = $1 AND destination = 'primary'`,
              [id],
            )
          ).rows[0]!.path;
          assert.ok(path.endsWith('.mp3') && /^[A-Za-z0-9._/-]+$/.test(path), path);
          for (const [s, prefix] of [
            [primary, 'mp3/'],
            [secondary, 'copy/mp3/'],
          ] as const) {
            const mp3 = await body(s, prefix + path);
            assert.equal(sha(mp3), row.files.find((f) => f.kind === 'mp3')!.sha256Plain, 'the decrypted MP3');
            const day = row.startedAt.toISOString().slice(0, 10).replaceAll('-', '/');
            const index = parseCsv((await body(s, `${prefix}${day}/index.csv`)).toString('utf8'));
            assert.ok(
              index.some((x) => x[0] === id && x.includes(path)),
              `${id} indexed at ${prefix}`,
            );
          }
          return path;
        };
        for (const id of ids) await check(id);
        const r5path = await check(r5.id);
        assert.equal(`mp3/${r5path}`, taken.replace(/\.mp3$/, `-${r5.id.slice(0, 8)}.mp3`), 'suffixed');
        assert.equal((await body(primary, taken)).toString(), 'not ours', 'never replaced');

        // radosgw stops: the destination backs off, its items spend no attempts; after the restart
        // the backlog goes out on its own.
        await server.stopGateway();
        const r6 = await store('1001', '4930666', 3, 750);
        const failing = await until('the primary location failing', async () => {
          const t = (await deliveryStatus(db.offload)).targets.find((x) => x.name === primaryLabel);
          return t && !t.ok && t.failures >= 2 && t;
        });
        assert.ok(failing.lastError && failing.nextAttemptAt);
        let st = await deliveryStatus(db.offload);
        assert.equal(st.export.failed, 0);
        assert.equal(st.export.recentFailures.length, 0, 'an unreachable destination costs no attempts');
        await server.startGateway();
        await until(
          `${n + 1} exported`,
          async () => (await deliveryStatus(db.offload)).export.done === n + 1,
        );
        await check(r6.id);
        st = await deliveryStatus(db.offload);
        for (const label of [primaryLabel, secondaryLabel])
          assert.equal(st.targets.find((t) => t.name === label)?.ok, true, label);
        assert.deepEqual(await actions(primaryLabel), ['delivery.target.down', 'delivery.target.up']);
        // Audited: each file's export and each decryption for it.
        assert.equal((await db.audit.search({ action: 'export' })).total, n + 1);
        const dec = (await db.audit.search({ action: 'delivery', resourceId: r6.id })).items;
        assert.deepEqual(
          dec.map((e) => [e.actor, e.details.purpose]),
          [['system', 'export']],
        );
        const exp = (await db.audit.search({ action: 'export', resourceId: r6.id })).items[0]!;
        assert.equal(exp.details.target, `${primaryLabel} + ${secondaryLabel}`);
        // Once: no key of the versioned bucket was written twice (the index is rewritten by design).
        const versions = await primary.client.send(
          new ListObjectVersionsCommand({ Bucket: 'srs-export', Prefix: 'mp3/' }),
        );
        const mp3s = (versions.Versions ?? []).filter((v) => v.Key?.endsWith('.mp3') && v.Key !== taken);
        assert.equal(mp3s.length, n + 1);
        assert.equal(new Set(mp3s.map((v) => v.Key)).size, n + 1);
      } finally {
        await delivery?.stop();
      }
    });
  },
);
