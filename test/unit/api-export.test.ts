/**
 * Bulk export over the REST API (real HTTP, real embedded Postgres): search results as CSV and
 * decrypted audio as a tar the system's tar reads, per permissions.download, audited; CSV cells a
 * spreadsheet will not run and ustar archives.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TarWriter, csvCell, ustarHeader } from '../../src/api/export.js';
import { type ApiHarness, parseCsv, sha, startApiWorld } from '../helpers/api-harness.js';

const execFileP = promisify(execFile);

describe('REST API exports (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string };
  let wav: Buffer;
  const call: ApiHarness['call'] = (...a) => h.call(...a);

  before(async () => {
    ({ h, ids, wav } = await startApiWorld());
  });

  after(async () => {
    await h?.close();
  });

  it('exports search results as CSV and decrypted audio as tar, per permissions.download, audited', async () => {
    const setDownload = async (level: string) =>
      assert.equal(
        (await call('PUT', '/api/v1/settings', { as: 'admin', body: { 'permissions.download': level } }))
          .status,
        200,
      );
    const csvIds = (buf: Buffer) =>
      parseCsv(buf.toString('utf8').replace(/^\uFEFF/, ''))
        .slice(1)
        .map((r) => r[0]);
    // Nobody: not even the admin.
    await setDownload('nobody');
    assert.equal((await call('GET', '/api/v1/recordings/export', { as: 'admin' })).status, 403);
    assert.equal((await call('GET', '/api/v1/recordings/export?format=tar', { as: 'admin' })).status, 403);
    // Admin only: the admin exports everything, a user nothing.
    await setDownload('admin');
    assert.equal((await call('GET', '/api/v1/recordings/export', { as: 'alice' })).status, 403);
    const all = await call('GET', '/api/v1/recordings/export?format=csv', { as: 'admin' });
    assert.equal(all.status, 200);
    assert.match(all.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(
      all.headers.get('content-disposition') ?? '',
      /attachment; filename="recordings-\d{8}-\d{6}\.csv"/,
    );
    const rows = parseCsv(all.buf.toString('utf8').replace(/^\uFEFF/, ''));
    assert.deepEqual(rows[0]?.slice(0, 4), ['id', 'started_at', 'ended_at', 'duration_s']);
    assert.deepEqual(
      rows.slice(1).map((r) => [r[0], r[3], r[5], r[7], r[9]]),
      [
        [ids.r2, '120.0', 'call-bob@pbx', 'sip:bob@example.com; sip:dave@example.com', 'support'],
        [ids.r1, '60.0', 'call-alice@pbx', 'sip:alice@example.com; sip:carol@example.com', 'sales'],
      ],
    );
    // The search filters apply, and so do ids.
    assert.deepEqual(
      csvIds((await call('GET', '/api/v1/recordings/export?participant=carol', { as: 'admin' })).buf),
      [ids.r1],
    );
    assert.deepEqual(
      csvIds((await call('GET', `/api/v1/recordings/export?ids=${ids.r2}`, { as: 'admin' })).buf),
      [ids.r2],
    );
    // Users (the default): scoped to what they may see.
    await setDownload('user');
    assert.deepEqual(csvIds((await call('GET', '/api/v1/recordings/export', { as: 'alice' })).buf), [ids.r1]);
    const hidden = await call('GET', `/api/v1/recordings/export?format=tar&ids=${ids.r2}`, { as: 'alice' });
    assert.equal(hidden.status, 404, "another user's recording is not found");
    assert.equal((await call('GET', '/api/v1/recordings/export', { as: 'rec' })).status, 404);
    assert.equal((await call('GET', '/api/v1/recordings/export')).status, 401);
    const bad = await call('GET', '/api/v1/recordings/export?ids=nope', { as: 'alice' });
    assert.deepEqual([bad.status, bad.json.error], [400, 'ids: not a recording id: nope']);
    assert.equal((await call('GET', '/api/v1/recordings/export?format=zip', { as: 'alice' })).status, 400);
    assert.equal((await call('GET', '/api/v1/recordings/export?audio=ogg', { as: 'alice' })).status, 400);
    assert.equal((await call('GET', '/api/v1/recordings/export?from=soon', { as: 'alice' })).status, 400);

    // Audio: a tar that the system's tar reads, holding the decrypted WAV and an index.
    const tarOf = async (res: { status: number; buf: Buffer; headers: Headers }) => {
      assert.equal(res.status, 200, res.buf.toString().slice(0, 300));
      assert.equal(res.headers.get('content-type'), 'application/x-tar');
      assert.equal(res.buf.length % 512, 0);
      const dir = await mkdtemp(join(tmpdir(), 'srs-export-test-'));
      await writeFile(join(dir, 'x.tar'), res.buf);
      await execFileP('tar', ['-xf', 'x.tar'], { cwd: dir });
      const [top] = (await readdir(dir)).filter((f) => f.startsWith('srs-export-'));
      assert.ok(top, 'one top folder');
      const files = await readdir(join(dir, top));
      const index = parseCsv((await readFile(join(dir, top, 'index.csv'), 'utf8')).replace(/^\uFEFF/, ''));
      return { dir, top, files, index };
    };
    const one = await tarOf(
      await call('GET', `/api/v1/recordings/export?format=tar&audio=wav&ids=${ids.r1}`, { as: 'alice' }),
    );
    const name = `20260301-100000_${ids.r1}.wav`;
    assert.deepEqual(one.files.sort(), [name, 'index.csv']);
    assert.ok((await readFile(join(one.dir, one.top, name))).equals(wav), 'the decrypted WAV');
    assert.deepEqual(one.index[1], [
      ids.r1,
      name,
      '2026-03-01T10:00:00.000Z',
      '60.0',
      'sip:alice@example.com; sip:carol@example.com',
      'call-alice@pbx',
      String(wav.length),
      sha(wav),
      'ok',
    ]);
    await rm(one.dir, { recursive: true, force: true });
    // The admin's archive of everything: r2 has no audio (listed, not fatal), r1 has WAV only.
    const both = await tarOf(await call('GET', '/api/v1/recordings/export?format=tar', { as: 'admin' }));
    assert.deepEqual(both.files.sort(), [name, 'index.csv']);
    assert.deepEqual(
      both.index.slice(1).map((r) => [r[0], r[8]]),
      [
        [ids.r2, 'no audio (state stored)'],
        [ids.r1, 'ok (wav: no mp3)'],
      ],
    );
    await rm(both.dir, { recursive: true, force: true });

    // One audit entry per export, naming who, from where, the format and every id.
    const a = await call('GET', '/api/v1/audit?action=export', { as: 'admin' });
    const entries = a.json.items as {
      actor: string;
      ip: string;
      resourceId: string;
      details: { format: string; count: number; ids: string[]; filters: Record<string, string> };
    }[];
    assert.equal(entries.length, 6, 'refused and failed exports are not audited as exports');
    assert.deepEqual(
      entries.map((e) => [e.actor, e.details.format, e.details.ids.length]),
      [
        ['admin', 'tar', 2],
        ['alice', 'tar', 1],
        ['alice', 'csv', 1],
        ['admin', 'csv', 1],
        ['admin', 'csv', 1],
        ['admin', 'csv', 2],
      ],
    );
    assert.deepEqual(entries[0]?.details.ids, [ids.r2, ids.r1]);
    assert.equal(entries[0]?.ip, '127.0.0.1');
    assert.deepEqual(entries.at(-1)?.details.filters, {});
    // An admin sees the bulk export in the recording's access log.
    const detail = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.ok(detail.json.auditTrail.some((e: { action: string; actor: string }) => e.action === 'export'));
    // POST takes the ids in a JSON body (more than a URL holds).
    const posted = await call('POST', '/api/v1/recordings/export', {
      as: 'alice',
      body: { ids: [ids.r1], format: 'csv' },
    });
    assert.equal(posted.status, 200);
    assert.deepEqual(csvIds(posted.buf), [ids.r1]);
    const badBody = await call('POST', '/api/v1/recordings/export', { as: 'alice', body: { ids: 'all' } });
    assert.deepEqual([badBody.status, badBody.json.error], [400, 'ids: an array of recording ids']);
    assert.equal(
      (await call('POST', '/api/v1/recordings/export', { as: 'alice', body: { ids: [ids.r2] } })).status,
      404,
    );
    await setDownload('supervisor');
  });

  it('writes CSV cells a spreadsheet will not run, and ustar archives that tar reads', async () => {
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('-x'), "'-x");
    assert.equal(csvCell('+4930 1234-56'), '+4930 1234-56', 'a phone number stays');
    assert.equal(csvCell('-12.5'), '-12.5');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell(['sip:a@x', 'sip:b@x']), 'sip:a@x; sip:b@x');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(new Date('2026-03-01T10:00:00Z')), '2026-03-01T10:00:00.000Z');
    // A long path (split into ustar prefix + name), an empty file and one just over a block.
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on('data', (c: Buffer) => chunks.push(c));
    const tarw = new TarWriter(out);
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}.wav`;
    const big = Buffer.alloc(513, 7);
    await tarw.file(long, big, new Date('2026-03-01T10:00:00Z'));
    await tarw.file('empty.txt', Buffer.alloc(0));
    await tarw.end();
    const archive = Buffer.concat(chunks);
    assert.equal(archive.length, 512 + 1024 + 512 + 1024);
    const dir = await mkdtemp(join(tmpdir(), 'srs-tar-test-'));
    await writeFile(join(dir, 'a.tar'), archive);
    const listing = await execFileP('tar', ['-tvf', 'a.tar'], { cwd: dir });
    assert.match(listing.stdout, new RegExp(`srs/srs +513 2026-03-01 \\d\\d:\\d\\d ${long}\n`));
    await execFileP('tar', ['-xf', 'a.tar'], { cwd: dir });
    assert.ok((await readFile(join(dir, long))).equals(big));
    assert.equal((await readFile(join(dir, 'empty.txt'))).length, 0);
    await rm(dir, { recursive: true, force: true });
    assert.throws(() => ustarHeader('x'.repeat(300), 1, new Date()), /path too long/);
  });
});
