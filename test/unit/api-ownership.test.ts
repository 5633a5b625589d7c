/**
 * Who a recording belongs to is fixed at the call (recording_owners), over the real HTTP API and a
 * real embedded Postgres. Each case was an attack or a loss before: a number given to a new user
 * brought them its old holder's recordings; a deleted user's recordings vanished from their group's
 * supervisors; a user moving group took their past calls to the new group's supervisor. A number
 * nobody held at the call goes to the first user given it (users created after recording began).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { recordingsOf } from '../../src/store/deliveries/common.js';
import { addApiUser, startApiHarness, storeCallTo, type ApiHarness } from '../helpers/api-harness.js';

describe('recording ownership at the call (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  const userIds = new Map<string, string>();

  const addUser = async (username: string, body: Record<string, unknown>) =>
    userIds.set(username, await addApiUser(h, username, body));
  const patchUser = async (username: string, body: Record<string, unknown>) => {
    const r = await h.call('PATCH', `/api/v1/users/${userIds.get(username)}`, { as: 'admin', body });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };
  const deleteUser = async (username: string) => {
    const r = await h.call('DELETE', `/api/v1/users/${userIds.get(username)}`, { as: 'admin' });
    assert.ok(r.status === 200 || r.status === 204, `delete ${username}: ${r.status}`);
  };
  const record = (number: string) => storeCallTo(h, number);
  const visible = async (as: string) => {
    const r = await h.call('GET', '/api/v1/recordings?limit=100', { as });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return new Set((r.json as { items: { id: string }[] }).items.map((x) => x.id));
  };

  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addUser('alice', { role: 'user', group: 'sales', numbers: ['1001'] });
    await addUser('mover', { role: 'user', group: 'sales', numbers: ['1002'] });
    await addUser('sup-sales', { role: 'supervisor', group: 'sales' });
    await addUser('sup-support', { role: 'supervisor', group: 'support' });
  });

  after(async () => {
    await h?.close();
  });

  it('a number given to another user does not bring them its old holder’s recordings', async () => {
    const r1 = await record('1001');
    assert.ok((await visible('alice')).has(r1));
    // Alice takes another extension; her old one goes to a newcomer.
    await patchUser('alice', { numbers: ['1011'] });
    await addUser('mallory', { role: 'user', group: 'support', numbers: ['1001'] });
    assert.ok(!(await visible('mallory')).has(r1), 'the list');
    for (const path of [`/api/v1/recordings/${r1}`, `/api/v1/recordings/${r1}/audio`]) {
      const r = await h.call('GET', path, { as: 'mallory' });
      assert.equal(r.status, 404, `${path}: ${r.status}`);
    }
    assert.ok((await visible('alice')).has(r1), 'still alice’s after her number changed');
    // Calls on the number from now on are the newcomer's.
    const r2 = await record('1001');
    assert.ok((await visible('mallory')).has(r2));
    assert.ok(!(await visible('alice')).has(r2));
    // Reports count the call under the user who took it.
    const rep = await h.call('GET', '/api/v1/reports?by=user', { as: 'admin' });
    const rows = (rep.json as { rows: { key: string | null; calls: number }[] }).rows;
    assert.ok(rows.some((x) => x.key === 'alice' && x.calls >= 1));
    assert.ok(rows.some((x) => x.key === 'mallory' && x.calls === 1));
    // Deliveries too: the offload/export user columns and the email notifications.
    const [v1, v2] = await recordingsOf()(h.db.pool, [r1, r2]).then((v) =>
      [r1, r2].map((id) => v.find((x) => x.id === id)),
    );
    assert.equal(v1?.user?.username, 'alice');
    assert.equal(v2?.user?.username, 'mallory');
    assert.ok(await h.db.offload.subscribe('alice', 'alice@example.com', false, true));
    assert.ok(await h.db.offload.subscribe('mallory', 'mallory@example.com', false, true));
    // (markStored alone leaves stored_at unset; the pipeline's store sets it.)
    await h.db.pool.query('UPDATE recordings SET stored_at = now() WHERE id = ANY($1::uuid[])', [[r1, r2]]);
    const due = await h.db.offload.notificationsDue(new Date(0), 50);
    const to = (id: string) => due.filter((n) => n.recordingId === id).map((n) => n.email);
    assert.deepEqual(to(r1), ['alice@example.com']);
    assert.deepEqual(to(r2), ['mallory@example.com']);
  });

  it('a deleted user’s recordings stay with their group’s supervisor and with admins', async () => {
    await addUser('leaver', { role: 'user', group: 'sales', numbers: ['1004'] });
    const r = await record('1004');
    assert.ok((await visible('sup-sales')).has(r));
    await deleteUser('leaver');
    assert.ok((await visible('sup-sales')).has(r), 'the supervisor keeps it');
    assert.ok((await visible('admin')).has(r));
    const owned = await h.call('GET', '/api/v1/recordings?owner=leaver', { as: 'admin' });
    assert.deepEqual(
      (owned.json as { items: { id: string }[] }).items.map((x) => x.id),
      [r],
      'found by its owner’s name',
    );
    const unowned = await h.call('GET', '/api/v1/recordings?owner=none', { as: 'admin' });
    assert.ok(!(unowned.json as { items: { id: string }[] }).items.some((x) => x.id === r));
  });

  it('a user moving group leaves their past calls with the old group', async () => {
    const before = await record('1002');
    await patchUser('mover', { group: 'support' });
    const after = await record('1002');
    const sales = await visible('sup-sales');
    const support = await visible('sup-support');
    assert.ok(sales.has(before) && !sales.has(after), 'sales: the call made in sales only');
    assert.ok(support.has(after) && !support.has(before), 'support: the call made in support only');
    const mine = await visible('mover');
    assert.ok(mine.has(before) && mine.has(after), 'the user keeps both');
    const detail = await h.call('GET', `/api/v1/recordings/${before}`, { as: 'admin' });
    assert.deepEqual((detail.json as { groups: string[] }).groups, ['sales']);
  });

  it('a number nobody held at the call goes to the first user given it, and stays theirs', async () => {
    const early = await record('1003');
    const unowned = await h.call('GET', '/api/v1/recordings?owner=none', { as: 'admin' });
    assert.ok((unowned.json as { items: { id: string }[] }).items.some((x) => x.id === early));
    await addUser('late', { role: 'user', group: 'sales', numbers: ['1003'] });
    assert.ok((await visible('late')).has(early), 'claimed by the user created after the call');
    await deleteUser('late');
    await addUser('next', { role: 'user', group: 'support', numbers: ['1003'] });
    assert.ok(!(await visible('next')).has(early), 'not passed on to the next holder');
    assert.ok((await visible('sup-sales')).has(early), 'the claimer’s group keeps it');
  });
});
