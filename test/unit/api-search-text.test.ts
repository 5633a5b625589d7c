/**
 * The recordings search's free text (`q`), over the real HTTP API and a real embedded Postgres: a
 * number or name of a participant, the words of a note, a custom field value (each as a substring,
 * in any case) or the exact Call-ID finds the recording, within the caller's scope; text with LIKE
 * wildcards is taken literally. The participant filter also takes simple patterns (* and ?, matched
 * whole against a number, AOR or name) and /regular expressions/; a bad one is a 400.
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

  it('matches participants by substring, simple pattern or regular expression', async () => {
    const by = async (participant: string, as = 'admin') => {
      const r = await h.call('GET', `/api/v1/recordings?participant=${encodeURIComponent(participant)}`, {
        as,
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return (r.json.items as { id: string }[]).map((i) => i.id).sort();
    };
    assert.deepEqual(await by('aro'), [ids.r1], 'a substring');
    assert.deepEqual(await by('%'), [], '% is a character in a substring');
    assert.deepEqual(await by('car*'), [ids.r1], 'starts with (the number)');
    assert.deepEqual(await by('ar*'), [], 'a pattern is matched whole');
    assert.deepEqual(await by('*ve'), [ids.r2], 'ends with');
    assert.deepEqual(await by('b?b'), [ids.r2], 'one character');
    assert.deepEqual(await by('*@example.com'), [ids.r1, ids.r2].sort(), 'the AOR');
    assert.deepEqual(await by('Dave Exa*'), [ids.r2], 'the name');
    assert.deepEqual(await by('a%*'), [], '% is a character in a pattern too');
    assert.deepEqual(await by('/^(alice|dave)$/'), [ids.r1, ids.r2].sort(), 'a regular expression');
    assert.deepEqual(await by('/^CAR/'), [ids.r1], 'in any case');
    assert.deepEqual(await by('/^(alice|dave)$/', 'alice'), [ids.r1], 'within the scope');
    const bad = await h.call('GET', `/api/v1/recordings?participant=${encodeURIComponent('/(unclosed/')}`, {
      as: 'admin',
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.json));
    assert.match(bad.json.error, /^participant: not a valid regular expression/);
  });
});
