/**
 * The MP3 export over several connections at once (`export.parallel`, src/delivery/lanes.ts): to
 * a real sshd through a TCP proxy that holds every chunk a few milliseconds (so the lanes overlap)
 * and can cut each connection. Four connections run at once; a drop of every connection mid-pass
 * indexes nothing and costs the files no attempts; the next pass finishes, and every recording is
 * at the destination once, byte for byte, named once in its day's index, in export order. To a
 * local directory, recordings whose template gives one name are placed one after another, so each
 * keeps a file of its own (in parallel both would find the name free and one would replace the
 * other).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExportService } from '../../src/delivery/export.js';
import { parseTemplate } from '../../src/delivery/template.js';
import type { StoredFixture } from '../helpers/delivery-fixtures.js';
import { sha256Hex as sha, testLog as log, todaysExportIndex, until } from '../helpers/delivery-catalogue.js';
import { startSftpDeliveryWorld, type SftpDeliveryWorld } from '../helpers/delivery-seed.js';

const PASSPHRASE = 'export parallel passphrase';

describe('delivery: the MP3 export over four connections at once (real sshd, Postgres)', () => {
  let world: SftpDeliveryWorld;
  const stored: StoredFixture[] = [];
  /** Each recording's MP3 (the plaintext's hash, as the catalogue has it), by id. */
  const mp3Sha = new Map<string, string>();
  /** The ids in the order the export takes them (stored first, first). */
  let exportOrder: string[] = [];

  before(async () => {
    world = await startSftpDeliveryWorld(PASSPHRASE);
    const { a, b, c, d } = world.rec;
    stored.push(a, b, c, d);
    for (let i = 0; i < 12; i++)
      stored.push(await world.catalogue.store(`10${10 + i}`, `49302${i}`, 10 + (i % 3) * 5, 300 + 40 * i));
    const { db } = world.catalogue;
    for (const r of await db.offload.recordings(stored.map((s) => s.id)))
      mp3Sha.set(r.id, r.mp3?.sha256Plain ?? '');
    exportOrder = (
      await db.pool.query<{ id: string }>(
        'SELECT id FROM recordings WHERE id = ANY($1) ORDER BY stored_at, id',
        [stored.map((s) => s.id)],
      )
    ).rows.map((r) => r.id);
  });

  after(async () => {
    await world?.close();
  });

  it(
    'SFTP: four connections at once; every connection dropped mid-pass, the next pass completes; each file once, indexed once, in order',
    { timeout: 120_000 },
    async () => {
      const { catalogue, decryptor, sshd, proxy } = world;
      const { db } = catalogue;
      const dir = join(sshd.dir, 'export-parallel');
      await mkdir(dir);
      const svc = new ExportService({
        repo: db.offload,
        decryptor,
        log,
        template: parseTemplate('%{setup-time##%Y/%m/%d}/%{recording-id}'),
        primary: { type: 'sftp', ...world.dest({ directory: dir, chunkBytes: 16 * 1024 }) },
        intervalMs: 1000,
        retryBaseMs: 200,
        parallel: 4,
      });
      proxy.delayMs = 3;
      // Every connection is cut after a file and a half or so (the limit is per connection).
      const sizes = (await db.offload.recordings(stored.map((s) => s.id))).map((r) => r.mp3?.bytes ?? 0);
      proxy.cutAfterBytes = Math.round(Math.max(...sizes) * 1.5);
      const first = await svc.tick();
      assert.equal(first.primary, 0, 'a pass whose connections drop counts nothing as exported');
      assert.ok(proxy.cuts >= 2, `connections were cut (${proxy.cuts})`);
      assert.ok(proxy.peak >= 4, `four connections at once (peak ${proxy.peak})`);
      const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
      const before = await readdir(join(dir, day)).catch(() => [] as string[]);
      assert.ok(!before.includes('index.csv'), 'no index written by the failed pass');
      const attempts = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM export_items WHERE attempts > 0 OR state = 'failed'`,
      );
      const why = await db.pool.query(
        `SELECT attempts, state, last_error FROM export_items WHERE attempts > 0 OR state = 'failed'`,
      );
      assert.equal(
        attempts.rows[0]?.n,
        0,
        `an unreachable destination costs the files no attempts ${JSON.stringify(why.rows)}`,
      );

      proxy.cutAfterBytes = undefined;
      proxy.cuts = 0;
      proxy.peak = 0;
      let total = 0;
      await until(
        'the export to finish',
        async () => {
          total += (await svc.tick()).primary ?? 0;
          return total >= stored.length;
        },
        60_000,
        250,
      );
      assert.equal(total, stored.length);
      assert.equal(proxy.cuts, 0);
      const files = (await readdir(join(dir, day))).sort();
      assert.deepEqual(
        files,
        [...stored.map((s) => `${s.id}.mp3`), 'index.csv'].sort(),
        'each recording once, no partial file',
      );
      for (const s of stored)
        assert.equal(
          sha(await readFile(join(dir, day, `${s.id}.mp3`))),
          mp3Sha.get(s.id),
          `${s.id} byte for byte`,
        );
      const { rows } = await todaysExportIndex(dir);
      assert.deepEqual(
        rows.slice(1).map((r) => r[0]),
        exportOrder,
        'the index names each recording once, in export order',
      );
    },
  );

  it('local directory: recordings whose template gives one name each keep a file of their own', async () => {
    const { catalogue, decryptor } = world;
    const { db, dataDir } = catalogue;
    const root = join(dataDir, 'export-one-name');
    await mkdir(root);
    // Every recording went to the primary above: this directory is the secondary.
    await mkdir(join(dataDir, 'unused'));
    const sec = new ExportService({
      repo: db.offload,
      decryptor,
      log,
      template: parseTemplate('%{setup-time##%Y/%m/%d}/call'),
      primary: { type: 'local', directory: join(dataDir, 'unused') },
      secondary: { type: 'local', directory: root },
      intervalMs: 1000,
      parallel: 4,
    });
    const n = await sec.tick();
    assert.equal(n.secondary, stored.length);
    const { day, rows } = await todaysExportIndex(root);
    const names = (await readdir(join(root, day))).filter((f) => f.endsWith('.mp3'));
    assert.equal(names.length, stored.length, `a file for each (${names.join(', ')})`);
    assert.ok(names.includes('call.mp3'));
    const hashes = await Promise.all(names.map(async (f) => sha(await readFile(join(root, day, f)))));
    assert.deepEqual(hashes.sort(), [...mp3Sha.values()].sort(), 'every recording, none replaced');
    assert.deepEqual(
      rows.slice(1).map((r) => r[0]),
      exportOrder,
      'the index names each recording once, in export order',
    );
  });

  it('two recordings with byte-identical MP3s and one name keep a file each, over SFTP and locally', async () => {
    const { catalogue, decryptor, sshd } = world;
    const { db, dataDir } = catalogue;
    // Two calls of one length and one tone: the same MP3, byte for byte (as two silent calls).
    const twins = [
      await catalogue.store('1099', '4930999', 6, 500),
      await catalogue.store('1098', '4930998', 6, 500),
    ];
    const shas = (await db.offload.recordings(twins.map((t) => t.id))).map((r) => r.mp3?.sha256Plain);
    assert.equal(shas[0], shas[1], 'the twins’ MP3s are identical');
    const root = join(dataDir, 'export-twins');
    await mkdir(root);
    const sftpDir = join(sshd.dir, 'export-twins');
    await mkdir(sftpDir);
    const twinSvc = new ExportService({
      repo: db.offload,
      decryptor,
      log,
      template: parseTemplate('%{setup-time##%Y/%m/%d}/twin'),
      primary: { type: 'sftp', ...world.dest({ directory: sftpDir }) },
      secondary: { type: 'local', directory: root },
      intervalMs: 1000,
      parallel: 4,
    });
    const n = await twinSvc.tick();
    assert.equal(n.primary, 2);
    assert.equal(n.secondary, 2);
    const paths = await db.pool.query<{ destination: string; path: string }>(
      `SELECT destination, path FROM export_items WHERE recording_id = ANY($1) ORDER BY destination, path`,
      [twins.map((t) => t.id)],
    );
    for (const dest of ['primary', 'secondary']) {
      const own = paths.rows.filter((r) => r.destination === dest).map((r) => r.path);
      assert.equal(new Set(own).size, 2, `${dest}: a path each (${own.join(', ')})`);
    }
    const { day, rows } = await todaysExportIndex(root);
    for (const dir of [root, sftpDir]) {
      const files = (await readdir(join(dir, day))).filter((f) => f.startsWith('twin'));
      assert.equal(files.length, 2, files.join(', '));
    }
    const indexed = rows.filter((r) => twins.some((t) => t.id === r[0])).map((r) => r.at(-1));
    assert.equal(new Set(indexed).size, 2, `the index names a file each: ${indexed.join(', ')}`);

    // The second twin's attempt as a crash after its file was written leaves it (its name claimed,
    // not done): the retry takes that file as its own, and writes no third.
    const second = paths.rows.find((r) => r.destination === 'secondary' && r.path.includes('-'));
    assert.ok(second, 'the second twin took the suffixed name');
    await db.pool.query(
      `UPDATE export_items SET state = 'pending', next_attempt_at = now() WHERE destination = 'secondary' AND path = $1`,
      [second.path],
    );
    const again = await twinSvc.tick();
    assert.equal(again.secondary, 1);
    const after = (await readdir(join(root, day))).filter((f) => f.startsWith('twin'));
    assert.equal(after.length, 2, after.join(', '));
    const still = await db.pool.query<{ path: string; state: string }>(
      `SELECT path, state FROM export_items WHERE destination = 'secondary' AND path = $1`,
      [second.path],
    );
    assert.deepEqual(still.rows, [{ path: second.path, state: 'done' }]);
  });
});
