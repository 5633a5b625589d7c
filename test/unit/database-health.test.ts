/**
 * Telling a database that is away or stalled from a faulty request (answered 503, not 500), and
 * the probe that never waits on a stalled database for more than its timeout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseUnavailable } from '../../src/errors.js';
import { DatabaseHealth } from '../../src/store/health.js';

describe('databaseUnavailable', () => {
  const cases: [string, unknown, boolean][] = [
    ['refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    ['reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), true],
    ['admin shutdown 57P01', Object.assign(new Error('terminating connection'), { code: '57P01' }), true],
    [
      'cannot connect now 57P03',
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      true,
    ],
    ['too many connections 53300', Object.assign(new Error('too many clients'), { code: '53300' }), true],
    ['connection failure 08006', Object.assign(new Error('x'), { code: '08006' }), true],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly'), true],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect'), true],
    ['unique violation 23505', Object.assign(new Error('duplicate key'), { code: '23505' }), false],
    ['syntax error 42601', Object.assign(new Error('syntax error'), { code: '42601' }), false],
    ['file not found', Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), false],
    ['a plain error', new Error('boom'), false],
    ['a string', 'ECONNREFUSED', false],
    ['null', null, false],
  ];
  for (const [name, err, expected] of cases)
    it(`${name}: ${expected ? 'unavailable' : 'not'}`, () =>
      assert.equal(databaseUnavailable(err), expected));
});

describe('DatabaseHealth', () => {
  it('answers false within its timeout while the query hangs, joins the hung probe, true once it answers', async () => {
    let answer: (() => void) | undefined;
    let queries = 0;
    const pool = {
      query: () => {
        queries++;
        return new Promise((resolve) => (answer = () => resolve({ rows: [] })));
      },
    };
    const h = new DatabaseHealth(pool as never, 200, 60_000);
    try {
      const started = Date.now();
      assert.equal(await h.probe(), false);
      assert.ok(Date.now() - started < 1000);
      assert.equal(h.answering, false);
      // Known stalled: answered at once, no second query.
      const again = Date.now();
      assert.equal(await h.probe(), false);
      assert.ok(Date.now() - again < 100);
      assert.equal(queries, 1);
      answer?.();
      await new Promise((r) => setImmediate(r));
      assert.equal(h.answering, true);
      const next = h.probe();
      answer?.();
      assert.equal(await next, true);
      assert.equal(queries, 2);
    } finally {
      h.close();
    }
  });

  it('answers false when the query fails', async () => {
    const h = new DatabaseHealth({ query: () => Promise.reject(new Error('down')) } as never, 200, 60_000);
    try {
      assert.equal(await h.probe(), false);
      assert.equal(h.answering, false);
    } finally {
      h.close();
    }
  });
});
