/**
 * The retention policy changed while the server runs (GET|PUT|DELETE /api/v1/retention-policy),
 * over the real HTTP API and a real embedded Postgres: a bad policy is a 400 naming the field; a
 * change that would purge recordings the policy in force keeps is refused (409, with how many)
 * until `confirmPurge` repeats that number, and nothing is saved meanwhile; groups keep the longest
 * policy, preserved recordings are never counted; the purge pass then removes exactly what the
 * confirmation said; each change is audited with the old and new policy and what it purges;
 * dropping the saved policy brings the configured one back; admins only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRetentionPolicy } from '../../src/app/retention.js';
import { createLogger } from '../../src/log.js';
import { purgeOnce, type RetentionPolicy } from '../../src/pipeline/index.js';
import type { LiveSetting } from '../../src/store/live-setting.js';
import { addApiUser, startApiHarness, storeCallTo, type ApiHarness } from '../helpers/api-harness.js';

const log = createLogger('silent');
const DAY = 86_400_000;

interface View {
  policy: { default: string; groups: Record<string, string> };
  saved: boolean;
  defaults: { default: string; groups: Record<string, string> };
  intervalSeconds: number;
}

describe('retention policy edited at run time (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let live: LiveSetting<RetentionPolicy>;
  const rec: Record<string, string> = {};
  const put = (body: unknown) => h.call('PUT', '/api/v1/retention-policy', { as: 'admin', body });
  const view = async (): Promise<View> => {
    const r = await h.call('GET', '/api/v1/retention-policy', { as: 'admin' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as unknown as View;
  };
  const audited = async (action: string) => {
    const r = await h.call('GET', `/api/v1/audit?action=${action}`, { as: 'admin' });
    return (r.json as { items: { actor: string; details: Record<string, unknown> }[] }).items;
  };
  const state = async (id: string) => (await h.db.recordings.get(id))?.state;

  before(async () => {
    h = await startApiHarness(async (db) => {
      const r = await startRetentionPolicy({ default: 'keep', groups: {}, intervalSeconds: 300 }, db, log);
      live = r.live;
      return { retention: r.port };
    });
    await h.login('admin', 'first-admin-pw');
    await addApiUser(h, 'alice', { role: 'user', group: 'sales', numbers: ['1001'] });
    await addApiUser(h, 'bob', { role: 'user', group: 'vip', numbers: ['1002'] });
    await h.login('alice', 'alice-password');
    const ago = (days: number) => ({ startedAt: new Date(Date.now() - days * DAY) });
    rec.old = await storeCallTo(h, '1001', ago(40));
    rec.young = await storeCallTo(h, '1001', ago(10));
    rec.vip = await storeCallTo(h, '1002', ago(40));
    rec.nobody = await storeCallTo(h, '2999', ago(40));
    rec.preserved = await storeCallTo(h, '2999', ago(40));
    await h.db.pool.query('UPDATE recordings SET preserved_at = now() WHERE id = $1', [rec.preserved]);
  });
  after(async () => {
    live?.close();
    await h?.close();
  });

  it('answers the configured policy while none is saved; admins only', async () => {
    const v = await view();
    assert.deepEqual(v.policy, { default: 'keep', groups: {} });
    assert.equal(v.saved, false);
    assert.equal(v.intervalSeconds, 300);
    const denied = await h.call('GET', '/api/v1/retention-policy', { as: 'alice' });
    assert.equal(denied.status, 403);
    assert.equal((await h.call('PUT', '/api/v1/retention-policy', { as: 'alice', body: {} })).status, 403);
  });

  it('refuses a bad policy, naming the field', async () => {
    const expected = 'use keep, <N>d (N up to 36500) or <N>h (N up to 876000)';
    const bad = await put({ default: 'forever' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, `default: bad retention policy "forever": ${expected}`);
    const zero = await put({ groups: { vip: '0d' } });
    assert.equal(zero.status, 400);
    assert.equal(zero.json.error, `groups.vip: bad retention policy "0d": ${expected}`);
    // The configuration's bound (100 years) too.
    assert.equal((await put({ default: '36501d' })).status, 400);
    assert.equal((await view()).saved, false);
  });

  it('refuses a change that purges until its number is confirmed; then the pass purges just those', async () => {
    const change = { default: '30d', groups: { vip: 'keep' } };
    const first = await put(change);
    assert.equal(first.status, 409, JSON.stringify(first.json));
    // 40 days old, in no kept group, not preserved: the sales call and the unowned one.
    assert.equal(first.json.wouldPurge, 2);
    assert.match(String(first.json.error), /purges 2 stored recordings.*confirmPurge: 2/);
    assert.equal(
      (await put({ ...change, confirmPurge: 1 })).status,
      409,
      'a wrong number is no confirmation',
    );
    assert.equal((await view()).saved, false, 'nothing saved while unconfirmed');

    const ok = await put({ ...change, confirmPurge: 2 });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const v = ok.json as unknown as View;
    assert.deepEqual(v.policy, change);
    assert.equal(v.saved, true);
    const [entry] = await audited('retention-policy.update');
    assert.equal(entry?.actor, 'admin');
    assert.deepEqual(entry?.details.from, { default: 'keep', groups: {} });
    assert.deepEqual(entry?.details.to, change);
    assert.equal(entry?.details.purges, 2);

    // The next pass (as a node's maintenance runs it, with the policy in force) purges those two.
    const r = await purgeOnce({ retention: h.db.retention, policy: live.value, dataDir: h.dataDir, log });
    assert.deepEqual(r.purged.sort(), [rec.old, rec.nobody].sort());
    assert.equal(await state(rec.young as string), 'stored');
    assert.equal(await state(rec.vip as string), 'stored');
    assert.equal(await state(rec.preserved as string), 'stored');
  });

  it('a longer policy needs no confirmation; DELETE brings the configured one back', async () => {
    const longer = await put({ default: '60d' });
    assert.equal(longer.status, 200, JSON.stringify(longer.json));
    assert.deepEqual((longer.json as unknown as View).policy, { default: '60d', groups: { vip: 'keep' } });
    const d = await h.call('DELETE', '/api/v1/retention-policy', { as: 'admin' });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.deepEqual((d.json as unknown as View).policy, { default: 'keep', groups: {} });
    assert.equal((d.json as unknown as View).saved, false);
    const [reset] = await audited('retention-policy.reset');
    assert.deepEqual(reset?.details.to, { default: 'keep', groups: {} });
    assert.equal(reset?.details.purges, 0);
    // With the configured `keep` again, an hour would now purge the 10- and 40-day-old calls left.
    const hour = await put({ default: '1h' });
    assert.equal(hour.status, 409);
    assert.equal(hour.json.wouldPurge, 2);
  });
});
