/**
 * Pinned notes over the real HTTP API and a real embedded Postgres: anyone who may see a recording
 * pins its notes above the others (in the order pinned, the rest oldest first); a pin a higher role
 * put up is not taken down by a lower one; each change is audited, asking for what already is is
 * not; notes of other recordings and recordings out of reach are 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, startApiWorld } from '../helpers/api-harness.js';

describe('pinned notes (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string };

  before(async () => {
    ({ h, ids } = await startApiWorld());
  });

  after(async () => {
    await h?.close();
  });

  it('pins above the others, keeps a higher role’s pin, audits changes only', async () => {
    const base = `/api/v1/recordings/${ids.r1}/notes`;
    const add = async (as: string, body: string) => {
      const r = await h.call('POST', base, { as, body: { body } });
      assert.equal(r.status, 201);
      return r.json.id as string;
    };
    const a = await add('alice', 'A: customer asked for a refund');
    const b = await add('alice', 'B: order number 4711');
    const c = await add('sup', 'C: coaching point');
    const order = async () =>
      ((await h.call('GET', base, { as: 'alice' })).json.items as { body: string; pinned: unknown }[]).map(
        (n) => `${n.body[0]}${n.pinned ? '*' : ''}`,
      );
    assert.deepEqual(await order(), ['A', 'B', 'C'], 'oldest first');

    const pinB = await h.call('PUT', `${base}/${b}/pin`, { as: 'alice' });
    assert.equal(pinB.status, 200, JSON.stringify(pinB.json));
    assert.equal(pinB.json.pinned.by, 'alice');
    assert.deepEqual(await order(), ['B*', 'A', 'C']);
    assert.equal((await h.call('PUT', `${base}/${c}/pin`, { as: 'sup' })).status, 200);
    assert.deepEqual(await order(), ['B*', 'C*', 'A'], 'pinned in the order pinned, then the rest');
    // The details carry the same order.
    const detail = await h.call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'alice' });
    assert.deepEqual(
      detail.json.notes.map((n: { id: string }) => n.id),
      [b, c, a],
    );

    // A user may not take down a supervisor's pin; the supervisor may take down the user's.
    const refused = await h.call('DELETE', `${base}/${c}/pin`, { as: 'alice' });
    assert.equal(refused.status, 403);
    assert.match(refused.json.error, /pinned by sup, a higher role/);
    assert.equal((await h.call('DELETE', `${base}/${b}/pin`, { as: 'sup' })).status, 200);
    assert.deepEqual(await order(), ['C*', 'A', 'B']);

    // Asking for what already is changes nothing and writes no audit entry.
    assert.equal((await h.call('PUT', `${base}/${c}/pin`, { as: 'sup' })).status, 200);
    assert.equal((await h.call('DELETE', `${base}/${a}/pin`, { as: 'alice' })).status, 200);
    const audit = await h.call('GET', `/api/v1/audit?resourceId=${ids.r1}`, { as: 'admin' });
    const pins = (audit.json.items as { action: string; actor: string; details: { noteId: string } }[])
      .filter((e) => e.action.startsWith('note.') && e.action !== 'note.add')
      .map((e) => `${e.action}:${e.actor}:${[a, b, c].indexOf(e.details.noteId)}`)
      .reverse();
    assert.deepEqual(pins, ['note.pin:alice:1', 'note.pin:sup:2', 'note.unpin:sup:1']);

    // Another recording's note, an unknown note, a recording out of reach.
    assert.equal(
      (await h.call('PUT', `/api/v1/recordings/${ids.r2}/notes/${a}/pin`, { as: 'admin' })).status,
      404,
    );
    assert.equal((await h.call('PUT', `${base}/not-a-note/pin`, { as: 'alice' })).status, 404);
    assert.equal((await h.call('PUT', `${base}/${a}/pin`, { as: 'bob' })).status, 404);
  });
});
