import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { parseCsv } from '../../src/delivery/csv.js';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { s3Labels } from '../../src/delivery/s3.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { sha256Hex as sha, testLog as log } from '../helpers/delivery-catalogue.js';
import {
  openS3DeliveryWorld,
  S3_DELIVERY_PASSPHRASE as PASSPHRASE,
  type S3DeliveryWorld,
} from '../helpers/s3-delivery-world.js';
import { s3ServerMissing } from '../helpers/s3-server.js';

/**
 * Offload to the `s3` delivery destination against a real S3 implementation: Ceph radosgw
 * (scripts/s3-server.sh, one start for the file; test/helpers/s3-delivery-world.ts). The
 * destination has a secondary location: another bucket reached through a TCP proxy that can refuse
 * connections, so the secondary can fail on its own; stopping radosgw (rgw-stop) is the primary's
 * outage. Offload lands the same bytes the SFTP path sends (the decrypted WAV, the carrier CSV)
 * under the prefix at both locations, is retried with backoff through an outage and delivered once
 * after it, with the health of each location and the audit trail following. Export to S3 is in
 * offload-export-s3.test.ts.
 */

const missing = await s3ServerMissing();
if (missing) console.log(`# offload-s3 tests skipped: ${missing}`);

describe(
  'delivery to S3 on Ceph radosgw: offload, secondary location, outages',
  { skip: missing, timeout: 900_000 },
  () => {
    let world: S3DeliveryWorld;

    before(async () => {
      world = await openS3DeliveryWorld({
        name: 'srs-delivery-s3-offload-',
        buckets: ['srs-offload', 'srs-offload-dr'],
        rgwPortOffset: 0,
      });
    });

    after(async () => {
      await world?.close();
    });

    it('offload: carrier files at both locations; secondary then primary outage retried with backoff, delivered once; health and audit follow', async () => {
      const { server, proxy, dataDir, db, env, bucket, keys, body, s3Setting, store, actions } = world;
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
      // The boundary after the store (a store that crossed a minute fell past a boundary taken before it).
      clock = (Math.floor(Date.now() / interval) + 1) * interval + interval / 2;
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
  },
);
