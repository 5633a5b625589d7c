import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Decryptor } from '../../src/delivery/decrypt.js';
import { ExportService, exportPath } from '../../src/delivery/export.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import { parseTemplate } from '../../src/delivery/template.js';
import { sha256Hex as sha, testLog as log, todaysExportIndex, until } from '../helpers/delivery-catalogue.js';
import { useSftpDeliveryWorld } from '../helpers/delivery-seed.js';

const PASSPHRASE = 'delivery test passphrase';

describe('delivery: MP3 export to a local directory and an SFTP secondary (real sshd, Postgres)', () => {
  const w = useSftpDeliveryWorld(PASSPHRASE);

  it('exports unencrypted MP3s by template with a daily index; the unreachable secondary catches up; nothing is deleted', async () => {
    const primary = join(w.dataDir, 'export-primary');
    await mkdir(primary);
    const secondaryDir = join(w.sshd.dir, 'export-secondary');
    await mkdir(secondaryDir);
    const template =
      '%{setup-time##%Y%m%d}/%{setup-time##%Y%m%d%H%M%S}-%{caller-number}-%{callee-number}-%{call-id}';
    // The recording view carries custom field values (for %{field:<name>} in templates).
    await w.db.fields.create({ name: 'order_no', label: 'Order #', type: 'text', options: [] }, 'test');
    await w.db.fields.setValues(w.rec.d.id, { order_no: 'A-17' }, 'test');
    assert.deepEqual((await w.db.offload.recordings([w.rec.d.id]))[0]?.fields, { order_no: 'A-17' });
    assert.deepEqual((await w.db.offload.recordings([w.rec.a.id]))[0]?.fields, {});
    // A file that is not ours, at the name a recording will want: it must survive.
    const recD = (await w.db.offload.recordings([w.rec.d.id]))[0]!;
    const foreignRel = exportPath(parseTemplate(template), recD);
    await mkdir(join(primary, foreignRel, '..'), { recursive: true });
    await writeFile(join(primary, foreignRel), 'not ours');
    const svc = new ExportService({
      repo: w.db.offload,
      decryptor: w.decryptor,
      log,
      template: parseTemplate(template),
      primary: { type: 'local', directory: primary },
      secondary: { type: 'sftp', ...w.dest({ directory: secondaryDir }) },
      intervalMs: 1000,
      // Long enough that the checks below run inside the backoff on a loaded machine (400 ms
      // did not, once, with four test files and a build beside it).
      retryBaseMs: 1500,
    });
    w.proxy.down = true;
    let n = await svc.tick();
    assert.deepEqual(n, { primary: 4, secondary: 0 });
    let st = await deliveryStatus(w.db.offload);
    const sec = st.targets.find((t) => t.name.startsWith('sftp:'));
    assert.equal(sec?.ok, false);
    assert.ok(sec?.lastError);
    assert.equal(sec?.failures, 1);
    assert.ok(sec?.nextAttemptAt && Date.parse(sec.nextAttemptAt) > Date.now(), 'backing off');
    assert.equal(st.export.pending, 0, 'an unreachable destination costs its items no attempts');
    w.proxy.down = false;
    n = await svc.tick();
    assert.deepEqual(n, { primary: 0, secondary: 0 }, 'not before its backoff');
    await new Promise((r) => setTimeout(r, Date.parse(String(sec?.nextAttemptAt)) - Date.now() + 50));
    n = await svc.tick();
    assert.deepEqual(n, { primary: 0, secondary: 4 }, 'the secondary caught up');
    assert.deepEqual(await svc.tick(), { primary: 0, secondary: 0 });
    st = await deliveryStatus(w.db.offload);
    assert.equal(st.export.done, 8);
    assert.ok(st.targets.every((t) => t.ok));

    assert.equal(await readFile(join(primary, foreignRel), 'utf8'), 'not ours', 'never replaced');
    for (const root of [primary, secondaryDir]) {
      for (const r of [w.rec.a, w.rec.b, w.rec.c, w.rec.d]) {
        const row = (await w.db.recordings.get(r.id))!;
        const item = await w.db.pool.query<{ path: string }>(
          `SELECT path FROM export_items WHERE recording_id = $1 AND destination = $2`,
          [r.id, root === primary ? 'primary' : 'secondary'],
        );
        const rel = item.rows[0]!.path;
        const day = row.startedAt.toISOString().slice(0, 10).replaceAll('-', '');
        assert.ok(rel.startsWith(`${day}/${day}`), rel);
        assert.ok(rel.includes(r.callId) && rel.endsWith('.mp3'), rel);
        if (root === primary && r === w.rec.d) assert.notEqual(rel, foreignRel, 'a taken name gets a suffix');
        const mp3 = await readFile(join(root, rel));
        assert.equal(sha(mp3), row.files.find((f) => f.kind === 'mp3')!.sha256Plain);
        assert.ok(mp3.subarray(0, 3).toString() === 'ID3' || mp3[0] === 0xff, 'an MP3');
      }
      const { rows } = await todaysExportIndex(root);
      assert.equal(rows.length, 5);
      const alice = rows.find((x) => x[0] === w.rec.a.id)!;
      assert.deepEqual(alice.slice(1, 4), ['Alice Agent', '1001', '14155550123']);
      assert.equal(alice[5], '00:00:12');
      assert.equal(alice[6], 'sales');
      const bob = rows.find((x) => x[0] === w.rec.b.id)!;
      assert.deepEqual(
        [bob[1], bob[2], bob[3], bob[6], bob[7]],
        ['Bob', '1002', '4930123456', 'support', 'IN'],
      );
    }
    assert.equal((await w.db.audit.search({ action: 'export' })).total, 8);
  });

  it('grows a day’s index by appending each pass’s rows; a file not as left is written whole again', async () => {
    const primary = join(w.dataDir, 'export-append');
    const secondaryDir = join(w.sshd.dir, 'export-append-sftp');
    await mkdir(primary);
    await mkdir(secondaryDir);
    const svc = new ExportService({
      repo: w.db.offload,
      decryptor: w.decryptor,
      log,
      template: parseTemplate('%{recording-id}'),
      primary: { type: 'local', directory: primary },
      secondary: { type: 'sftp', ...w.dest({ directory: secondaryDir }) },
      intervalMs: 1000,
    });
    const store = async (k: number) => {
      const ids: string[] = [];
      for (let i = 0; i < k; i++)
        ids.push((await w.catalogue.store('1001', `49301234${ids.length}${k}`, 2, 500)).id);
      return ids;
    };
    const day = new Date().toISOString().slice(0, 10);
    const index = (root: string) => join(root, day.replaceAll('-', '/'), 'index.csv');
    /** Recordings the index names (its first column), in order, without the header. */
    const named = async (root: string) => (await todaysExportIndex(root)).rows.slice(1).map((r) => r[0]);
    const done = async (d: string) =>
      (
        await w.db.pool.query<{ id: string }>(
          `SELECT recording_id AS id FROM export_items WHERE destination = $1 AND day = $2 AND state = 'done'
           ORDER BY exported_at, recording_id`,
          [d, day],
        )
      ).rows.map((r) => r.id);
    const recorded = async (d: string) => w.db.offload.exportIndexBytes(d as 'primary' | 'secondary', day);

    // These directories hold no index yet although the day has exported rows (the first test's, to
    // other directories): the whole index is written, every recording of the day once.
    const first = await store(2);
    assert.deepEqual(await svc.tick(), { primary: 2, secondary: 2 });
    for (const [root, d] of [
      [primary, 'primary'],
      [secondaryDir, 'secondary'],
    ] as const) {
      assert.deepEqual(await named(root), await done(d));
      assert.deepEqual((await named(root)).slice(-2), first);
      assert.equal((await stat(index(root))).size, await recorded(d));
    }
    const inode = async (root: string) => (await stat(index(root))).ino;
    const before = { primary: await inode(primary), secondary: await inode(secondaryDir) };
    const text = {
      primary: await readFile(index(primary), 'utf8'),
      secondary: await readFile(index(secondaryDir), 'utf8'),
    };

    // The next pass appends its two rows to the same file (a rewrite is a new file: new inode).
    const second = await store(2);
    assert.deepEqual(await svc.tick(), { primary: 2, secondary: 2 });
    for (const [root, d] of [
      [primary, 'primary'],
      [secondaryDir, 'secondary'],
    ] as const) {
      assert.equal(await inode(root), before[d], `${d}: appended, not rewritten`);
      const now = await readFile(index(root), 'utf8');
      assert.ok(now.startsWith(text[d]), `${d}: the earlier rows untouched`);
      assert.deepEqual((await named(root)).slice(-2), second);
      assert.deepEqual(await named(root), await done(d));
      assert.equal((await stat(index(root))).size, await recorded(d));
    }

    // Rows the catalogue does not count as done at the end of the primary's index (as a pass that
    // crashed after writing it leaves them, or an edit there): the next pass writes it whole again.
    await appendFile(index(primary), `${second[0]},stray,,,,,,,,x.mp3\r\n`);
    const third = await store(1);
    assert.deepEqual(await svc.tick(), { primary: 1, secondary: 1 });
    assert.notEqual(await inode(primary), before.primary, 'the primary index written whole');
    assert.equal(await inode(secondaryDir), before.secondary, 'the secondary still appended');
    for (const [root, d] of [
      [primary, 'primary'],
      [secondaryDir, 'secondary'],
    ] as const) {
      const ids = await named(root);
      assert.deepEqual(ids, await done(d), `${d}: every exported recording once, in export order`);
      assert.equal(new Set(ids).size, ids.length);
      assert.ok([...first, ...second, ...third].every((id) => ids.includes(id)));
      assert.equal((await stat(index(root))).size, await recorded(d));
    }
    assert.doesNotMatch(await readFile(index(primary), 'utf8'), /stray/);
  });

  it(
    'during a rolling upgrade a node of the previous version (one lock named export) and this version never export at once',
    { timeout: 60_000 },
    async () => {
      const primary = join(w.dataDir, 'export-upgrade-primary');
      const secondary = join(w.dataDir, 'export-upgrade-secondary');
      await mkdir(primary);
      await mkdir(secondary);
      // Once `hold`, an MP3 read waits for `open`, holding this version's pass (both destinations) there.
      let hold = false;
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let reading = 0;
      const slow = {
        plain: async (...a: Parameters<Decryptor['plain']>) => {
          reading++;
          if (hold) await gate;
          return w.decryptor.plain(...a);
        },
      } as unknown as Decryptor;
      const svc = new ExportService({
        repo: w.db.offload,
        decryptor: slow,
        log,
        template: parseTemplate('%{recording-id}'),
        primary: { type: 'local', directory: primary },
        secondary: { type: 'local', directory: secondary },
        intervalMs: 1000,
      });
      const id = (await w.catalogue.store('1001', '4930555000', 2, 500)).id;
      const items = async () =>
        (
          await w.db.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM export_items WHERE recording_id = $1',
            [id],
          )
        ).rows[0]!.n;
      // The previous version's lock, as an old node takes it (pg_try_advisory_lock on the key pair).
      const LEADER_LOCK = 78_660_070;
      const oldNode = await w.db.pool.connect();
      try {
        const take = async () =>
          (
            await oldNode.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
              LEADER_LOCK,
              'export',
            ])
          ).rows[0]!.ok;
        const give = () =>
          oldNode.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LEADER_LOCK, 'export']);
        assert.equal(await take(), true);
        assert.deepEqual(await svc.tick(), {}, 'no destination exported while the old node holds export');
        assert.equal(reading, 0);
        assert.equal(await items(), 0, 'no item claimed');
        await give();

        // This version's pass runs on both destinations at once; the old node cannot take export meanwhile.
        hold = true;
        const pass = svc.tick();
        await until('both destinations reading', async () => reading === 2, 15_000, 20);
        assert.equal(await take(), false, 'the old node is kept off while this version exports');
        open();
        assert.deepEqual(await pass, { primary: 1, secondary: 1 });
        assert.equal(await take(), true, 'the lock is free again after the pass');
        await give();
      } finally {
        open();
        oldNode.release();
      }
    },
  );
});
