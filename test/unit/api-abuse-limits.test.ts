/**
 * The pure parts of the API's abuse limits (test/e2e/api-abuse.test.ts covers them on the real
 * server): the throttle audit's windows, including the shared window past `maxOpen` keys, the
 * regular expression estimate of the search filters, and the iterative body walks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ThrottleAudit, type ThrottleSummary } from '../../src/api/throttle-audit.js';
import { regexTooBig } from '../../src/store/participant-match.js';
import { nulAt, tooDeep } from '../../src/api/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('API abuse limits', () => {
  it('audits the first refusal of a key at once and summarizes the rest when its window ends', async () => {
    const t = new ThrottleAudit(100, 3);
    const summaries: [string, ThrottleSummary][] = [];
    const refuse = (key: string, user: string, ip: string) =>
      t.refused(key, user, ip, (s) => summaries.push([key, s]));
    const first: boolean[] = [];
    for (let i = 0; i < 50; i++) first.push(refuse('login|a', `u${i}`, 'a'));
    assert.deepEqual([first[0], first.slice(1).some(Boolean)], [true, false]);
    // Keys b and c open windows of their own; d, e and f share one (`*`), past maxOpen = 3.
    const opened = ['b', 'c', 'd', 'e', 'f'].map((k) => refuse(`login|${k}`, 'x', k));
    assert.deepEqual(opened, [true, true, true, false, false]);
    refuse('login|b', 'y', 'b');
    await sleep(300);
    const byKey = Object.fromEntries(summaries.map(([k, s]) => [k, s]));
    assert.deepEqual(Object.keys(byKey).sort(), ['login|a', 'login|b', 'login|d']);
    const a = byKey['login|a'] as ThrottleSummary;
    assert.deepEqual([a.count, a.usernames.length, a.moreUsernames, a.addresses], [50, 20, 30, ['a']]);
    assert.deepEqual(byKey['login|d']?.addresses, ['d', 'e', 'f']);
    assert.equal(byKey['login|b']?.count, 2);
    // A window once ended, the next refusal opens a new one.
    assert.equal(refuse('login|a', 'u0', 'a'), true);
  });

  it('refuses search regular expressions too long or expanding to too many copies, and takes common ones', () => {
    for (const p of ['(\\w{1,200}){1,200}x', '(a{1,255}){1,255}', '\\w{1,255}\\w{1,255}\\w{1,255}\\w{1,255}'])
      assert.match(regexTooBig(p) ?? '', /too complex/, p);
    assert.match(regexTooBig('1'.repeat(201)) ?? '', /longer than 200 characters/);
    for (const p of [
      '^49\\d{6,12}$',
      '^49(30|40)',
      '[[:digit:]]{3,5}-[^]a]{2}',
      '(\\d{3}){1,3}',
      '1001.*',
      '(ab|cd){2,}',
    ])
      assert.equal(regexTooBig(p), null, p);
  });

  it('walks bodies nested thousands deep without overflowing the stack', () => {
    let deep: unknown = 'a\u0000b';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    assert.equal(tooDeep(deep, 64), true);
    assert.equal(tooDeep({ a: [[{ b: 1 }]] }, 4), false);
    assert.equal(tooDeep({ a: [[{ b: {} }]] }, 4), true);
    assert.equal(nulAt(deep, 'body'), `body${'.0'.repeat(20_000)}`);
    assert.equal(nulAt({ a: 'x', 'k\u0000': 1, b: 'y\u0000' }, 'body'), 'body key "k"');
    assert.equal(nulAt({ a: { c: 'z\u0000' }, 'k\u0000': 1 }, 'body'), 'body.a.c');
  });
});
