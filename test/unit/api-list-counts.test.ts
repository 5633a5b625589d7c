/**
 * The lists' totals on a large catalogue (real Postgres, the real API): the recordings list and
 * the audit trail count their matches up to 10,000 (`totalExact` false past it) instead of reading
 * every match for every page; `count=exact` counts them all; a narrow search is exact; an export
 * of more than it takes is still refused, and says so; a user's own list is counted in its scope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addApiUser, startApiHarness, storeCallTo, type ApiHarness } from '../helpers/api-harness.js';
import { run, SRS_BIN } from '../helpers/server.js';

const MANY = 10_050;

describe('list totals past 10,000 matches (real Postgres)', { timeout: 120_000 }, () => {
  let h: ApiHarness;
  let own: string;
  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addApiUser(h, 'alice', { role: 'user', numbers: ['1001'] });
    own = await storeCallTo(h, '1001');
    await h.db.pool.query(
      `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
       SELECT gen_random_uuid(), 'many-' || i || '@pbx', '127.0.0.1:5060', s, s, 60000, 'stored', s
       FROM generate_series(1, $1::int) AS i, LATERAL (SELECT now() - make_interval(secs => i)) AS x (s)`,
      [MANY - 1],
    );
    await h.db.pool.query(
      `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
       SELECT 'admin', 'admin', '127.0.0.1', 'session', 'playback', 'recording', 'r' || i, '{}'::jsonb
       FROM generate_series(1, $1::int) AS i`,
      [MANY],
    );
  });
  after(async () => {
    await h?.close();
  });

  it('counts the recordings list up to 10,000, or all of them when asked', async () => {
    const capped = await h.call('GET', '/api/v1/recordings?limit=5', { as: 'admin' });
    assert.equal(capped.status, 200);
    assert.equal(capped.json.total, 10_000);
    assert.equal(capped.json.totalExact, false);
    assert.equal(capped.json.items.length, 5);
    const exact = await h.call('GET', '/api/v1/recordings?limit=5&count=exact', { as: 'admin' });
    assert.equal(exact.json.total, MANY);
    assert.equal(exact.json.totalExact, true);
    // A page far past the count is still served.
    const deep = await h.call('GET', '/api/v1/recordings?limit=10&offset=10040', { as: 'admin' });
    assert.equal(deep.json.items.length, 10);
    // Narrow: exact without asking.
    const narrow = await h.call('GET', `/api/v1/recordings?callId=many-7@pbx`, { as: 'admin' });
    assert.equal(narrow.json.total, 1);
    assert.equal(narrow.json.totalExact, true);
    // A user's list is counted in the user's scope.
    const mine = await h.call('GET', '/api/v1/recordings', { as: 'alice' });
    assert.equal(mine.json.total, 1);
    assert.equal(mine.json.totalExact, true);
    assert.equal(mine.json.items[0].id, own);
    const bad = await h.call('GET', '/api/v1/recordings?count=some', { as: 'admin' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /count/);
  });

  it('counts the audit trail up to 10,000, or all of it when asked', async () => {
    const capped = await h.call('GET', '/api/v1/audit?limit=3', { as: 'admin' });
    assert.equal(capped.status, 200);
    assert.equal(capped.json.total, 10_000);
    assert.equal(capped.json.totalExact, false);
    const exact = await h.call('GET', '/api/v1/audit?limit=3&count=exact', { as: 'admin' });
    assert.ok(exact.json.total > MANY, String(exact.json.total));
    assert.equal(exact.json.totalExact, true);
    const one = await h.call('GET', '/api/v1/audit?resourceId=r17', { as: 'admin' });
    assert.equal(one.json.total, 1);
    assert.equal(one.json.totalExact, true);
  });

  it('refuses an export of more than it takes, without counting them all', async () => {
    const r = await h.call('GET', '/api/v1/recordings/export?format=csv', { as: 'admin' });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /^more than 10001 recordings match; one export takes at most 10000/);
  });

  it('srs recordings list with a filter reads past the search page of 1,000', async () => {
    const r = await run(
      process.execPath,
      [SRS_BIN, 'recordings', 'list', '--state', 'stored', '--limit', '2500', '--offset', '50', '--json'],
      { env: { ...(process.env as Record<string, string>), SRS_DATA_DIR: h.dataDir } },
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { id: string; startedAt: string }[];
    assert.equal(rows.length, 2500, 'not cut at 1,000');
    assert.equal(new Set(rows.map((x) => x.id)).size, 2500, 'no row twice across pages');
    const times = rows.map((x) => Date.parse(x.startedAt));
    assert.ok(
      times.every((t, i) => i === 0 || t <= (times[i - 1] as number)),
      'newest first across the pages',
    );
  });
});
