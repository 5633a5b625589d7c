/**
 * POST /recordings/bulk over the real HTTP API and a real embedded Postgres: each recording is acted
 * on by the rules of the single action (scope, permissions.delete, preservation and its rank) and
 * audited as the single action audits it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { addApiUser, startApiHarness, storeCallTo, type ApiHarness } from '../helpers/api-harness.js';

interface BulkReply {
  results: { id: string; ok: boolean; error?: string; status?: number }[];
  done: number;
  failed: number;
}

describe('bulk actions on recordings (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;

  const bulk = async (as: string, body: Record<string, unknown>) => {
    const r = await h.call('POST', '/api/v1/recordings/bulk', { as, body });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as BulkReply;
  };
  const result = (b: BulkReply, id: string) => b.results.find((x) => x.id === id);
  const detail = async (id: string) => {
    const r = await h.call('GET', `/api/v1/recordings/${id}`, { as: 'admin' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as { state: string; categories: string[]; preserved: { by: string } | null };
  };
  const audits = async (action: string, id: string) =>
    (await h.db.audit.search({ action, resource: 'recording', resourceId: id, limit: 10 })).items;

  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addApiUser(h, 'alice', { role: 'user', group: 'sales', numbers: ['2001'] });
    await addApiUser(h, 'bob', { role: 'user', group: 'support', numbers: ['2002'] });
    await addApiUser(h, 'sup', { role: 'supervisor', group: 'sales' });
  });

  after(async () => {
    await h?.close();
  });

  it('adds a category to the caller’s own recordings only; another’s is not found', async () => {
    const [a1, a2, b1] = [
      await storeCallTo(h, '2001'),
      await storeCallTo(h, '2001'),
      await storeCallTo(h, '2002'),
    ];
    const r = await bulk('alice', { ids: [a1, a2, b1], action: 'add-category', category: 'complaint' });
    assert.equal(r.done, 2);
    assert.equal(r.failed, 1);
    assert.equal(result(r, a1)?.ok, true);
    assert.equal(result(r, a2)?.ok, true);
    assert.equal(result(r, b1)?.ok, false);
    assert.match(result(r, b1)?.error ?? '', /not found/);
    assert.equal(result(r, b1)?.status, 404);
    assert.deepEqual((await detail(a1)).categories, ['complaint']);
    assert.deepEqual((await detail(a2)).categories, ['complaint']);
    assert.deepEqual((await detail(b1)).categories, [], 'bob’s recording untouched');
    assert.equal((await audits('categories.update', a1)).length, 1);
    assert.equal((await audits('categories.update', b1)).length, 0);
    // Removing keeps the others' categories.
    await h.call('PUT', `/api/v1/recordings/${a1}/categories`, {
      as: 'alice',
      body: { categories: ['complaint', 'vip'] },
    });
    const rm = await bulk('alice', { ids: [a1, a2], action: 'remove-category', category: 'complaint' });
    assert.equal(rm.done, 2);
    assert.deepEqual((await detail(a1)).categories, ['vip']);
    assert.deepEqual((await detail(a2)).categories, []);
  });

  it('deletes as admin all but the preserved ones, wiping each and auditing it once', async () => {
    const ids = [await storeCallTo(h, '2001'), await storeCallTo(h, '2002'), await storeCallTo(h, '2001')];
    const [p, d1, d2] = ids as [string, string, string];
    const pr = await bulk('alice', { ids: [p], action: 'preserve' });
    assert.equal(pr.done, 1);
    assert.equal((await detail(p)).preserved?.by, 'alice');
    assert.equal((await audits('preserve', p)).length, 1);
    const r = await bulk('admin', { ids, action: 'delete' });
    assert.equal(r.done, 2);
    assert.equal(r.failed, 1);
    assert.equal(result(r, p)?.status, 409);
    assert.match(result(r, p)?.error ?? '', /preserved/);
    assert.equal((await detail(p)).state, 'stored');
    for (const id of [d1, d2]) {
      assert.equal((await detail(id)).state, 'purged');
      assert.equal((await audits('delete', id)).length, 1, `one delete entry for ${id}`);
    }
    assert.equal((await audits('delete', p)).length, 0);
    // Deleting again: already deleted.
    const again = await bulk('admin', { ids: [d1], action: 'delete' });
    assert.equal(again.failed, 1);
    assert.match(again.results[0]?.error ?? '', /already deleted/);
  });

  it('refuses deletion to a role permissions.delete does not allow (admin by default)', async () => {
    const ids = [await storeCallTo(h, '2001'), await storeCallTo(h, '2001')];
    for (const as of ['alice', 'sup']) {
      const r = await bulk(as, { ids, action: 'delete' });
      assert.equal(r.done, 0);
      assert.equal(r.failed, 2);
      for (const x of r.results) {
        assert.equal(x.status, 403);
        assert.match(x.error ?? '', /deletion is allowed to: admin/);
      }
    }
    for (const id of ids) {
      assert.equal((await detail(id)).state, 'stored');
      assert.equal((await audits('delete', id)).length, 0);
    }
  });

  it('a supervisor cannot lift an admin’s preservation, but lifts a user’s', async () => {
    const [byAdmin, byUser] = [await storeCallTo(h, '2001'), await storeCallTo(h, '2001')];
    assert.equal((await bulk('admin', { ids: [byAdmin], action: 'preserve' })).done, 1);
    assert.equal((await bulk('alice', { ids: [byUser], action: 'preserve' })).done, 1);
    const r = await bulk('sup', { ids: [byAdmin, byUser], action: 'unpreserve' });
    assert.equal(r.done, 1);
    assert.equal(result(r, byAdmin)?.status, 403);
    assert.match(result(r, byAdmin)?.error ?? '', /higher role/);
    assert.equal((await detail(byAdmin)).preserved?.by, 'admin');
    assert.equal((await detail(byUser)).preserved, null);
    assert.equal((await audits('unpreserve', byUser)).length, 1);
    assert.equal((await audits('unpreserve', byAdmin)).length, 0);
  });

  it('a lower role cannot take over a higher role’s preservation by preserving again, then lift it', async () => {
    const rec = await storeCallTo(h, '2001');
    assert.equal((await bulk('admin', { ids: [rec], action: 'preserve' })).done, 1);
    // The attack, one recording at a time and in bulk: preserve again (as alice, the owner), then lift.
    const again = await h.call('PUT', `/api/v1/recordings/${rec}/preserve`, { as: 'alice' });
    assert.equal(again.status, 409, JSON.stringify(again.json));
    assert.match(String((again.json as { error?: string }).error), /already preserved by admin/);
    const inBulk = await bulk('alice', { ids: [rec], action: 'preserve' });
    assert.equal(result(inBulk, rec)?.status, 409);
    const lift = await h.call('DELETE', `/api/v1/recordings/${rec}/preserve`, { as: 'alice' });
    assert.equal(lift.status, 403);
    assert.equal((await detail(rec)).preserved?.by, 'admin', 'still the admin’s');
    assert.equal((await audits('preserve', rec)).length, 1, 'only the admin’s preservation audited');
  });

  it('answers 400 to bad input', async () => {
    const id = await storeCallTo(h, '2001');
    const bad = async (body: unknown, re: RegExp) => {
      const r = await h.call('POST', '/api/v1/recordings/bulk', { as: 'alice', body });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(String(r.json.error), re);
    };
    await bad({ ids: ['nope'], action: 'preserve' }, /UUID/);
    await bad({ ids: [], action: 'preserve' }, /at least one/);
    await bad({ ids: Array.from({ length: 501 }, () => randomUUID()), action: 'preserve' }, /at most 500/);
    await bad({ ids: [id], action: 'shred' }, /one of add-category/);
    await bad({ ids: [id], action: 'add-category' }, /category is required/);
    await bad({ ids: [id], action: 'remove-category', category: '  ' }, /category/);
    await bad({ action: 'preserve' }, /ids/);
    assert.equal((await detail(id)).preserved, null);
  });
});
