/**
 * Changing one's own password (POST /api/v1/me/password) over the real HTTP API and a real embedded
 * Postgres: whoever holds a session cookie or an API token cannot guess the current password
 * faster than at login. Wrong guesses count against the login throttle's keys for the account (and
 * address): after the same number of failures as at login the next attempt is refused unchecked
 * (429, Retry-After), the right password too, until the delay is over; each failure and refusal is
 * audited (`password-change-failed`, with the reason, never the guess); a successful change clears
 * the count as a successful login does. A too-short new password is refused in POST /users' words.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoginThrottle } from '../../src/api/auth.js';
import { verifyPassword } from '../../src/store/users.js';
import { auditSentence, type AuditEntry } from '../../web/src/audit-text.js';
import { startApiHarness, type ApiHarness, type ApiReply, type AuditItem } from '../helpers/api-harness.js';

type Entry = AuditItem;

const OLD = 'carol-password';
const NEW = 'carol-new-password';

describe(
  'own password change is throttled and audited like login (real HTTP, real Postgres)',
  {
    timeout: 120000,
  },
  () => {
    let h: ApiHarness;
    let carolId: string;
    let token: string;
    /** The last 429's Retry-After (s). */
    let retryAfter = 0;

    const change = (
      current: string,
      password = NEW,
      who: { as?: string; bearer?: string } = { as: 'carol' },
    ) => h.call('POST', '/api/v1/me/password', { ...who, body: { current, password } });
    const audited = async (action: string): Promise<Entry[]> => {
      const r = await h.call('GET', `/api/v1/audit?action=${action}&limit=200`, { as: 'admin' });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return (r.json as { items: Entry[] }).items;
    };
    const reasons = (entries: Entry[]) => entries.map((e) => String(e.details.reason)).sort();

    before(async () => {
      // A 5-s base delay (1 s in production): on a loaded machine a scrypt check can outlast 1 s, and
      // the attempt after the fourth then came after its delay (403, not 429).
      h = await startApiHarness(async () => ({ loginThrottle: new LoginThrottle(5000) }));
      await h.login('admin', 'first-admin-pw');
      const created = await h.call('POST', '/api/v1/users', {
        as: 'admin',
        body: { username: 'carol', password: OLD, role: 'user' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      carolId = (created.json as { id: string }).id;
      await h.login('carol', OLD);
      const t = await h.call('POST', '/api/v1/tokens', { as: 'carol', body: { name: 'scripts' } });
      assert.equal(t.status, 201, JSON.stringify(t.json));
      token = (t.json as { token: string }).token;
    });
    after(async () => {
      await h?.close();
    });

    it('refuses a too-short new password in the words of POST /users', async () => {
      const short = await change(OLD, 'short');
      assert.equal(short.status, 400);
      assert.equal(short.json.error, 'password: at least 8 characters');
      const users = await h.call('POST', '/api/v1/users', {
        as: 'admin',
        body: { username: 'dave', password: 'short', role: 'user' },
      });
      assert.equal(users.status, 400);
      assert.equal(short.json.error, users.json.error);
    });

    it('slows a guesser holding the session after the login number of failures, and audits each failure and the first refusal', async () => {
      const replies: ApiReply[] = [];
      for (let i = 0; i < 8; i++) replies.push(await change(`guess-${i}-wrong`));
      // The right password within the delay is refused unchecked as well.
      const right = await change(OLD);
      const statuses = [...replies, right].map((r) => r.status);
      const failed = await audited('password-change-failed');
      // As at login: three free attempts per user and address, the fourth starts a delay during
      // which every attempt is refused (429), the right one too. Only the first refusal of the
      // window is audited at once (count 1); the others are counted for the window's summary.
      assert.deepEqual(
        { statuses, audited: reasons(failed) },
        {
          statuses: [403, 403, 403, 403, 429, 429, 429, 429, 429],
          audited: [...Array<string>(4).fill('current password is wrong'), 'throttled'],
        },
      );
      assert.equal(failed.find((e) => e.details.reason === 'throttled')?.details.count, 1);
      for (const r of replies.slice(0, 4)) assert.equal(r.json.error, 'current password is wrong');
      for (const r of [...replies.slice(4), right]) {
        assert.match(String(r.json.error), /too many failed attempts/);
        assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
      }
      retryAfter = Number(right.headers.get('retry-after'));
      for (const e of failed) {
        assert.equal(e.actor, 'carol');
        assert.deepEqual([e.resource, e.resourceId], ['user', carolId]);
      }
      assert.doesNotMatch(JSON.stringify(failed), /guess-|carol-|scrypt/, 'no password in the trail');
      // The console's sentence says who failed and why.
      const sentences = new Set(failed.map((e) => auditSentence(e as unknown as AuditEntry)));
      for (const reason of ['current password is wrong', 'throttled'])
        assert.ok(
          sentences.has(`carol failed to change their password (${reason}) from 127.0.0.1`),
          [...sentences].join(' | '),
        );
      // One throttle for both: signing in to the account from this address waits as well.
      const login = await h.call('POST', '/api/v1/login', { body: { username: 'carol', password: OLD } });
      assert.equal(login.status, 429);
      // Nothing changed: the session still works and the old password still holds.
      assert.equal((await h.call('GET', '/api/v1/me', { as: 'carol' })).status, 200);
      assert.equal((await audited('password-change')).length, 0);
      const u = await h.db.users.byUsername('carol');
      assert.equal(await verifyPassword(OLD, u?.passwordHash ?? null), true);
    });

    it('takes the right password once the delay is over, and the change clears the count', async () => {
      assert.ok(retryAfter > 0, 'the previous test left a delay');
      await sleep(retryAfter * 1000 + 100);
      const ok = await change(OLD);
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal((await audited('password-change')).length, 1);
      const u = await h.db.users.byUsername('carol');
      assert.equal(await verifyPassword(NEW, u?.passwordHash ?? null), true);
      // The change ended the session, and the API token made with it (it ends with the password).
      // A new token's guesses start from zero again (without the reset the fifth attempt's delay
      // would refuse the first of these).
      assert.equal((await h.call('GET', '/api/v1/me', { as: 'carol' })).status, 401);
      assert.equal((await h.call('GET', '/api/v1/me', { bearer: token })).status, 401);
      await h.login('carol', NEW);
      const t = await h.call('POST', '/api/v1/tokens', { as: 'carol', body: { name: 'scripts-2' } });
      assert.equal(t.status, 201, JSON.stringify(t.json));
      const fresh = (t.json as { token: string }).token;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await change(`token-guess-${i}`, NEW, { bearer: fresh })).status);
      assert.deepEqual(statuses, [403, 403, 403, 403, 429]);
      const failed = await audited('password-change-failed');
      // Four more wrong guesses; the refusal falls in the window already audited.
      assert.equal(failed.length, 5 + 4);
      assert.ok(failed.some((e) => e.details.reason === 'throttled' && e.actor === 'carol'));
      assert.doesNotMatch(JSON.stringify(failed), /guess-|carol-|scrypt/, 'no password in the trail');
    });
  },
);
