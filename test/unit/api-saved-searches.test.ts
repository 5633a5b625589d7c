/**
 * Saved searches over the real HTTP API and a real embedded Postgres: each user saves, lists and
 * deletes their own named recordings searches; a search is checked like GET /recordings's filters
 * when it is saved (an unknown or bad filter is a 400 naming it); names are unique per user; the
 * admin token (no user) has none; a deleted user's searches go with them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, startApiWorld } from '../helpers/api-harness.js';

describe('saved searches (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string };
  const save = (as: string, body: unknown) => h.call('POST', '/api/v1/me/searches', { as, body });
  const names = async (as: string) =>
    ((await h.call('GET', '/api/v1/me/searches', { as })).json.items as { name: string }[]).map(
      (s) => s.name,
    );

  before(async () => {
    ({ h, ids } = await startApiWorld());
  });

  after(async () => {
    await h?.close();
  });

  it('saves, lists, runs and deletes a user’s own searches', async () => {
    const s = await save('alice', { name: 'Carol calls', query: '?state=stored&participant=carol&q=' });
    assert.equal(s.status, 201, JSON.stringify(s.json));
    assert.equal(s.json.query, 'participant=carol&state=stored', 'filters in order, empty ones dropped');
    assert.equal((await save('alice', { name: 'all', query: '' })).status, 201);
    assert.deepEqual(await names('alice'), ['all', 'Carol calls']);
    assert.deepEqual(await names('bob'), [], 'each user sees only their own');
    // The saved query is a search.
    const run = await h.call('GET', `/api/v1/recordings?${s.json.query}`, { as: 'alice' });
    assert.deepEqual(
      run.json.items.map((i: { id: string }) => i.id),
      [ids.r1],
    );
    // Someone else's id is not found; the owner deletes it.
    assert.equal((await h.call('DELETE', `/api/v1/me/searches/${s.json.id}`, { as: 'bob' })).status, 404);
    assert.equal((await h.call('DELETE', `/api/v1/me/searches/${s.json.id}`, { as: 'alice' })).status, 200);
    assert.deepEqual(await names('alice'), ['all']);
    assert.equal((await h.call('DELETE', '/api/v1/me/searches/not-an-id', { as: 'alice' })).status, 404);
  });

  it('refuses bad searches with the reason; names are unique per user', async () => {
    assert.equal(
      (await save('bob', { name: 'all', query: 'state=stored' })).status,
      201,
      'bob may use the name too',
    );
    const dup = await save('bob', { name: 'all', query: '' });
    assert.equal(dup.status, 409);
    assert.match(dup.json.error, /you have a saved search named "all"/);
    const bad: [unknown, RegExp][] = [
      [{ name: 'x', query: 'colour=red' }, /^query: colour is not a search filter/],
      [{ name: 'x', query: 'from=yesterday' }, /^query: from: not a date/],
      [{ name: 'x', query: 'field=order_no' }, /^query: field: "order_no" is not <field name>:<value>/],
      [{ name: 'x', query: 'state=lost' }, /^query: state: one of/],
      [{ name: ' ', query: '' }, /^name:/],
      [{ name: 'x', query: 'q=' + 'x'.repeat(2000) }, /^query:/],
    ];
    for (const [body, message] of bad) {
      const r = await save('bob', body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(r.json.error, message);
    }
    assert.equal((await save('rec', { name: 'x', query: '' })).status, 403, 'record-only sees no recordings');
    const token = await h.call('GET', '/api/v1/me/searches', { bearer: 'the-admin-token' });
    assert.equal(token.status, 400);
    assert.match(token.json.error, /the admin token is no user/);
  });

  it('removes a deleted user’s searches with the user', async () => {
    const users = (await h.call('GET', '/api/v1/users', { as: 'admin' })).json.items as {
      id: string;
      username: string;
    }[];
    const bob = users.find((u) => u.username === 'bob');
    assert.ok(bob);
    const count = async () =>
      Number(
        (await h.db.pool.query('SELECT count(*) AS n FROM saved_searches WHERE user_id = $1', [bob.id]))
          .rows[0].n,
      );
    assert.equal(await count(), 1);
    assert.equal((await h.call('DELETE', `/api/v1/users/${bob.id}`, { as: 'admin' })).status, 200);
    assert.equal(await count(), 0);
  });
});
