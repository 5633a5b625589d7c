/**
 * A user's own account page in a real Chromium (Debian package, driven by playwright-core) against
 * the real server (test/helpers/console-world.ts): opened from the header, it shows who they are
 * and changes their password (POST /api/v1/me/password). Two new passwords that differ are refused
 * in the page with no request sent; the server's refusals (wrong current password, too short) show
 * as the server words them; a change ends every session of the user, this one included, and says
 * so; then the old password no longer signs in and the new one does. In French, the page's labels
 * and messages are the catalogue's. Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Route } from 'playwright-core';
import { CATALOGUES } from '../../web/src/i18n/catalogues.js';
import { createUsers } from '../helpers/console-catalogue.js';
import { inPageStatus, logInAs } from '../helpers/console-session.js';
import { CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

/** `s` in French as the console's catalogue has it (English when it has none). */
function fr(s: string): string {
  let out = s;
  for (const c of CATALOGUES) {
    const e = c.fr?.[s];
    if (typeof e === 'string') out = e;
  }
  return out;
}

const MISMATCH = 'The two new passwords do not match.';
const CHANGED =
  'Password changed. All your sessions have ended, this one included: sign in again with the new password.';

describe(
  'web console in Chromium: own account and password',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    /** Requests the page sent to change the password. */
    let changes = 0;

    before(async () => {
      w = await startConsoleWorld('console-account', { locale: 'en-US' });
      await createUsers(w, [
        { username: 'alice', role: 'user', group: 'sales', numbers: ['1001'] },
        { username: 'bob', role: 'supervisor', group: 'sales' },
      ]);
      w.page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/v1/me/password') changes++;
      });
    });

    after(async () => {
      await w?.close();
    });

    /** Fills the three password fields and presses Save. */
    const submit = async (current: string, fresh: string, repeat: string) => {
      await w.page.fill('#current-password', current);
      await w.page.fill('#new-password', fresh);
      await w.page.fill('#repeat-password', repeat);
      await w.page.click('#save-password');
    };
    const message = () => w.page.textContent('#account-msg');
    /** Waits until the page's message reads `text`. */
    const said = (text: string) =>
      w.page.waitForFunction((want) => document.querySelector('#account-msg')?.textContent === want, text);

    it('changes the password: a mismatch stays in the page, the server’s refusals show, then a change', async () => {
      const { page, base, shot } = w;
      await logInAs(w, 'alice', 'user');
      // From the header, not a tab.
      assert.equal(await page.locator('#nav #tab-account').count(), 0);
      await page.click('#account-link');
      await page.waitForSelector('#password-form');
      assert.equal(new URL(page.url()).pathname, '/account');
      assert.ok(await page.locator('#account-link.active').isVisible(), 'the header link is marked');
      assert.equal(await page.textContent('#account-username'), 'alice');
      assert.equal(await page.textContent('#account-role'), 'user');

      // The two new ones differ: said in the page, nothing sent.
      await submit('alice-password', 'alice-new-password', 'alice-new-passwort');
      await page.waitForSelector('#account-msg:not(:empty)');
      await page.waitForTimeout(300);
      assert.equal(changes, 0, 'no request for a mismatch');
      assert.equal(await message(), MISMATCH);
      assert.ok(await page.locator('#account-msg.error').isVisible());
      await shot('account-1-mismatch');

      // A wrong current password: the server's words.
      await submit('not-her-password', 'alice-new-password', 'alice-new-password');
      await said('current password is wrong');
      assert.ok(await page.locator('#account-msg.error').isVisible());
      assert.equal(changes, 1);
      assert.equal(await page.isEnabled('#save-password'), true, 'Save again after a refusal');

      // Too short: the server's words again, whatever they are.
      const tooShort = await page.evaluate(async () => {
        const r = await fetch('/api/v1/me/password', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ current: 'alice-password', password: 'short' }),
        });
        return { status: r.status, error: ((await r.json()) as { error: string }).error };
      });
      assert.equal(tooShort.status, 400);
      await submit('alice-password', 'short', 'short');
      await said(tooShort.error);
      assert.match(tooShort.error, /8/, 'the server says how long');
      assert.equal(changes, 3, 'two requests from the page, one from this test');
      // Still signed in: nothing was changed.
      assert.equal(await inPageStatus(w, 'GET', '/me'), 200);

      // Another session of hers (another browser) and an API token of hers, made before the change.
      const other = await fetch(`${base}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
      });
      assert.equal(other.status, 200);
      const otherCookie = (other.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const asOther = () => fetch(`${base}/api/v1/me`, { headers: { cookie: otherCookie } });
      assert.equal((await asOther()).status, 200);
      const token = await page.evaluate(async () => {
        const r = await fetch('/api/v1/tokens', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'alice-script' }),
        });
        return ((await r.json()) as { token: string }).token;
      });
      const asToken = () => fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal((await asToken()).status, 200, 'her API token works before the change');

      // The change: confirmed, and the sessions are over (this one too).
      await submit('alice-password', 'alice-new-password', 'alice-new-password');
      await said(CHANGED);
      assert.ok(await page.locator('#account-msg.ok').isVisible());
      assert.equal(changes, 4);
      await page.waitForSelector('#sign-in-again');
      assert.equal(await page.locator('#logout').count(), 0, 'the header has no user any more');
      assert.equal(await inPageStatus(w, 'GET', '/me'), 401, 'this session has ended');
      assert.equal((await asOther()).status, 401, 'her other session has ended');
      assert.equal((await asToken()).status, 401, 'her API token made while signed in has ended too');
      await shot('account-2-changed');

      // The old password no longer signs in; the new one does.
      await page.click('#sign-in-again');
      await page.waitForSelector('#login');
      assert.equal(new URL(page.url()).pathname, '/');
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-password');
      await page.click('#login');
      await page.waitForSelector('#login-error:has-text("wrong username or password")');
      await page.fill('#password', 'alice-new-password');
      await page.click('#login');
      await page.waitForSelector('#whoami:has-text("alice (user)")');
      const audit = await w.api<{ items: unknown[] }>('/audit?action=password-change&actor=alice');
      assert.equal(audit.items.length, 1, 'the change, once, in the audit trail');
    });

    it('shows the page in the user’s language (French)', async () => {
      const { page, shot } = w;
      await logInAs(w, 'bob', 'supervisor');
      await page.selectOption('#language', 'fr');
      await page.waitForFunction(() => document.documentElement.lang === 'fr');
      assert.equal(await page.textContent('#account-link'), fr('Account'));
      assert.notEqual(fr('Account'), 'Account');
      await page.click('#account-link');
      await page.waitForSelector('#password-form');
      assert.equal(await page.textContent('h2'), fr('Account'));
      assert.equal(await page.textContent('#password-form h3'), fr('Change password'));
      const label = await page.textContent('label:has(#current-password)');
      assert.equal(label?.trim(), fr('Current password'));
      assert.notEqual(fr('Current password'), 'Current password');
      assert.equal(await page.textContent('#account-role'), fr('supervisor'));
      await submit('bob-password', 'bob-new-password', 'bob-other-password');
      await page.waitForSelector('#account-msg.error');
      assert.equal(await message(), fr(MISMATCH));
      assert.notEqual(fr(MISMATCH), MISMATCH);
      await shot('account-3-french');
    });

    it('keeps the new session when a request of the session signed out before it is answered 401 late', async () => {
      const { page } = w;
      await logInAs(w, 'alice', 'user', 'alice-new-password');
      // The recordings view's list request, held until after the next sign-in.
      let hold: ((r: Route) => void) | undefined;
      const held = new Promise<Route>((r) => (hold = r));
      const list = (u: URL) => u.pathname === '/api/v1/recordings';
      await page.route(list, async (route) => {
        const first = hold;
        hold = undefined;
        if (first) first(route);
        else await route.continue();
      });
      await page.click('#tab-recordings');
      const late = await held;
      await page.click('#logout');
      await page.waitForSelector('#username');
      await page.fill('#username', 'alice');
      await page.fill('#password', 'alice-new-password');
      await page.click('#login');
      await page.waitForSelector('#whoami:has-text("alice (user)")');
      // Answered now as the server answers a session that ended.
      await late.fulfill({ status: 401, contentType: 'application/json', body: '{"error":"not signed in"}' });
      await page.waitForTimeout(500);
      await page.unroute(list);
      assert.ok(await page.isVisible('#logout'), 'still signed in: the header is there');
      assert.equal(await page.isVisible('#username'), false, 'no sign-in form');
      assert.match((await page.textContent('#whoami')) ?? '', /alice \(user\)/);
    });
  },
);
