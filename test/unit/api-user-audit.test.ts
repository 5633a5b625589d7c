/**
 * A user's change in the audit trail says what changed, from what to what (over the real HTTP API
 * and a real embedded Postgres): each field that changed with its old and new value, a field sent
 * unchanged left out, the password only as "set", never a hash; and the console's sentence for it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditSentence } from '../../web/src/audit-text.js';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.js';

interface Entry {
  action: string;
  actor: string;
  resourceId: string;
  details: Record<string, unknown>;
}

describe('user changes in the audit trail (real HTTP, real Postgres)', { timeout: 60000 }, () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
  });
  after(async () => {
    await h?.close();
  });

  it('records each changed field with its old and new value, and the password only as set', async () => {
    const created = await h.call('POST', '/api/v1/users', {
      as: 'admin',
      body: {
        username: 'bob',
        password: 'bob-password',
        role: 'user',
        numbers: ['1001'],
        displayName: 'Bob',
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const id = (created.json as { id: string }).id;
    const patch = await h.call('PATCH', `/api/v1/users/${id}`, {
      as: 'admin',
      body: {
        role: 'supervisor',
        numbers: ['1001', '1002'],
        group: 'sales',
        displayName: 'Bob',
        password: 'another-password',
      },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.json));

    const r = await h.call('GET', '/api/v1/audit?action=user.update', { as: 'admin' });
    assert.equal(r.status, 200);
    const entries = (r.json as { items: Entry[] }).items.filter((e) => e.resourceId === id);
    assert.equal(entries.length, 1);
    const e = entries[0] as Entry;
    assert.deepEqual(e.details.changes, {
      role: { from: 'user', to: 'supervisor' },
      numbers: { from: ['1001'], to: ['1001', '1002'] },
      group: { from: null, to: 'sales' },
      password: 'set',
    });
    assert.doesNotMatch(JSON.stringify(e), /scrypt|another-password|bob-password/, 'no secret in the trail');

    const sentence = auditSentence(e as unknown as Parameters<typeof auditSentence>[0]);
    assert.match(
      sentence,
      /changed user bob: role: user → supervisor; group: - → sales; numbers: 1001 → 1001, 1002; password set/,
    );
  });
});
