/**
 * Email notification settings in a real Chromium (Debian package, driven by playwright-core)
 * against the real server (test/helpers/console-world.ts): on Users, the admin gives a user an
 * address, an email on each stored recording and the recording attached (a bad address is refused
 * in the server's words); the user sees them on their Account page, turns the attachment off, and
 * the API (/users/{id}/notifications) and the audit trail reflect each change. Screenshots go to
 * test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createUsers } from '../helpers/console-catalogue.js';
import { logInAs } from '../helpers/console-session.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

interface Settings {
  email: string | null;
  enabled: boolean;
  attach: boolean;
}
interface Entry {
  actor: string;
  resourceId: string;
  details: { changes?: Record<string, { from: unknown; to: unknown }> };
}

describe(
  'web console in Chromium: email notification settings',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let aliceId = '';
    const settings = async () => {
      const s = await w.api<Settings>(`/users/${aliceId}/notifications`);
      return { email: s.email, enabled: s.enabled, attach: s.attach };
    };

    before(async () => {
      w = await startConsoleWorld('console-notification-settings', { locale: 'en-US' });
      await createUsers(w, [{ username: 'alice', role: 'user', group: 'sales', numbers: ['1001'] }]);
      const users = await w.api<{ items: { id: string; username: string }[] }>('/users');
      aliceId = users.items.find((u) => u.username === 'alice')?.id ?? '';
      assert.ok(aliceId);
    });

    after(async () => {
      await w?.close();
    });

    it('the admin sets them on Users, the user sees and changes them on Account', async () => {
      const { page, shot } = w;
      await logInAs(w, 'admin', 'admin', ADMIN_PASSWORD);
      await page.click('#tab-users');
      const row = page.locator('tr.user-row[data-username="alice"]');
      await row.locator('button.edit-user').click();
      await page.waitForSelector('#edit-user #eu-email:enabled');
      assert.equal(await page.inputValue('#eu-email'), '', 'none yet');
      assert.equal(await page.isChecked('#eu-notify'), false);
      assert.equal(await page.isChecked('#eu-attach'), false);
      assert.equal(
        (await page.textContent('label:has(#eu-notify)'))?.trim(),
        'Email on each stored recording',
      );
      assert.equal((await page.textContent('label:has(#eu-attach)'))?.trim(), 'Attach the recording');

      // A bad address: the server's refusal, nothing saved.
      await page.fill('#eu-email', 'alice-at-example');
      await page.check('#eu-notify');
      await page.click('#save-user');
      await page.waitForSelector('#users-msg.error');
      assert.equal(await page.textContent('#users-msg'), 'email: not a valid email address');
      assert.deepEqual(await settings(), { email: null, enabled: false, attach: false });

      await page.fill('#eu-email', 'alice@example.com');
      await page.check('#eu-attach');
      await page.click('#save-user');
      await page.waitForSelector('#users-msg.ok:has-text("saved alice")');
      assert.deepEqual(await settings(), { email: 'alice@example.com', enabled: true, attach: true });
      await shot('notification-settings-1-users');

      // Opened again, the form shows what the server has.
      await page.click('#edit-user button:has-text("Close")');
      await row.locator('button.edit-user').click();
      await page.waitForSelector('#eu-email:enabled');
      assert.equal(await page.inputValue('#eu-email'), 'alice@example.com');
      assert.equal(await page.isChecked('#eu-notify'), true);
      assert.equal(await page.isChecked('#eu-attach'), true);

      // Alice's Account page shows them; she turns the attachment off.
      await logInAs(w, 'alice', 'user');
      await page.click('#account-link');
      await page.waitForSelector('#notifications-form #my-email:enabled');
      assert.equal(await page.textContent('#notifications-form h3'), 'Email notifications');
      assert.equal(await page.inputValue('#my-email'), 'alice@example.com');
      assert.equal(await page.isChecked('#my-notify'), true);
      assert.equal(await page.isChecked('#my-attach'), true);
      await page.uncheck('#my-attach');
      await page.click('#save-notifications');
      await page.waitForSelector('#notifications-msg.ok');
      assert.equal(await page.textContent('#notifications-msg'), 'Email notifications saved.');
      assert.deepEqual(await settings(), { email: 'alice@example.com', enabled: true, attach: false });
      await shot('notification-settings-2-account');

      // An address she empties while the email stays on: the server says why, nothing changes.
      await page.fill('#my-email', '');
      await page.click('#save-notifications');
      await page.waitForSelector('#notifications-msg.error');
      assert.equal(await page.textContent('#notifications-msg'), 'enabled: true needs an email address');
      assert.deepEqual(await settings(), { email: 'alice@example.com', enabled: true, attach: false });

      // Reloaded, the page shows what was saved.
      await page.reload();
      await page.waitForSelector('#my-email:enabled');
      assert.equal(await page.inputValue('#my-email'), 'alice@example.com');
      assert.equal(await page.isChecked('#my-attach'), false);

      // Each change in the audit trail, by whom, with what it was and is.
      const trail = await w.api<{ items: Entry[] }>('/audit?action=notification-settings.update');
      const mine = trail.items.filter((e) => e.resourceId === aliceId);
      assert.deepEqual(
        mine.map((e) => [e.actor, e.details.changes]),
        [
          ['alice', { attach: { from: true, to: false } }],
          [
            'admin',
            {
              email: { from: null, to: 'alice@example.com' },
              enabled: { from: false, to: true },
              attach: { from: false, to: true },
            },
          ],
        ],
      );
    });
  },
);
