/**
 * Custom fields over the real HTTP API and a real embedded Postgres: admins define text, date and
 * option fields and set their values on recordings (checked against the definition, all or
 * nothing); everyone who sees a recording sees its values in the list and the details and can
 * search on them, within their own scope; removing an option still in use is refused; removing a
 * field removes its values; every change is in the audit trail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, parseCsv, startApiWorld } from '../helpers/api-harness.js';

describe('custom fields (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string };
  const call: ApiHarness['call'] = (...a) => h.call(...a);
  const found = async (as: string, query: string) => {
    const r = await call('GET', `/api/v1/recordings?${query}`, { as });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.items.map((i: { id: string }) => i.id) as string[];
  };

  before(async () => {
    ({ h, ids } = await startApiWorld());
  });

  after(async () => {
    await h?.close();
  });

  it('lets admins define fields, and refuses bad definitions with the reason', async () => {
    const define = (body: unknown, as = 'admin') => call('POST', '/api/v1/custom-fields', { as, body });
    const order = await define({ name: 'order_no', label: 'Order #', type: 'text' });
    assert.equal(order.status, 201, JSON.stringify(order.json));
    assert.deepEqual(
      { name: order.json.name, label: order.json.label, type: order.json.type, options: order.json.options },
      { name: 'order_no', label: 'Order #', type: 'text', options: [] },
    );
    assert.equal(
      (
        await define({
          name: 'campaign',
          label: 'Campaign',
          type: 'option',
          options: ['Campaign A', 'Campaign B'],
        })
      ).status,
      201,
    );
    assert.equal((await define({ name: 'follow_up', label: 'Follow-up', type: 'date' })).status, 201);

    const refused: [unknown, number, RegExp][] = [
      [{ name: 'order_no', label: 'Again', type: 'text' }, 409, /a custom field named order_no exists/],
      [{ name: 'Order', label: 'x', type: 'text' }, 400, /^name: a lower-case letter/],
      [{ name: 'x', label: 'x', type: 'option' }, 400, /options: an option field needs its options/],
      [{ name: 'x', label: 'x', type: 'text', options: ['a'] }, 400, /only an option field has options/],
      [{ name: 'x', label: 'x', type: 'option', options: ['a', 'a'] }, 400, /options must be distinct/],
      [{ name: 'x', label: 'x', type: 'number' }, 400, /^type: one of text, date, option/],
      [{ name: 'x', label: '  ', type: 'text' }, 400, /^label:/],
    ];
    for (const [body, status, message] of refused) {
      const r = await define(body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(r.json.error, message);
    }
    assert.equal((await define({ name: 'y', label: 'y', type: 'text' }, 'sup')).status, 403);

    // Everyone who may search sees the definitions, in the order they were made.
    const list = await call('GET', '/api/v1/custom-fields', { as: 'alice' });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.items.map((f: { name: string }) => f.name),
      ['order_no', 'campaign', 'follow_up'],
    );
  });

  it('sets values (admins only), checked against the field, all or nothing', async () => {
    const put = (fields: unknown, as = 'admin', id = ids.r1) =>
      call('PUT', `/api/v1/recordings/${id}/fields`, { as, body: { fields } });
    const ok = await put({ order_no: ' 10001 ', campaign: 'Campaign B', follow_up: '2026-03-05' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.json.fields, { order_no: '10001', campaign: 'Campaign B', follow_up: '2026-03-05' });

    const bad: [unknown, RegExp][] = [
      [{ order_no: '20002', follow_up: '2026-02-30' }, /follow_up: "2026-02-30" is not a date/],
      [
        { order_no: '20002', campaign: 'Campaign C' },
        /campaign: "Campaign C" is not one of Campaign A, Campaign B/,
      ],
      [{ order_no: '20002', ticket: '1' }, /no custom field named ticket/],
      [{ order_no: 'x'.repeat(1001) }, /order_no: longer than 1000 characters/],
    ];
    for (const [fields, message] of bad) {
      const r = await put(fields);
      assert.equal(r.status, 400, JSON.stringify(fields));
      assert.match(r.json.error, message);
    }
    const detail = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'admin' });
    assert.equal(detail.json.fields.order_no, '10001', 'a refused change wrote nothing');
    // Saving the same values again changes nothing (and is not audited: see the last test).
    const same = await put({ order_no: '10001', campaign: 'Campaign B', follow_up: '2026-03-05' });
    assert.deepEqual(same.json.fields, ok.json.fields);

    assert.equal((await put({ order_no: '1' }, 'sup')).status, 403);
    assert.equal((await put({ order_no: '1' }, 'alice')).status, 403);
    const missing = await put({ order_no: '1' }, 'admin', '00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal((await put({ order_no: 'B-7' }, 'admin', ids.r2)).status, 200);
  });

  it('shows values in the list and the details and searches on them, within each user’s scope', async () => {
    const items = (await call('GET', '/api/v1/recordings', { as: 'admin' })).json.items as {
      id: string;
      fields: Record<string, string>;
    }[];
    assert.deepEqual(items.find((i) => i.id === ids.r1)?.fields, {
      order_no: '10001',
      campaign: 'Campaign B',
      follow_up: '2026-03-05',
    });
    assert.deepEqual(items.find((i) => i.id === ids.r2)?.fields, { order_no: 'B-7' });
    // Text: a case-insensitive substring; option and date: the exact value.
    assert.deepEqual(await found('admin', 'field=order_no:000'), [ids.r1]);
    assert.deepEqual(await found('admin', 'field=order_no:b-'), [ids.r2]);
    assert.deepEqual(await found('admin', `field=${encodeURIComponent('campaign:Campaign B')}`), [ids.r1]);
    assert.deepEqual(await found('admin', `field=${encodeURIComponent('campaign:campaign b')}`), []);
    assert.deepEqual(await found('admin', 'field=follow_up:2026-03-05'), [ids.r1]);
    assert.deepEqual(await found('admin', 'field=follow_up:2026-03'), []);
    // Scope: alice (a participant of r1) finds r1 and sees its values; bob never sees r1.
    assert.deepEqual(await found('alice', 'field=order_no:1'), [ids.r1]);
    assert.deepEqual(await found('bob', 'field=order_no:1'), []);
    const asAlice = await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'alice' });
    assert.equal(asAlice.json.fields.campaign, 'Campaign B');
    // The CSV export: a column per field, after the catalogue's, filtered like the search.
    const csv = await call('GET', '/api/v1/recordings/export?format=csv&field=order_no:1', { as: 'admin' });
    assert.equal(csv.status, 200);
    const rows = parseCsv(csv.buf.toString('utf8').replace(/^\uFEFF/, ''));
    assert.deepEqual(rows[0]?.slice(-4), [
      'preserved',
      'field:order_no',
      'field:campaign',
      'field:follow_up',
    ]);
    assert.equal(rows.length, 2, 'the header and r1');
    assert.deepEqual(rows[1]?.slice(-3), ['10001', 'Campaign B', '2026-03-05']);
    for (const q of ['field=order_no', 'field=:1', 'field=Order:1', 'field=order_no:'])
      assert.equal((await call('GET', `/api/v1/recordings?${q}`, { as: 'admin' })).status, 400, q);
  });

  it('refuses to remove an option in use; removing a field removes its values; all audited', async () => {
    const patch = (name: string, body: unknown) =>
      call('PATCH', `/api/v1/custom-fields/${name}`, { as: 'admin', body });
    const inUse = await patch('campaign', { options: ['Campaign A'] });
    assert.equal(inUse.status, 409);
    assert.match(inUse.json.error, /"Campaign B" \(set on 1 recordings\)/);
    const changed = await patch('campaign', {
      label: 'Campaign name',
      options: ['Campaign B', 'Campaign C'],
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    assert.deepEqual(changed.json.options, ['Campaign B', 'Campaign C']);
    assert.equal((await patch('order_no', { options: ['a'] })).status, 400);
    assert.equal((await patch('ticket', { label: 'x' })).status, 404);

    // Clearing a value.
    const cleared = await call('PUT', `/api/v1/recordings/${ids.r1}/fields`, {
      as: 'admin',
      body: { fields: { follow_up: null, order_no: '' } },
    });
    assert.deepEqual(cleared.json.fields, { campaign: 'Campaign B' });

    const del = await call('DELETE', '/api/v1/custom-fields/campaign', { as: 'admin' });
    assert.deepEqual(del.json, { deleted: 'campaign', values: 1 });
    assert.deepEqual((await call('GET', `/api/v1/recordings/${ids.r1}`, { as: 'admin' })).json.fields, {});
    assert.equal((await call('DELETE', '/api/v1/custom-fields/campaign', { as: 'admin' })).status, 404);
    assert.equal(
      (
        await call('GET', `/api/v1/recordings?field=${encodeURIComponent('campaign:Campaign B')}`, {
          as: 'admin',
        })
      ).json.total,
      0,
    );

    const audit = (await call('GET', '/api/v1/audit?limit=200', { as: 'admin' })).json.items as {
      action: string;
      resourceId: string;
      details: Record<string, unknown>;
    }[];
    const of = (action: string) => audit.filter((e) => e.action === action);
    assert.deepEqual(
      of('custom-field.create')
        .map((e) => e.resourceId)
        .sort(),
      ['campaign', 'follow_up', 'order_no'],
    );
    assert.deepEqual(of('custom-field.update')[0]?.details.before, {
      label: 'Campaign',
      options: ['Campaign A', 'Campaign B'],
    });
    assert.equal(of('custom-field.delete')[0]?.details.values, 1);
    const updates = of('fields.update').filter((e) => e.resourceId === ids.r1);
    assert.equal(
      updates.length,
      2,
      'the two changes of r1, not the refused ones nor the save that changed nothing (newest first)',
    );
    assert.deepEqual(updates[0]?.details.after, { campaign: 'Campaign B' });
  });
});
