import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { parseCsv } from '../../src/delivery/csv.js';
import { exportPath } from '../../src/delivery/export.js';
import { startDelivery, type Delivery } from '../../src/delivery/index.js';
import { s3Key, s3Labels } from '../../src/delivery/s3.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { parseTemplate } from '../../src/delivery/template.js';
import {
  seedEarlierExports,
  sha256Hex as sha,
  testLog as log,
  until as poll,
} from '../helpers/delivery-catalogue.js';
import { openS3DeliveryWorld, type S3DeliveryWorld } from '../helpers/s3-delivery-world.js';
import { s3ServerMissing } from '../helpers/s3-server.js';

/**
 * Export to the `s3` delivery destination against a real S3 implementation: Ceph radosgw
 * (scripts/s3-server.sh, one start for the file; test/helpers/s3-delivery-world.ts), with a
 * secondary location: another bucket reached through a TCP proxy. Export through startDelivery
 * lands the same bytes the SFTP path sends (the decrypted MP3, named by the template, indexed) under
 * the prefix at both locations, never replaces a key that is not its own, backs off through
 * radosgw's outage (rgw-stop) without spending attempts and catches up once after it, with the
 * health of each location and the audit trail following. Offload to S3 is in offload-s3.test.ts.
 */

/** radosgw is slower than the SFTP and local paths: a longer wait, polled less often. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>) => poll(what, fn, 90_000, 200);

const missing = await s3ServerMissing();
if (missing) console.log(`# offload-export-s3 tests skipped: ${missing}`);

describe(
  'delivery to S3 on Ceph radosgw: export, secondary location, outage',
  { skip: missing, timeout: 900_000 },
  () => {
    let world: S3DeliveryWorld;

    before(async () => {
      world = await openS3DeliveryWorld({
        name: 'srs-delivery-s3-export-',
        buckets: ['srs-export', 'srs-export-dr'],
        rgwPortOffset: 1,
      });
    });

    after(async () => {
      await world?.close();
    });

    it('export through startDelivery: MP3s by template at both locations, a taken key gets a suffix, an outage catches up', async () => {
      const { server, db, env, bucket, body, s3Setting, store, actions } = world;
      const template = '%{setup-time##%Y/%m/%d}/%{caller-number}-%{callee-number}-%{call-id}';
      const primary = bucket('srs-export');
      const secondary = bucket('srs-export-dr');
      // A backlog: the four recordings offload-s3.test.ts stores (this test ran after it when they
      // were one file). Everything stored so far goes, plus one more.
      for (const [caller, callee, seconds, hz] of [
        ['1001', '4930111', 4, 440],
        ['1002', '4930222', 3, 660],
        ['1001', '4930333', 3, 880],
        ['1002', '4930444', 3, 550],
      ] as const)
        await store(caller, callee, seconds, hz);
      const r5 = await store('+390210001', '4930555', 3, 700);
      const ids = (
        await db.pool.query<{ id: string }>(`SELECT id FROM recordings WHERE state = 'stored' ORDER BY id`)
      ).rows.map((r) => r.id);
      assert.ok(ids.includes(r5.id));
      const n = ids.length; // 5: the four and r5
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

    it("a busy day's index grows by a server-side copy at both locations; changed at the destination, it is written whole", async () => {
      const { db, env, bucket, body, s3Setting, store } = world;
      const primary = bucket('srs-export');
      const secondary = bucket('srs-export-dr');
      // 40,000 recordings of today exported earlier (about 7 MB of index rows): the next pass writes
      // the day's index whole with them, the one after only adds to it.
      await seedEarlierExports(db, 40_000);
      const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
      const key = (prefix: string) => `${prefix}${day}/index.csv`;
      /** A whole write keeps the content's SHA-256 as metadata; an append by copy cannot know it. */
      const shaMeta = async (s: typeof primary, k: string) =>
        (
          await s.client.send(
            new HeadObjectCommand({ Bucket: s === primary ? 'srs-export' : 'srs-export-dr', Key: k }),
          )
        ).Metadata?.sha256;
      const rowsOf = async (s: typeof primary, prefix: string) =>
        parseCsv((await body(s, key(prefix))).toString('utf8'))
          .slice(1)
          .map((r) => r[0]);
      const cfg = loadConfig(env(), {
        export: {
          enabled: true,
          template: '%{setup-time##%Y/%m/%d}/%{recording-id}',
          primary: s3Setting('srs-export', 'srs-export-dr', 'mp3'),
          maxAttempts: 3,
        },
      } as never);
      const delivery = await startDelivery({
        config: cfg,
        db,
        log,
        intervalsMs: { export: 300 },
        retryBaseMs: 500,
      });
      const exported = async (id: string) =>
        until(
          `${id} exported`,
          async () =>
            (
              await db.pool.query(`SELECT 1 FROM export_items WHERE recording_id = $1 AND state = 'done'`, [
                id,
              ])
            ).rowCount === 1,
        );
      try {
        const a = await store('1001', '4930701', 3, 610);
        await exported(a.id);
        const whole = await body(primary, key('mp3/'));
        assert.ok(whole.length > 5 * 1024 * 1024, `the index is over 5 MiB (${whole.length})`);
        assert.equal(await shaMeta(primary, key('mp3/')), sha(whole), 'written whole');

        const b = await store('1001', '4930702', 3, 620);
        await exported(b.id);
        for (const [s, prefix] of [
          [primary, 'mp3/'],
          [secondary, 'copy/mp3/'],
        ] as const) {
          const grown = await body(s, key(prefix));
          assert.ok(
            grown.length > whole.length && grown.subarray(0, whole.length).equals(whole),
            `${prefix}: added to`,
          );
          assert.equal(
            await shaMeta(s, key(prefix)),
            undefined,
            `${prefix}: appended by a copy, not written whole`,
          );
          const rows = await rowsOf(s, prefix);
          assert.equal(new Set(rows).size, rows.length, `${prefix}: each recording once`);
          assert.equal(rows.at(-1), b.id, `${prefix}: the new row last`);
          assert.ok(rows.length >= 40_002, `${prefix}: ${rows.length} rows`);
        }

        // Changed at the destination (someone replaced it): the next pass writes it whole again.
        await primary.client.send(
          new PutObjectCommand({ Bucket: 'srs-export', Key: key('mp3/'), Body: 'replaced' }),
        );
        const c = await store('1001', '4930703', 3, 630);
        await exported(c.id);
        const again = await body(primary, key('mp3/'));
        assert.equal(await shaMeta(primary, key('mp3/')), sha(again), 'written whole');
        const rows = await rowsOf(primary, 'mp3/');
        assert.equal(new Set(rows).size, rows.length);
        for (const id of [a.id, b.id, c.id]) assert.ok(rows.includes(id), `${id} indexed`);
        assert.ok(rows.length >= 40_003);
      } finally {
        await delivery.stop();
      }
    });
  },
);
