/**
 * Every access to audio leaves its audit entry before a byte goes out, on the real server (its
 * embedded Postgres, its API): every file taken away is an entry of its own, inline listening one
 * per window and session; and a request that finds the window's entry still being written waits
 * for it, and sends nothing when it fails (before, it sent the audio at once, and an entry that
 * then failed left that audio unaudited).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';

describe('audio access audit on the real server', { timeout: 180000 }, () => {
  let server: TestServer;
  let db: Database;
  const ids: string[] = [];

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      headers: { authorization: `Bearer ${server.token}`, ...headers },
    });
  const entries = async (id: string, action: string) =>
    (await db.audit.search({ action, resourceId: id })).items;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    for (let n = 0; n < 2; n++) {
      const uac = await SiprecUac.open(server.sipPort);
      const inv = await uac.invite({ streams: 1 });
      assert.equal(inv.status, 200, inv.text);
      await sendLoopbackTone(inv.ports[0]!, 1000, 0x70 + n);
      await uac.request('BYE');
      uac.close();
      ids.push((await waitForState(server, uac.callId, 'stored')).id);
    }
    // The server's own embedded Postgres, attached to (it stays the server's).
    db = await openDatabase({ dataDir: server.dataDir, log: createLogger('silent') });
  });
  after(async () => {
    await db?.close();
    await server?.stop();
  });

  it('writes an entry for every download, and one per window for inline playback by one client', async () => {
    const id = ids[0]!;
    for (let n = 0; n < 3; n++) {
      const r = await get(`/recordings/${id}/download?format=mp3`);
      assert.equal(r.status, 200);
      assert.ok((await r.arrayBuffer()).byteLength > 1000);
    }
    for (let n = 0; n < 2; n++) {
      const r = await get(`/recordings/${id}/audio`, { range: `bytes=${n * 100}-` });
      assert.equal(r.status, 206);
      await r.arrayBuffer();
    }
    assert.equal((await entries(id, 'download')).length, 3, 'three downloads, three entries');
    assert.equal((await entries(id, 'playback')).length, 1, 'one playback window, one entry');
  });

  it('holds a second ranged request until the first entry is written, and sends nothing when it fails', async () => {
    const id = ids[1]!;
    const lock = await db.pool.connect();
    const other = await db.pool.connect();
    let a: Promise<{ status: number; bytes: number }> | undefined;
    let b: Promise<{ status: number; bytes: number }> | undefined;
    try {
      // The audit table locked: the first request's entry waits.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE audit IN ACCESS EXCLUSIVE MODE');
      const settle = (r: Promise<Response>) =>
        r.then(async (x) => ({ status: x.status, bytes: (await x.arrayBuffer()).byteLength }));
      a = settle(get(`/recordings/${id}/audio`, { range: 'bytes=0-' }));
      await new Promise((r) => setTimeout(r, 500));
      let bDone = false;
      b = settle(get(`/recordings/${id}/audio`, { range: 'bytes=100-' }));
      void b.then(() => (bDone = true));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(bDone, false, 'the second request got its audio before any entry was written');
      // The first entry fails.
      const cancelled = await other.query<{ n: string }>(
        `SELECT count(*) AS n FROM (SELECT pg_cancel_backend(pid) FROM pg_stat_activity
          WHERE state = 'active' AND query LIKE 'INSERT INTO audit%') c`,
      );
      assert.equal(Number(cancelled.rows[0]?.n), 1, 'the first entry was waiting on the lock');
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      lock.release();
      other.release();
    }
    const [ra, rb] = await Promise.all([a!, b!]);
    assert.ok(ra.status >= 500, `first: ${ra.status}`);
    assert.ok(rb.status >= 500 && rb.bytes < 1000, `second: ${rb.status}, ${rb.bytes} bytes`);
    assert.equal((await entries(id, 'playback')).length, 0);
    // Then the next request writes the entry, and gets the audio.
    const c = await get(`/recordings/${id}/audio`, { range: 'bytes=0-' });
    assert.equal(c.status, 206);
    await c.arrayBuffer();
    assert.equal((await entries(id, 'playback')).length, 1);
  });
});
