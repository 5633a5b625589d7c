import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decryptor } from '../../src/delivery/decrypt.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import type { Database } from '../../src/store/db.js';
import type { CutProxy, Sshd } from '../helpers/delivery-fixtures.js';
import { testLog as log } from '../helpers/delivery-catalogue.js';
import {
  forgetOffloadState,
  openDeliveryRetryWorld,
  RETRY_PASSPHRASE as PASSPHRASE,
  type DeliveryRetryWorld,
} from '../helpers/delivery-retry-world.js';

/**
 * Offload failures against a real OpenSSH sftp behind a proxy that can refuse connections:
 * batches retried with backoff, attempts / last error / next attempt visible in deliveryStatus,
 * a failed state after the configured attempts, `retryFailed` re-queueing them, purging only
 * after a confirmed transfer, recordings purged meanwhile skipped, and every step in the
 * hash-chained audit trail. (Export and mail failures: offload-delivery-failures.test.ts.)
 */

describe('offload failures: backoff, failed state, retryFailed, skips, audit (real sshd, Postgres)', () => {
  let world: DeliveryRetryWorld | undefined;
  let dataDir: string;
  let db: Database;
  let sshd: Sshd;
  let proxy: CutProxy;

  const dest = (directory: string) => world!.dest(directory);
  const store = (caller: string, callee: string, hz: number) => world!.store(caller, callee, hz);
  const actions = (resourceId: string) => world!.actions(resourceId);

  before(async () => {
    world = await openDeliveryRetryWorld();
    ({ dataDir, db, sshd, proxy } = world);
  });

  after(async () => {
    await world?.close();
  });

  it('offload: a server down fails the batch after maxAttempts, the next batch goes ahead, retryFailed delivers it; purge only after confirmed transfer; all audited', async () => {
    const audioDir = join(sshd.dir, 'audio-a');
    await mkdir(audioDir);
    const interval = 60_000;
    await db.offload.cursor('offload');
    let clock = (Math.floor(Date.now() / interval) + 1) * interval + interval / 2;
    const svc = new OffloadService({
      repo: db.offload,
      decryptor: new Decryptor(dataDir, PASSPHRASE),
      dataDir,
      log,
      audio: dest(audioDir),
      intervalMs: interval,
      purgeAfterTransfer: true,
      manifest: true,
      retryBaseMs: 1000,
      maxAttempts: 2,
      now: () => new Date(clock),
    });
    const r1 = await store('1001', '4930111', 400);
    // The boundary after the store (a store that crossed a minute fell past a boundary taken before it).
    clock = (Math.floor(Date.now() / interval) + 1) * interval + interval / 2;
    proxy.down = true;
    await svc.tick();
    let [b1] = await db.offload.listBatches(1);
    assert.equal(b1!.count, 1);
    let st = await deliveryStatus(db.offload);
    let v = st.offload.batches.find((b) => b.id === b1!.id)!;
    assert.equal(v.state, 'queued');
    assert.equal(v.attempts, 1);
    assert.ok(v.lastError, 'the error is visible');
    assert.equal(Date.parse(v.nextAttemptAt!), clock + 1000, 'first retry after retryBaseMs');
    const target = st.targets.find((t) => t.name.includes(audioDir))!;
    assert.equal(target.ok, false);
    assert.equal(target.failures, 1);
    assert.equal((await db.recordings.get(r1.id))!.state, 'stored', 'nothing purged before the transfer');

    clock += 500;
    await svc.tick();
    assert.equal((await db.offload.listBatches(1))[0]!.attempts, 1, 'not before its backoff');
    clock += 600;
    await svc.tick();
    st = await deliveryStatus(db.offload);
    v = st.offload.batches.find((b) => b.id === b1!.id)!;
    assert.equal(v.state, 'failed', 'failed after maxAttempts');
    assert.equal(v.attempts, 2);
    assert.equal(v.nextAttemptAt, null);
    assert.equal(st.offload.failed, 1);

    // The server is back; the failed batch stays failed (visible) while the next one goes ahead.
    proxy.down = false;
    const r2 = await store('1001', '4930222', 500);
    clock += interval;
    await svc.tick();
    const [b2] = await db.offload.listBatches(1);
    assert.notEqual(b2!.id, b1!.id);
    assert.equal(b2!.state, 'done');
    assert.equal((await db.offload.listBatches(2))[1]!.state, 'failed');
    assert.equal((await db.recordings.get(r2.id))!.state, 'purged');
    assert.equal((await db.recordings.get(r1.id))!.state, 'stored', 'a failed batch is never purged');

    const counts = await db.offload.retryFailed('admin');
    assert.deepEqual(counts, { offload: 1, export: 0, notifications: 0, journal: 0 });
    await svc.tick();
    [b1] = await db.offload.listBatches(2).then((x) => x.filter((b) => b.id === b1!.id));
    assert.equal(b1!.state, 'done');
    assert.equal(b1!.attempts, 1, 'a fresh attempt budget after the manual retry');
    assert.equal((await db.recordings.get(r1.id))!.state, 'purged');
    const files = await readdir(audioDir);
    for (const r of [r1, r2]) assert.ok(files.includes(`r_${r.id}.wav`));
    assert.ok(files.includes(b1!.csvName) && files.includes(b2!.csvName));

    assert.deepEqual(await actions(b1!.id), [
      'offload.batch.cut',
      'offload.batch.start',
      'offload.batch.error',
      'offload.batch.start',
      'offload.batch.failed',
      'offload.batch.start',
      'offload.batch',
    ]);
    assert.deepEqual(await actions(b2!.id), ['offload.batch.cut', 'offload.batch.start', 'offload.batch']);
    const cut = (await db.audit.search({ resourceId: b2!.id, action: 'offload.batch.cut' })).items[0]!;
    assert.equal(cut.details.count, 1);
    assert.equal(cut.details.csv, b2!.csvName);
    const fin = (await db.audit.search({ resourceId: b1!.id, action: 'offload.batch' })).items[0]!;
    assert.equal((fin.details.manifest as { files: unknown[] }).files.length, 1);
    const failed = (await db.audit.search({ resourceId: b1!.id, action: 'offload.batch.failed' })).items[0]!;
    assert.equal(failed.actor, 'delivery');
    assert.equal(failed.via, 'system');
    assert.equal(failed.details.attempt, 2);
    const retry = (await db.audit.search({ action: 'delivery.requeue' })).items[0]!;
    assert.equal(retry.actor, 'admin');
    assert.equal(retry.details.offload, 1);
    const ups = (await db.audit.search({ action: 'delivery.target.up' })).items;
    const downs = (await db.audit.search({ action: 'delivery.target.down' })).items;
    assert.ok(
      downs.some((e) => e.resourceId.includes(audioDir)),
      'target going down is audited once',
    );
    assert.equal(downs.filter((e) => e.resourceId.includes(audioDir)).length, 1);
    assert.ok(ups.some((e) => e.resourceId.includes(audioDir)));
    for (const r of [r1, r2])
      assert.deepEqual(
        (await actions(r.id)).filter((a) => a.startsWith('offload.')),
        ['offload.purge'],
      );
    assert.deepEqual(await db.audit.verify(), {
      ok: true,
      rows: (await db.audit.search({})).total,
      firstBadId: null,
    });
  });

  it('offload: a recording purged by retention after its batch was cut is skipped (audited); the batch completes', async () => {
    const audioDir = join(sshd.dir, 'audio-e');
    await mkdir(audioDir);
    const interval = 60_000;
    let clock = Date.now() + 1000;
    const svc = new OffloadService({
      repo: db.offload,
      decryptor: new Decryptor(dataDir, PASSPHRASE),
      dataDir,
      log,
      audio: dest(audioDir),
      intervalMs: interval,
      purgeAfterTransfer: false,
      manifest: true,
      retryBaseMs: 1000,
      now: () => new Date(clock),
    });
    // Only what is stored from now on: the first test ran on a clock of its own (batches cut in
    // the future), so its offload state goes; the trail keeps what happened.
    await forgetOffloadState(db);
    await db.offload.cursor('offload');
    const r = await store('1001', '4930666', 700);
    clock = (Math.floor(Date.now() / interval) + 2) * interval + 1000;
    proxy.down = true;
    await svc.tick(); // cut, first attempt fails
    proxy.down = false;
    const [b] = await db.offload.listBatches(1);
    assert.ok((await db.offload.batchItems(b!.id)).some((i) => i.recordingId === r.id));
    assert.ok(await db.retention.purge(r.id, 'test'), 'retention purges it meanwhile');
    clock += 2000;
    await svc.tick();
    const [done] = await db.offload.listBatches(1);
    assert.equal(done!.state, 'done');
    const item = (await db.offload.batchItems(b!.id)).find((i) => i.recordingId === r.id)!;
    assert.match(item.skipped ?? '', /purged before its transfer/);
    const files = await readdir(audioDir);
    assert.ok(!files.includes(`r_${r.id}.wav`));
    assert.ok(files.includes(done!.csvName), 'the CSV (which names it) still goes');
    const skip = (await db.audit.search({ action: 'offload.skip', resourceId: r.id })).items[0]!;
    assert.equal(skip.details.batch, b!.id);
    assert.match(String(skip.details.reason), /purged/);
  });
});
