/**
 * Joined interactions are made at most two at once (each may hold hours of audio in memory): the
 * others wait for a turn and all are made; a join that fails hands its turn on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Turns } from '../../src/api/resources/interactions.js';

test('at most two joins at once; the others wait, a failure hands its turn on', async () => {
  const turns = new Turns(2);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const job = (i: number, fail = false) =>
    turns.run(async () => {
      running++;
      most = Math.max(most, running);
      await sleep(20);
      running--;
      order.push(i);
      if (fail) throw new Error(`join ${i} failed`);
      return i;
    });
  const results = await Promise.allSettled([job(0), job(1, true), job(2), job(3), job(4)]);
  assert.equal(most, 2, 'never more than two at once');
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    [0, 'join 1 failed', 2, 3, 4],
  );
  assert.deepEqual(order.slice(0, 2).sort(), [0, 1], 'the first two went first');
  // The count of turns came back right: of three more, two run side by side, not three.
  most = 0;
  await Promise.all([job(5), job(6), job(7)]);
  assert.equal(most, 2);
});
