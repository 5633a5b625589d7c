/**
 * When the console's live view tries its monitor socket again (web/src/views/reconnect.ts): never
 * after an authentication close, backed off from 5 s after 4429 and 1008, from 1 s otherwise,
 * doubling to at most 60 s, each delay between half and all of its step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextAttempt, RECONNECT_MAX_MS } from '../../web/src/views/reconnect.js';

test('no new attempt after 4401 or 4403', () => {
  assert.equal(nextAttempt(4401, 0), null);
  assert.equal(nextAttempt(4403, 3), null);
});

test('4429 and 1008 back off from 5 s, other closes from 1 s, doubling up to 60 s', () => {
  const top = () => 1;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((n) => nextAttempt(4429, n, top)?.delayMs),
    [5000, 10000, 20000, 40000, 60000, 60000],
  );
  assert.equal(nextAttempt(4429, 0)?.reason, 'too-many-sockets');
  assert.equal(nextAttempt(1008, 1, top)?.delayMs, 10000);
  assert.equal(nextAttempt(1008, 0)?.reason, 'policy');
  assert.deepEqual(
    [0, 1, 2, 5, 6, 40].map((n) => nextAttempt(1006, n, top)?.delayMs),
    [1000, 2000, 4000, 32000, 60000, 60000],
  );
  assert.equal(nextAttempt(1001, 0)?.reason, 'lost');
});

test('each delay is drawn between half and all of its step', () => {
  assert.equal(nextAttempt(4429, 0, () => 0)?.delayMs, 2500);
  for (let i = 0; i < 200; i++) {
    const d = nextAttempt(1006, 20)?.delayMs ?? 0;
    assert.ok(d >= RECONNECT_MAX_MS / 2 && d <= RECONNECT_MAX_MS, String(d));
  }
});
