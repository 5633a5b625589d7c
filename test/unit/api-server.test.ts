/**
 * The REST API over a real HTTP server and a real embedded Postgres: users and roles, sessions and
 * login throttling, API tokens, the scoped recordings search, decrypted audio with ranges,
 * download/delete settings, preservation and notes hierarchy, and the append-only hash-chained
 * audit trail. Exports: api-export.test.ts; delivery status, errors, OpenAPI and metrics:
 * api-ops.test.ts.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LoginThrottle } from '../../src/api/auth.js';
import type { ConsoleApi } from '../../src/api/index.js';
import type { Database } from '../../src/store/db.js';
import { startApiHarness, storeApiRecordings, type ApiHarness } from '../helpers/api-harness.js';

describe('REST API /api/v1 (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let dataDir: string;
  let db: Database;
  let stack: ConsoleApi;
  let ids: { r1: string; r2: string };
  let wav: Buffer;
  const call: ApiHarness['call'] = (...a) => h.call(...a);
  const login: ApiHarness['login'] = (...a) => h.login(...a);

  before(async () => {
    // A 5-s base delay (1 s in production): on a loaded machine the fourth attempt's scrypt check
    // can outlast 1 s, and the fifth then came after its delay (401, not 429).
    h = await startApiHarness(async () => ({ loginThrottle: new LoginThrottle(5000) }));
    ({ dataDir, db, stack } = h);
    ({ ids, wav } = await storeApiRecordings(h));
  });

  after(async () => {
    await h?.close();
  });

  it('creates the first admin once; logs in; refuses bad passwords and throttles repeated failures', async () => {
    assert.equal(await db.users.count(), 1);
    const bad = await call('POST', '/api/v1/login', { body: { username: 'admin', password: 'nope' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error, 'wrong username or password');
    const hash = (await db.users.byUsername('admin'))?.passwordHash ?? '';
    assert.match(hash, /^scrypt\$32768\$8\$1\$/);
    await login('admin', 'first-admin-pw');
    const me = await call('GET', '/api/v1/me', { as: 'admin' });
    assert.equal(me.json.role, 'admin');
    assert.equal(me.json.can.audit, true);
    // Throttling: three free attempts per user and address, the fourth starts a delay during which
    // the fifth is refused unchecked (429).
    for (let i = 0; i < 4; i++)
      assert.equal(
        (await call('POST', '/api/v1/login', { body: { username: 'ghost', password: 'x' } })).status,
        401,
      );
    const throttled = await call('POST', '/api/v1/login', { body: { username: 'ghost', password: 'x' } });
    assert.equal(throttled.status, 429);
    assert.ok(Number(throttled.headers.get('retry-after')) > 0);
  });

  it('lets admins manage users and groups; validates input', async () => {
    const mk = async (body: Record<string, unknown>) => {
      const r = await call('POST', '/api/v1/users', { as: 'admin', body });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json;
    };
    await mk({
      username: 'alice',
      password: 'alice-password',
      role: 'user',
      group: 'sales',
      numbers: ['alice'],
    });
    await mk({ username: 'bob', password: 'bob-password', role: 'user', group: 'support', numbers: ['Bob'] });
    await mk({ username: 'sup', password: 'sup-password', role: 'supervisor', group: 'sales' });
    await mk({ username: 'rec', password: 'rec-password', role: 'record-only' });
    const dup = await call('POST', '/api/v1/users', {
      as: 'admin',
      body: { username: 'alice', role: 'user' },
    });
    assert.equal(dup.status, 409);
    const invalid = await call('POST', '/api/v1/users', {
      as: 'admin',
      body: { username: 'x y', role: 'boss' },
    });
    assert.equal(invalid.status, 400);
    assert.match(invalid.json.error, /username/);
    const groups = await call('GET', '/api/v1/groups', { as: 'admin' });
    assert.deepEqual(
      groups.json.items.map((g: { name: string; members: number }) => [g.name, g.members]),
      [
        ['sales', 2],
        ['support', 1],
      ],
    );
    for (const [u, p] of [
      ['alice', 'alice-password'],
      ['bob', 'bob-password'],
      ['sup', 'sup-password'],
      ['rec', 'rec-password'],
    ] as const)
      await login(u, p);
    assert.equal((await call('GET', '/api/v1/users', { as: 'alice' })).status, 403);
  });

  it('scopes the recordings search by role and group, with filters and paging', async () => {
    const idsOf = async (who: string, q = '') =>
      (await call('GET', `/api/v1/recordings${q}`, { as: who })).json.items.map((i: { id: string }) => i.id);
    assert.deepEqual(await idsOf('alice'), [ids.r1]);
    assert.deepEqual(await idsOf('bob'), [ids.r2]);
    assert.deepEqual(await idsOf('sup'), [ids.r1], 'supervisor of sales sees alice (sales)');
    assert.deepEqual(await idsOf('admin'), [ids.r2, ids.r1]);
    // A record-only user sees no recording: the recording routes answer 404.
    assert.equal((await call('GET', '/api/v1/recordings', { as: 'rec' })).status, 404);
    assert.equal((await call('GET', '/api/v1/recordings')).status, 401);
    assert.deepEqual(await idsOf('admin', '?participant=carol'), [ids.r1]);
    assert.deepEqual(await idsOf('admin', '?participant=DAVE%20ex'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?callId=call-bob@pbx'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?sessionId=sess-alice'), [ids.r1]);
    assert.deepEqual(await idsOf('admin', '?minDurationMs=90000'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?group=support'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?from=2026-03-01T10:30:00Z'), [ids.r2]);
    assert.deepEqual(await idsOf('admin', '?to=2026-03-01T10:30:00Z&state=stored'), [ids.r1]);
    const page = await call('GET', '/api/v1/recordings?limit=1&offset=1', { as: 'admin' });
    assert.equal(page.json.total, 2);
    assert.deepEqual(
      page.json.items.map((i: { id: string }) => i.id),
      [ids.r1],
    );
    assert.equal((await call('GET', '/api/v1/recordings?from=yesterday', { as: 'admin' })).status, 400);
    assert.equal((await call('GET', '/api/v1/recordings?state=lost', { as: 'admin' })).status, 400);
    // Another user's recording is not found rather than forbidden.
    assert.equal((await call('GET', `/api/v1/recordings/${ids.r2}`, { as: 'alice' })).status, 404);
    const d = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'alice' });
    assert.equal(d.status, 200);
    assert.equal(d.json.participants[0].aor, 'sip:alice@example.com');
    assert.ok(d.json.events.some((e: { type: string }) => e.type === 'end'));
    assert.deepEqual(d.json.groups, ['sales']);
  });

  it('streams decrypted audio with ranges and a waveform, and audits playback and download', async () => {
    const full = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, { as: 'alice' });
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('accept-ranges'), 'bytes');
    assert.ok(full.buf.equals(wav), 'the decrypted WAV is the original');
    const part = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, {
      as: 'alice',
      headers: { range: 'bytes=100-199' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${wav.length}`);
    assert.ok(part.buf.equals(wav.subarray(100, 200)));
    const tail = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, {
      as: 'alice',
      headers: { range: 'bytes=-10' },
    });
    assert.ok(tail.buf.equals(wav.subarray(wav.length - 10)));
    const beyond = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, {
      as: 'alice',
      headers: { range: `bytes=${wav.length}-` },
    });
    assert.equal(beyond.status, 416);
    const noMp3 = await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=mp3`, { as: 'alice' });
    assert.equal(noMp3.status, 404);
    assert.match(noMp3.json.error, /has no mp3 file \(it has: stereo, wav\)/);
    const stereo = await call('GET', `/api/v1/recordings/${ids.r1}/download?format=stereo`, { as: 'alice' });
    assert.equal(stereo.status, 200);
    assert.equal(stereo.headers.get('content-type'), 'audio/wav');
    assert.match(stereo.headers.get('content-disposition') ?? '', new RegExp(`${ids.r1}\\.stereo\\.wav`));
    assert.ok(stereo.buf.equals(wav));
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=leg3`, { as: 'alice' })).status,
      404,
    );
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=ogg`, { as: 'alice' })).status,
      400,
    );
    const wf = await call('GET', `/api/v1/recordings/${ids.r1}/waveform?points=10`, { as: 'alice' });
    assert.equal(wf.json.peaks.length, 10);
    assert.ok(
      wf.json.peaks.every((p: number) => p > 0.2 && p < 0.3),
      `a 8000/32768 tone: ${wf.json.peaks}`,
    );
    const dl = await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'alice' });
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition') ?? '', /attachment/);
    const audit = await call('GET', `/api/v1/audit?resourceId=${ids.r1}&actor=alice`, { as: 'admin' });
    const actions = audit.json.items.map((e: { action: string }) => e.action);
    assert.deepEqual(
      actions,
      ['download', 'waveform', 'download', 'download'],
      'a WAV is a download, inline or not: the inline ranged requests are one entry per window; then stereo, the waveform, and /download of the WAV, a file taken away, its own entry (newest first)',
    );
    assert.equal(audit.json.items[0].details.inline, undefined, 'the newest: /download');
    assert.equal(audit.json.items[3].details.inline, true, 'the oldest: the inline WAV');
    assert.equal(audit.json.items[0].ip, '127.0.0.1');
    assert.equal(audit.json.items[0].details.callId, 'call-alice@pbx');
    // The encrypted file as stored (the local store): whole, by range, 416 beyond its end.
    const cipher = await readFile(join(dataDir, `recordings/2026/03/01/${ids.r1}.wav.gpg`));
    const enc = await call('GET', `/api/v1/recordings/${ids.r1}/encrypted?format=wav`, { as: 'admin' });
    assert.equal(enc.status, 200);
    assert.equal(enc.headers.get('content-type'), 'application/pgp-encrypted');
    assert.ok(enc.buf.equals(cipher));
    const encPart = await call('GET', `/api/v1/recordings/${ids.r1}/encrypted?format=wav`, {
      as: 'admin',
      headers: { range: 'bytes=10-19' },
    });
    assert.equal(encPart.status, 206);
    assert.equal(encPart.headers.get('content-range'), `bytes 10-19/${cipher.length}`);
    assert.ok(encPart.buf.equals(cipher.subarray(10, 20)));
    const encBeyond = await call('GET', `/api/v1/recordings/${ids.r1}/encrypted?format=wav`, {
      as: 'admin',
      headers: { range: `bytes=${cipher.length}-` },
    });
    assert.equal(encBeyond.status, 416);
  });

  it('applies the download and delete settings, including "nobody", and audits setting changes', async () => {
    const put = (body: unknown) => call('PUT', '/api/v1/settings', { as: 'admin', body });
    assert.equal((await put({ 'permissions.download': 'nobody' })).status, 200);
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'admin' })).status,
      403,
    );
    assert.equal((await put({ 'permissions.download': 'supervisor' })).status, 200);
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'alice' })).status,
      403,
    );
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/download?format=wav`, { as: 'sup' })).status,
      200,
    );
    assert.equal((await put({ 'permissions.delete': 'maybe' })).status, 400);
    assert.equal((await call('PUT', '/api/v1/settings', { as: 'sup', body: {} })).status, 403);
    const a = await call('GET', '/api/v1/audit?action=setting.update', { as: 'admin' });
    assert.equal(a.json.total, 2);
    assert.deepEqual(a.json.items[0].details['permissions.download'], { from: 'nobody', to: 'supervisor' });
  });

  it('protects preserved recordings and higher-role notes; deletes when permitted', async () => {
    assert.equal((await call('PUT', `/api/v1/recordings/${ids.r1}/preserve`, { as: 'sup' })).status, 200);
    assert.equal(
      (await call('DELETE', `/api/v1/recordings/${ids.r1}/preserve`, { as: 'alice' })).status,
      403,
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'alice' })).status, 403);
    const blocked = await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(blocked.status, 409);
    assert.match(blocked.json.error, /preserved by sup/);
    const note = await call('POST', `/api/v1/recordings/${ids.r1}/notes`, {
      as: 'sup',
      body: { body: 'coaching: good call' },
    });
    assert.equal(note.status, 201);
    assert.equal(
      (await call('DELETE', `/api/v1/recordings/${ids.r1}/notes/${note.json.id}`, { as: 'alice' })).status,
      403,
    );
    const cats = await call('PUT', `/api/v1/recordings/${ids.r1}/categories`, {
      as: 'alice',
      body: { categories: ['refund', 'order', 'refund'] },
    });
    assert.deepEqual(cats.json.categories, ['order', 'refund']);
    assert.deepEqual(
      (await call('GET', '/api/v1/recordings?category=refund', { as: 'admin' })).json.items.map(
        (i: { id: string }) => i.id,
      ),
      [ids.r1],
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r1}/preserve`, { as: 'sup' })).status, 200);
    const del = await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(del.status, 200, JSON.stringify(del.json));
    await assert.rejects(stat(join(dataDir, `recordings/2026/03/01/${ids.r1}.wav.gpg`)), 'the file is gone');
    const tomb = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(tomb.json.state, 'purged', 'a tombstone stays for the hash chain');
    // An export of deleted recordings lists them without audio.
    const purgedTar = await call('GET', '/api/v1/recordings/export?format=tar&state=purged', { as: 'admin' });
    assert.equal(purgedTar.status, 200);
    const purgedIndex = purgedTar.buf.toString('utf8');
    assert.ok(purgedIndex.includes(`${ids.r1},,2026-03-01T10:00:00.000Z`), 'index row of r1');
    assert.match(purgedIndex, /,deleted\r\n/);
    assert.ok(!purgedIndex.includes('.wav\0'), 'no audio file in the archive');
    assert.equal(
      (await call('GET', `/api/v1/recordings/${ids.r1}/audio?format=wav`, { as: 'admin' })).status,
      410,
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r1}`, { as: 'admin' })).status, 409);
    assert.deepEqual(
      (await call('GET', '/api/v1/recordings', { as: 'admin' })).json.items.map((i: { id: string }) => i.id),
      [ids.r2],
      'deleted recordings are not in the default search',
    );
    const a = await call('GET', `/api/v1/audit?resourceId=${ids.r1}`, { as: 'admin' });
    const actions = a.json.items.map((e: { action: string }) => e.action);
    for (const act of ['delete', 'unpreserve', 'categories.update', 'note.add', 'preserve'])
      assert.ok(actions.includes(act), `${act} audited: ${actions}`);
    // Deletion set to "nobody" is irreversible.
    assert.equal(
      (await call('PUT', '/api/v1/settings', { as: 'admin', body: { 'permissions.delete': 'nobody' } }))
        .status,
      200,
    );
    assert.equal((await call('DELETE', `/api/v1/recordings/${ids.r2}`, { as: 'admin' })).status, 403);
    assert.equal(
      (await call('PUT', '/api/v1/settings', { as: 'admin', body: { 'permissions.delete': 'admin' } }))
        .status,
      409,
    );
  });

  it('issues and revokes API tokens; the admin token is an admin API token; sessions expire', async () => {
    const t = await call('POST', '/api/v1/tokens', { as: 'bob', body: { name: 'crm' } });
    assert.equal(t.status, 201);
    assert.match(t.json.token, /^srs_/);
    const withToken = await call('GET', '/api/v1/recordings', { bearer: t.json.token });
    assert.deepEqual(
      withToken.json.items.map((i: { id: string }) => i.id),
      [ids.r2],
    );
    assert.equal((await call('DELETE', `/api/v1/tokens/${t.json.id}`, { as: 'bob' })).status, 200);
    assert.equal((await call('GET', '/api/v1/recordings', { bearer: t.json.token })).status, 401);
    const asAdmin = await call('GET', '/api/v1/keys', { bearer: 'the-admin-token' });
    assert.equal(asAdmin.status, 200);
    assert.equal(asAdmin.json.items.length, 1);
    assert.equal((await call('GET', '/api/v1/keys', { bearer: 'wrong-token' })).status, 401);
    // WebSocket handshakes (query tokens allowed) refuse a session cookie sent from another site.
    const ws = (origin: string) =>
      stack.auth.authenticate(
        {
          url: '/monitor',
          headers: { cookie: h.cookies.bob, host: 'srs.example:8080', origin },
        } as unknown as IncomingMessage,
        true,
      );
    assert.equal((await ws('http://srs.example:8080'))?.username, 'bob');
    assert.equal(await ws('https://evil.example'), null);
    await db.pool.query(`UPDATE user_sessions SET expires_at = now() - interval '1 second'`);
    assert.equal((await call('GET', '/api/v1/me', { as: 'alice' })).status, 401);
  });

  it('keeps the audit trail append-only and detects an edit made behind its back', async () => {
    const v = await call('GET', '/api/v1/audit/verify', { as: 'admin', bearer: 'the-admin-token' });
    assert.equal(v.json.ok, true);
    assert.ok(v.json.rows > 15);
    await assert.rejects(db.pool.query(`UPDATE audit SET actor = 'x'`), /append-only/);
    await assert.rejects(db.pool.query('DELETE FROM audit'), /append-only/);
    await assert.rejects(db.pool.query('TRUNCATE audit'), /append-only/);
    const logins = await call('GET', '/api/v1/audit?action=login-failed&q=bad%20credentials', {
      bearer: 'the-admin-token',
    });
    assert.ok(logins.json.total >= 5);
    // A superuser disabling the triggers can edit a row, but the chain shows it.
    const client = await db.pool.connect();
    try {
      await client.query('ALTER TABLE audit DISABLE TRIGGER audit_no_update');
      await client.query(`UPDATE audit SET actor = 'mallory' WHERE id = 3`);
      await client.query('ALTER TABLE audit ENABLE TRIGGER audit_no_update');
    } finally {
      client.release();
    }
    const after = await call('GET', '/api/v1/audit/verify', { bearer: 'the-admin-token' });
    assert.deepEqual([after.json.ok, after.json.firstBadId], [false, 3]);
  });
});
