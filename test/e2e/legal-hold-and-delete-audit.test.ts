/**
 * Legal hold (preservation) and the deletion's audit entry, against the real server (`srs serve`,
 * SIPREC calls from a small UAC, the catalogue read and altered through its embedded Postgres):
 * - a deleted (purged) recording cannot be preserved: 409 on the single route and per item in the
 *   bulk route, and `GET /recordings?preserved=true` does not list it;
 * - a user cannot lift an admin's hold, even when the admin's hold lands between the user's read
 *   of the preserver's rank and the clearing (the row is held locked to open that window); an
 *   unpreserve that changes nothing writes no audit entry;
 * - an on-demand call never started, with keepUnstarted none, keeps its catalogue row (without
 *   audio) when it is preserved, and every discard is audited;
 * - a DELETE whose audit entry cannot be written (the audit table refuses inserts) deletes
 *   nothing and answers an error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { roleRank } from '../../src/store/users.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

interface AuditItem {
  action: string;
  resourceId: string;
  details: Record<string, unknown>;
}
interface Reply {
  status: number;
  json: Record<string, unknown>;
}

describe('legal hold and the delete audit entry (srs serve)', { timeout: 300000 }, () => {
  let server: TestServer;
  let db: Database;
  const tokens: Record<string, string> = {};
  const userIds: Record<string, string> = {};
  let ssrc = 0x500;

  const api = async (method: string, path: string, as = 'admin', body?: unknown): Promise<Reply> => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${as === 'admin' ? server.token : tokens[as]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const ok = async (method: string, path: string, as = 'admin', body?: unknown) => {
    const r = await api(method, path, as, body);
    assert.ok(r.status < 300, `${method} ${path} as ${as}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const audit = async (action: string, id: string) =>
    ((await ok('GET', `/audit?action=${action}&resourceId=${id}`)).items as AuditItem[]) ?? [];
  const row = async (id: string) =>
    (
      await db.pool.query<{ state: string; preserved_by: string | null; preserved_rank: number | null }>(
        'SELECT state, preserved_by, preserved_rank FROM recordings WHERE id = $1',
        [id],
      )
    ).rows[0];

  /** A call from alice (the agent's number); `during` runs while it is live, with its recording id. */
  async function call(during: (id: string) => Promise<void> = async () => undefined): Promise<string> {
    const uac = await SiprecUac.open(server.sipPort);
    try {
      const inv = await uac.invite({ streams: 1 });
      assert.equal(inv.status, 200, inv.text);
      let id: string | undefined;
      for (let i = 0; i < 100 && !id; i++) {
        const items = (await ok('GET', '/calls')).items as { recordingId: string; callId: string }[];
        id = items.find((c) => c.callId === uac.callId)?.recordingId;
        if (!id) await sleep(50);
      }
      assert.ok(id, 'the call is live');
      await during(id);
      await sendLoopbackTone(inv.ports[0] as number, 800, ssrc++);
      await uac.request('BYE');
      return id;
    } finally {
      uac.close();
    }
  }
  async function storedCall(): Promise<string> {
    const id = await call();
    for (let i = 0; ; i++) {
      if ((await row(id))?.state === 'stored') return id;
      assert.ok(i < 240, `recording ${id} not stored: ${(await row(id))?.state}`);
      await sleep(250);
    }
  }

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    db = await openDatabase({ dataDir: server.dataDir, log: createLogger('silent') });
    const base = `http://127.0.0.1:${server.httpPort}/api/v1`;
    const u = (await ok('POST', '/users', 'admin', {
      username: 'agent',
      role: 'user',
      password: 'agent-password',
      numbers: ['alice'],
    })) as { id: string };
    userIds.agent = u.id;
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'agent', password: 'agent-password' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const t = await fetch(`${base}/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ name: 'legal-hold-test' }),
    });
    assert.equal(t.status, 201, await t.clone().text());
    tokens.agent = ((await t.json()) as { token: string }).token;
  });

  after(async () => {
    await db?.pool.query('ALTER TABLE audit DROP CONSTRAINT IF EXISTS audit_down').catch(() => undefined);
    await db?.close();
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('preserve after delete is refused with 409 and the deleted recording is not listed as preserved', async () => {
    const id = await storedCall();
    await ok('DELETE', `/recordings/${id}`);
    const one = await api('PUT', `/recordings/${id}/preserve`);
    assert.equal(one.status, 409, JSON.stringify(one.json));
    assert.match(String(one.json.error), /deleted/);
    const bulk = await ok('POST', '/recordings/bulk', 'admin', { ids: [id], action: 'preserve' });
    assert.equal(bulk.done, 0, JSON.stringify(bulk));
    const item = (bulk.results as { ok: boolean; status?: number; error?: string }[])[0];
    assert.equal(item?.ok, false);
    assert.equal(item?.status, 409);
    assert.match(String(item?.error), /deleted/);
    for (const q of ['preserved=true', 'preserved=true&state=purged']) {
      const items = (await ok('GET', `/recordings?${q}`)).items as { id: string }[];
      assert.ok(!items.some((x) => x.id === id), `${q} lists the deleted recording`);
    }
    assert.equal((await row(id))?.preserved_by, null);
    assert.equal((await audit('preserve', id)).length, 0, 'no preserve entry');
  });

  it('a user unpreserve cannot clear an admin hold, even racing it, and a no-op unpreserve writes no audit entry', async () => {
    const id = await storedCall();
    await ok('PUT', `/recordings/${id}/preserve`);
    assert.equal((await api('DELETE', `/recordings/${id}/preserve`, 'agent')).status, 403);
    assert.equal((await row(id))?.preserved_rank, roleRank('admin'));
    await ok('DELETE', `/recordings/${id}/preserve`);

    // The agent's own hold; the agent lifts it while the row is locked, and the admin's hold lands
    // before the lock goes: the agent read its own rank, the row now holds the admin's.
    await ok('PUT', `/recordings/${id}/preserve`, 'agent');
    const c = new pg.Client({ connectionString: server.env.DATABASE_URL ?? dbUrl(db) });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT 1 FROM recordings WHERE id = $1 FOR UPDATE', [id]);
      const lift = api('DELETE', `/recordings/${id}/preserve`, 'agent');
      for (let i = 0; ; i++) {
        const w = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%preserved_at = NULL%'`,
        );
        if (w.rowCount) break;
        assert.ok(i < 200, 'the unpreserve never reached the locked row');
        await sleep(25);
      }
      await c.query(
        `UPDATE recordings SET preserved_at = now(), preserved_by = 'admin', preserved_rank = $2 WHERE id = $1`,
        [id, roleRank('admin')],
      );
      await c.query('COMMIT');
      const r = await lift;
      assert.equal(r.status, 403, JSON.stringify(r.json));
    } finally {
      await c.end();
    }
    const after = await row(id);
    assert.equal(after?.preserved_by, 'admin', 'the admin hold stands');
    assert.equal(after?.preserved_rank, roleRank('admin'));
    const lifts = (await audit('unpreserve', id)).length;
    assert.equal(lifts, 1, 'only the admin lift before the race is audited');

    // A lift of nothing: 200, no entry.
    await ok('DELETE', `/recordings/${id}/preserve`);
    assert.equal((await audit('unpreserve', id)).length, 2);
    await ok('DELETE', `/recordings/${id}/preserve`);
    await ok('POST', '/recordings/bulk', 'admin', { ids: [id], action: 'unpreserve' });
    assert.equal((await audit('unpreserve', id)).length, 2, 'a no-op unpreserve is not audited');
  });

  it('a preserved unstarted on-demand call with keepUnstarted none keeps its row and every discard is audited', async () => {
    await ok('PUT', '/recording-control/settings', 'admin', { keepUnstarted: 'none', onDemandFrom: 'press' });
    await ok('PUT', `/recording-control/users/${userIds.agent}`, 'admin', { mode: 'on-demand' });
    try {
      const held = await call(async (id) => {
        await ok('PUT', `/recordings/${id}/preserve`, 'agent');
      });
      const gone = await call();
      const discarded = async (id: string) => {
        for (let i = 0; ; i++) {
          const e = await audit('recording.discard', id);
          if (e.length > 0) return e;
          assert.ok(i < 120, `no recording.discard entry for ${id}`);
          await sleep(250);
        }
      };
      const h = await discarded(held);
      assert.equal(h.length, 1);
      assert.equal(h[0]?.details.catalogue, 'kept: preserved');
      const d = await api('GET', `/recordings/${held}`);
      assert.equal(d.status, 200, 'the preserved row is kept');
      assert.equal(d.json.state, 'stored');
      assert.deepEqual(d.json.files, [], 'no audio kept');
      const r = await db.pool.query<{ audio_kept: boolean }>(
        'SELECT audio_kept FROM recordings WHERE id = $1',
        [held],
      );
      assert.equal(r.rows[0]?.audio_kept, false);
      await assert.rejects(stat(join(server.dataDir, 'spool', held)), 'spool wiped');

      const g = await discarded(gone);
      assert.equal(g[0]?.details.catalogue, 'deleted');
      assert.equal((await api('GET', `/recordings/${gone}`)).status, 404);
    } finally {
      await ok('PUT', `/recording-control/users/${userIds.agent}`, 'admin', { mode: null });
      await ok('PUT', '/recording-control/settings', 'admin', { keepUnstarted: 'metadata' });
    }
  });

  it('a DELETE whose audit entry cannot be written deletes nothing and answers an error', async () => {
    const id = await storedCall();
    const files = (
      await db.pool.query<{ path: string }>('SELECT path FROM files WHERE recording_id = $1', [id])
    ).rows.map((f) => join(server.dataDir, f.path));
    assert.ok(files.length > 0);
    await db.pool.query('ALTER TABLE audit ADD CONSTRAINT audit_down CHECK (false) NOT VALID');
    let r: Reply;
    try {
      r = await api('DELETE', `/recordings/${id}`);
    } finally {
      await db.pool.query('ALTER TABLE audit DROP CONSTRAINT audit_down');
    }
    assert.ok(r.status >= 500, `answered ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal((await row(id))?.state, 'stored', 'not deleted');
    for (const f of files) await stat(f);
    assert.equal((await audit('delete', id)).length, 0);

    await ok('DELETE', `/recordings/${id}`);
    assert.equal((await row(id))?.state, 'purged');
    const e = await audit('delete', id);
    assert.equal(e.length, 1);
    assert.deepEqual(
      [...(e[0]?.details.files as string[])].sort(),
      (await db.pool.query<{ path: string }>('SELECT path FROM files WHERE recording_id = $1', [id])).rows
        .map((f) => f.path)
        .sort(),
    );
    for (const f of files) await assert.rejects(stat(f), `${f} removed`);
  });
});

/** The connection string the pool of `db` uses (the embedded Postgres of the server's data dir). */
function dbUrl(db: Database): string {
  const o = (db.pool as unknown as { options: { connectionString: string } }).options;
  return o.connectionString;
}
