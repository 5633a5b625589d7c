/**
 * A recording's direction (recordings.direction), on a real embedded Postgres: when the SIP front
 * end has none to give (no internal numbers configured), the store takes it from who owned the
 * call (recording_owners): a user's number calling is outbound, called inbound, both internal,
 * neither unknown; a direction the front end gave is kept. The policy's side (callDirection) is
 * checked here too; test/e2e/sipp-policy.test.ts checks it end to end over SIP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callDirection } from '../../src/sip/app/policy.js';
import type { NewRecording } from '../../src/store/types.js';
import { endedCall, startApiHarness, type ApiHarness } from '../helpers/api-harness.js';

describe('call direction (real Postgres)', { timeout: 60000 }, () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    for (const [username, numbers] of [
      ['alice', ['1001']],
      ['bob', ['1002']],
    ] as const) {
      const r = await h.call('POST', '/api/v1/users', {
        as: 'admin',
        body: { username, password: `${username}-password`, role: 'user', numbers },
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
  });
  after(async () => {
    await h?.close();
  });

  /** A call from `caller` to `callee`, stored through the pipeline's store function. */
  const stored = async (caller: string, callee: string, direction?: NewRecording['direction']) => {
    const id = await endedCall(h, { caller, callee, ...(direction !== undefined ? { direction } : {}) });
    assert.equal(await h.db.chain.markStoredChained(id, []), true);
    return (await h.db.recordings.get(id))?.direction;
  };

  it('takes the direction from the owners at the call when the front end gave none', async () => {
    assert.equal(await stored('1001', '+15550100'), 'outbound');
    assert.equal(await stored('+15550100', '1002'), 'inbound');
    assert.equal(await stored('1001', '1002'), 'internal');
    assert.equal(await stored('+15550100', '+15550199'), 'unknown');
  });

  it("keeps the front end's direction", async () => {
    assert.equal(await stored('1001', '+15550100', 'inbound'), 'inbound');
    assert.equal(await stored('+15550100', '+15550199', 'outbound'), 'outbound');
  });

  it("the policy's direction: only with internal numbers configured", () => {
    const internal = { internalNumbers: ['1XXX'] };
    assert.equal(callDirection({ direction: 'outbound', scope: 'external' }, internal), 'outbound');
    assert.equal(callDirection({ direction: 'inbound', scope: 'external' }, internal), 'inbound');
    assert.equal(callDirection({ direction: 'outbound', scope: 'internal' }, internal), 'internal');
    assert.equal(callDirection({ direction: 'unknown', scope: 'unknown' }, internal), null);
    assert.equal(callDirection({ direction: 'inbound', scope: 'external' }, { internalNumbers: [] }), null);
  });
});
