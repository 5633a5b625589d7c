/**
 * A change of who may listen reaches the live monitor (real HTTP, real Postgres): PUT /settings
 * with a new `permissions.listen` asks the monitor to check its listen-ins again (accessChanged,
 * which app.ts wires to the monitor's refreshFilters; the monitor's side is
 * test/unit/monitor-filter-change.test.ts); the same value again, or another permission, does not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.js';

describe('settings: a listen permission change re-checks live listen-ins', { timeout: 60000 }, () => {
  let h: ApiHarness;
  let asked = 0;
  before(async () => {
    h = await startApiHarness(async () => ({ accessChanged: () => void asked++ }));
    await h.login('admin', 'first-admin-pw');
  });
  after(async () => {
    await h?.close();
  });

  it('asks once per change of permissions.listen, not for others', async () => {
    const put = (body: Record<string, string>) => h.call('PUT', '/api/v1/settings', { as: 'admin', body });
    assert.equal((await put({ 'permissions.listen': 'admin' })).status, 200);
    assert.equal(asked, 1);
    assert.equal((await put({ 'permissions.listen': 'admin' })).status, 200);
    assert.equal(asked, 1, 'the same value: nothing changed');
    assert.equal((await put({ 'permissions.download': 'admin' })).status, 200);
    assert.equal(asked, 1, 'another permission');
    assert.equal((await put({ 'permissions.listen': 'supervisor' })).status, 200);
    assert.equal(asked, 2);
  });
});
