/**
 * The recordings search's free text (`q`), over the real HTTP API and a real embedded Postgres: a
 * number or name of a participant, the words of a note, a custom field value (each as a substring,
 * in any case) or the exact Call-ID finds the recording, within the caller's scope; text with LIKE
 * wildcards is taken literally.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, startApiWorld } from '../helpers/api-harness.js';

describe('recordings search: free text (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string };
  const found = async (q: string, as = 'admin') => {
    const r = await h.call('GET', `/api/v1/recordings?q=${encodeURIComponent(q)}`, { as });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json.items as { id: string }[]).map((i) => i.id).sort();
  };

  before(async () => {
    ({ h, ids } = await startApiWorld());
    // r1 alice<->carol, r2 bob<->dave. A note on r2, a custom field value on r1.
    const note = await h.call('POST', `/api/v1/recordings/${ids.r2}/notes`, {
      as: 'admin',
      body: { body: 'Customer asked for a REFUND of 100%' },
    });
    assert.equal(note.status, 201);
    await h.call('POST', '/api/v1/custom-fields', {
      as: 'admin',
      body: { name: 'order_no', label: 'Order #', type: 'text' },
    });
    const set = await h.call('PUT', `/api/v1/recordings/${ids.r1}/fields`, {
      as: 'admin',
      body: { fields: { order_no: 'ORD-4711' } },
    });
    assert.equal(set.status, 200);
  });

  after(async () => {
    await h?.close();
  });

  it('finds participants, notes, custom field values and the Call-ID', async () => {
    assert.deepEqual(await found('CAROL'), [ids.r1], 'a participant name, any case');
    assert.deepEqual(await found('dave@example'), [ids.r2], 'a participant AOR');
    assert.deepEqual(await found('refund'), [ids.r2], 'a note');
    assert.deepEqual(await found('ord-47'), [ids.r1], 'a custom field value');
    assert.deepEqual(await found('call-bob@pbx'), [ids.r2], 'the Call-ID');
    assert.deepEqual(await found('call-bob'), [], 'the Call-ID only whole');
    assert.deepEqual(await found('example.com'), [ids.r1, ids.r2].sort());
    assert.deepEqual(await found('100%'), [ids.r2], '% is a character, not a wildcard');
    assert.deepEqual(await found('_'), [], '_ is a character, not a wildcard');
    assert.deepEqual(await found('nobody-here'), []);
  });

  it('stays within the caller’s scope', async () => {
    assert.deepEqual(await found('refund', 'alice'), [], 'alice does not see r2');
    assert.deepEqual(await found('refund', 'bob'), [ids.r2]);
    assert.deepEqual(await found('example.com', 'alice'), [ids.r1]);
  });
});
