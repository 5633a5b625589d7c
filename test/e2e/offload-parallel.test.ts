/**
 * The offload over several connections at once (src/delivery/lanes.ts), to a real sshd through a
 * TCP proxy that holds every chunk a few milliseconds (a network's latency, so the lanes overlap)
 * and can cut each connection: four lanes run at once, each file's pieces written together;
 * connections dropped mid-batch fail it with
 * files confirmed and partial ones left; the retry finishes it, and every file ends on the server
 * once, byte for byte, with no partial file, and the CSV (written last) names all of them.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OffloadService } from '../../src/delivery/offload.js';
import type { StoredFixture } from '../helpers/delivery-fixtures.js';
import { testLog as log } from '../helpers/delivery-catalogue.js';
import { startSftpDeliveryWorld, type SftpDeliveryWorld } from '../helpers/delivery-seed.js';

const PASSPHRASE = 'delivery parallel passphrase';

describe('delivery: the offload over four SFTP connections at once (real sshd)', () => {
  let world: SftpDeliveryWorld;
  const stored: StoredFixture[] = [];

  before(async () => {
    world = await startSftpDeliveryWorld(PASSPHRASE);
    const { a, b, c, d } = world.rec;
    stored.push(a, b, c, d);
    for (let i = 0; i < 12; i++)
      stored.push(await world.catalogue.store(`10${10 + i}`, `49301${i}`, 10 + (i % 3) * 5, 300 + 40 * i));
  });

  after(async () => {
    await world?.close();
  });

  it('every file once, byte for byte, across dropped connections', { timeout: 120_000 }, async () => {
    const { catalogue, decryptor, sshd, proxy } = world;
    const { db, dataDir } = catalogue;
    const dir = join(sshd.dir, 'parallel');
    await mkdir(dir);
    const interval = 60_000;
    let clock = (Math.floor(Date.now() / interval) + 1) * interval + 1000;
    const svc = new OffloadService({
      repo: db.offload,
      decryptor,
      dataDir,
      log,
      // 64 KiB chunks of three pieces each (sent together), two or three chunks a file: a cut can
      // leave a hole in a part file, which the retry must notice.
      audio: world.dest({ directory: dir, chunkBytes: 64 * 1024 }),
      intervalMs: interval,
      purgeAfterTransfer: false,
      manifest: true,
      retryBaseMs: 1000,
      parallel: 4,
      now: () => new Date(clock),
    });
    proxy.delayMs = 3;
    // Each connection is cut in the middle of its second file or so (the limit is per connection).
    const largest = Math.max(...stored.map((r) => r.wav.length));
    proxy.cutAfterBytes = Math.round(largest * 1.5);
    await svc.tick();
    let [b] = await db.offload.listBatches(1);
    assert.ok(b);
    assert.equal(b.count, stored.length);
    assert.equal(b.state, 'queued', b.lastError ?? '');
    // The first cut stops the lanes from taking more files and lets the files in flight end: whether
    // another connection reaches its own cut depends on how far it got (one cut or several).
    assert.ok(proxy.cuts >= 1, `a connection was cut mid-batch (${proxy.cuts})`);
    assert.ok(proxy.peak >= 4, `four connections at once (peak ${proxy.peak})`);
    const confirmed = (await db.offload.batchItems(b.id)).filter((i) => i.transferredAt).length;
    assert.ok(confirmed >= 1 && confirmed < stored.length, `some files confirmed (${confirmed})`);
    assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.csv')), 'no CSV before its media');

    proxy.cutAfterBytes = undefined;
    clock += 2000;
    await svc.tick();
    [b] = await db.offload.listBatches(1);
    assert.equal(b!.state, 'done', b!.lastError ?? '');
    assert.equal(svc.lastReport?.files, stored.length - confirmed, 'the retry sent only the rest');
    assert.ok((svc.lastReport?.resumed ?? 0) >= 1, 'and appended to partial files');
    const files = (await readdir(dir)).sort();
    const csv = files.find((f) => f.endsWith('.csv'));
    assert.ok(csv);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.wav')),
      stored.map((r) => `r_${r.id}.wav`).sort(),
      'each file once, no partial file',
    );
    assert.deepEqual(
      files.filter((f) => !f.endsWith('.wav')),
      [csv, csv.replace(/\.csv$/, '.sha256')].sort(),
    );
    for (const r of stored)
      assert.ok((await readFile(join(dir, `r_${r.id}.wav`))).equals(r.wav), `${r.id} byte for byte`);
    const text = await readFile(join(dir, csv), 'utf8');
    assert.equal(text.split('\n')[0], `#COUNT:${stored.length}`);
    for (const r of stored) assert.ok(text.includes(r.id), `the CSV names ${r.id}`);
  });
});
