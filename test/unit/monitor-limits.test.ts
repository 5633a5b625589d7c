/**
 * The live monitor's per-socket gate and per-credential socket counts (src/monitor/limits.ts), on
 * a clock the test moves: the burst, the refill, busy while an operation lasts, the close after
 * sustained refusals, and slots given back exactly once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ABUSE_REFUSALS,
  ABUSE_WINDOW_MS,
  OPERATION_BURST,
  OPERATION_REFILL_MS,
  OperationGate,
  SocketCounts,
} from '../../src/monitor/limits.js';
import { ADMIN_TOKEN_PRINCIPAL, type Principal } from '../../src/store/users.js';

describe('monitor limits', () => {
  it('admits a burst, then one operation per refill interval', () => {
    let now = 1_000_000;
    const gate = new OperationGate(() => now);
    for (let i = 0; i < OPERATION_BURST; i++) assert.equal(gate.admit(), null, `operation ${i + 1}`);
    assert.equal(gate.admit()?.status, 429);
    now += OPERATION_REFILL_MS - 1;
    assert.equal(gate.admit()?.status, 429, 'not refilled yet');
    now += 1;
    assert.equal(gate.admit(), null, 'one refilled');
    assert.equal(gate.admit()?.status, 429);
    now += 100 * OPERATION_REFILL_MS;
    for (let i = 0; i < OPERATION_BURST; i++)
      assert.equal(gate.admit(), null, 'the bucket holds a burst, no more');
    assert.equal(gate.admit()?.status, 429);
  });

  it('answers busy while an admitted operation lasts', async () => {
    const gate = new OperationGate();
    assert.equal(gate.admit(), null);
    let finish = () => undefined as void;
    const running = gate.run(() => new Promise<void>((r) => (finish = r)));
    const busy = gate.admit();
    assert.equal(busy?.status, 409);
    assert.match(busy?.error ?? '', /busy/);
    finish();
    await running;
    assert.equal(gate.admit(), null, 'free once it settled');
    await gate.run(() => Promise.reject(new Error('x'))).catch(() => undefined);
    assert.equal(gate.admit(), null, 'free after a failure too');
  });

  it('says close after sustained refusals within the window, not spread over windows', () => {
    let now = 0;
    const gate = new OperationGate(() => now);
    for (let i = 0; i < OPERATION_BURST; i++) gate.admit();
    for (let i = 1; i < ABUSE_REFUSALS; i++) assert.equal(gate.admit()?.close, false, `refusal ${i}`);
    assert.equal(gate.admit()?.close, true);
    const slow = new OperationGate(() => now);
    for (let i = 0; i < OPERATION_BURST; i++) slow.admit();
    for (let i = 0; i < 3 * ABUSE_REFUSALS; i++) {
      now += Math.ceil((2 * ABUSE_WINDOW_MS) / ABUSE_REFUSALS);
      assert.notEqual(slow.admit()?.close, true, `at ${now} ms: refusals spread over windows`);
    }
  });

  it('counts sockets per user, else per credential, and gives a slot back once', () => {
    const counts = new SocketCounts(2);
    const user = (sessionId: string): Principal => ({
      userId: 'u1',
      username: 'alice',
      role: 'user',
      groups: [],
      numbers: [],
      via: 'session',
      sessionId,
    });
    assert.equal(SocketCounts.keyOf(user('s1')), SocketCounts.keyOf(user('s2')), 'sessions of one user');
    assert.equal(SocketCounts.keyOf(ADMIN_TOKEN_PRINCIPAL), 'credential:admin-token');
    const a = counts.take('k');
    const b = counts.take('k');
    assert.ok(a && b);
    assert.equal(counts.take('k'), null);
    assert.ok(counts.take('other'));
    a();
    a();
    const c = counts.take('k');
    assert.ok(c, 'a slot back');
    assert.equal(counts.take('k'), null, 'only one: giving back twice counts once');
  });
});
