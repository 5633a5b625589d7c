/**
 * A recording whose post-call processing failed for good (state `failed`) keeps its plaintext
 * spool (`data/spool/<id>/*.spool`) until something removes it. The real server (`srs serve`,
 * purging every 5 s, SRS_RETENTION=1h, no finalize retry) with its recordings directory replaced
 * by a file, so that finalize fails (a chmod would not stop root): each call ends `failed` with
 * its spool on disk. Then
 * - retention takes a failed recording past its policy (its start moved two days back through the
 *   catalogue): the spool is overwritten (read back through a descriptor held open) and unlinked,
 *   the recording is `purged`, and `retention.purge` is audited; a preserved one is kept, spool
 *   and all;
 * - DELETE /api/v1/recordings/{id} and the bulk delete of a failed recording wipe its spool and
 *   answer success (`delete` audited); a preserved one is refused (409).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { listRecordings } from '../helpers/sipp.js';
import { toneCall } from '../helpers/tone-call.js';

interface AuditItem {
  action: string;
  resourceId: string;
  details: Record<string, unknown>;
}

describe('retention and deletion of failed recordings: the plaintext spool goes', { timeout: 240000 }, () => {
  let server: TestServer;
  let db: Database;
  const held: FileHandle[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const spoolDir = (id: string) => join(server.dataDir, 'spool', id);
  const spoolFiles = async (id: string) =>
    (await readdir(spoolDir(id)).catch(() => [] as string[])).filter((f) => f.endsWith('.spool'));
  const gone = (path: string) =>
    stat(path).then(
      () => false,
      (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
    );
  const state = async (id: string) => (await db.recordings.get(id))?.state;
  const audit = async (action: string, id: string) =>
    ((await api('GET', `/audit?action=${action}&resourceId=${id}`)).json.items as AuditItem[]) ?? [];

  /** One call with a second of tone; resolves with its recording once it is `failed`. */
  async function failedCall(ssrc: number): Promise<string> {
    const callId = await toneCall(server, 1000, { ssrc });
    const deadline = Date.now() + 60000;
    for (;;) {
      const rec = (await listRecordings(server)).find((r) => r.callId === callId);
      if (rec?.state === 'failed') {
        const files = await spoolFiles(rec.id);
        assert.ok(files.length > 0, `the failed recording keeps its spool: ${files.join(',')}`);
        return rec.id;
      }
      assert.ok(
        Date.now() < deadline && rec?.state !== 'stored',
        `recording for ${callId} is ${rec?.state ?? 'missing'}, wanted failed\n${server.output().slice(-3000)}`,
      );
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Holds every spool file of `id` open: after the unlink its contents show what was left. */
  async function holdSpool(id: string): Promise<{ fh: FileHandle; size: number }[]> {
    const out = [];
    for (const f of await spoolFiles(id)) {
      const fh = await open(join(spoolDir(id), f), 'r');
      held.push(fh);
      const { size } = await fh.stat();
      assert.ok(size > 1000, `${f}: ${size} bytes of audio`);
      out.push({ fh, size });
    }
    return out;
  }
  async function assertOverwritten(files: { fh: FileHandle; size: number }[]) {
    for (const { fh, size } of files) {
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
      assert.ok(
        buf.every((b) => b === 0),
        'the spool was overwritten with zeros before the unlink',
      );
    }
  }

  before(async () => {
    server = await startTestServer({
      SRS_JOB_RETRY_LIMIT: '0',
      SRS_RETENTION: '1h',
      SRS_PURGE_INTERVAL: '5',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    // Finalize cannot write any artifact: the recordings directory is a file (root ignores modes).
    const recordings = join(server.dataDir, 'recordings');
    await rm(recordings, { recursive: true, force: true });
    await writeFile(recordings, 'not a directory\n');
    db = await openDatabase({ dataDir: server.dataDir, log: createLogger('silent') });
  });

  after(async () => {
    for (const fh of held) await fh.close().catch(() => undefined);
    await db?.close();
    await server?.stop();
  });

  it('retention wipes the spool of a failed recording past its policy and marks it purged; a preserved one is kept', async () => {
    const due = await failedCall(0x71);
    const kept = await failedCall(0x72);
    assert.equal((await api('PUT', `/recordings/${kept}/preserve`)).status, 200);
    const dueFiles = await holdSpool(due);
    const keptBefore = await Promise.all(
      (await spoolFiles(kept)).map((f) => readFile(join(spoolDir(kept), f))),
    );
    await db.pool.query(
      `UPDATE recordings SET started_at = started_at - interval '2 days' WHERE id = ANY($1::uuid[])`,
      [[due, kept]],
    );

    const deadline = Date.now() + 30000;
    while ((await state(due)) !== 'purged') {
      assert.ok(
        Date.now() < deadline,
        `the failed recording past its retention is still ${await state(due)}; spool: ${(await spoolFiles(due)).join(',')}`,
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    const waitWiped = Date.now() + 10000;
    while (!(await gone(spoolDir(due)))) {
      assert.ok(Date.now() < waitWiped, 'the purged recording still has its spool directory');
      await new Promise((r) => setTimeout(r, 100));
    }
    await assertOverwritten(dueFiles);
    const entries = await audit('retention.purge', due);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.equal(entries[0]?.details.policy, '1h');
    assert.equal(entries[0]?.details.state, 'failed');

    // Two more passes: the preserved one stays failed, its spool as it was.
    await new Promise((r) => setTimeout(r, 11000));
    assert.equal(await state(kept), 'failed');
    const keptAfter = await Promise.all(
      (await spoolFiles(kept)).map((f) => readFile(join(spoolDir(kept), f))),
    );
    assert.deepEqual(keptAfter, keptBefore, 'the preserved recording keeps its spool untouched');
    assert.equal((await audit('retention.purge', kept)).length, 0);
  });

  it('DELETE and bulk delete of a failed recording wipe its spool and answer success; a preserved one is refused', async () => {
    const one = await failedCall(0x73);
    const bulk = await failedCall(0x74);
    const preserved = await failedCall(0x75);
    assert.equal((await api('PUT', `/recordings/${preserved}/preserve`)).status, 200);
    const oneFiles = await holdSpool(one);
    const bulkFiles = await holdSpool(bulk);

    const del = await api('DELETE', `/recordings/${one}`);
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.deleted, one);
    assert.ok(await gone(spoolDir(one)), 'the spool directory is gone');
    await assertOverwritten(oneFiles);
    assert.equal(await state(one), 'purged');
    const entries = await audit('delete', one);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.equal(entries[0]?.details.state, 'failed');

    const b = await api('POST', '/recordings/bulk', { ids: [bulk, preserved], action: 'delete' });
    assert.equal(b.status, 200, b.text);
    const results = b.json.results as { id: string; ok: boolean; status?: number; error?: string }[];
    assert.deepEqual(
      results.map((r) => [r.id, r.ok, r.status]),
      [
        [bulk, true, undefined],
        [preserved, false, 409],
      ],
      b.text,
    );
    assert.ok(await gone(spoolDir(bulk)));
    await assertOverwritten(bulkFiles);
    assert.equal(await state(bulk), 'purged');

    const refused = await api('DELETE', `/recordings/${preserved}`);
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.text, /preserved/);
    assert.equal(await state(preserved), 'failed');
    assert.ok((await spoolFiles(preserved)).length > 0, 'the preserved recording keeps its spool');
  });
});
