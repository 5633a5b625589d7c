/**
 * The web console's admin pages in a real Chromium (Debian package, driven by playwright-core),
 * with one SIPREC call (SIPp signalling, RTP from our sender) recorded and stored first: create a
 * supervisor and edit and disable them, change a setting and see it audited, export the search
 * results as CSV and the selected recording's audio as tar, and see the delivery status
 * (test/helpers/console-world.ts). Live call, listening, playback and audit: console.test.ts.
 * Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CHROMIUM, startConsoleWorldWithCall, type ConsoleWorld } from '../helpers/console-world.js';

const execFileP = promisify(execFile);

describe(
  'web console in Chromium: users, settings, exports and delivery',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    /** A call recorded and stored before the test, to search for and export. */
    let recorded: { recordingId: string; callId: string } | undefined;

    before(async () => {
      ({ w, recorded } = await startConsoleWorldWithCall('console-admin'));
    });

    after(async () => {
      await w?.close();
    });

    it('lets the admin create a supervisor, change a setting, export results and see delivery', async () => {
      const { page, base, api, shot } = w;
      assert.ok(recorded, 'before() recorded and stored a call');
      // Users: create a supervisor, then give them numbers and a new password.
      await page.click('#tab-users');
      await page.waitForSelector('tr.user-row[data-username="admin"]');
      await page.fill('#nu-username', 'sup1');
      await page.fill('#nu-name', 'Sue Pervisor');
      await page.fill('#nu-password', 'first-sup-password');
      await page.selectOption('#nu-role', 'supervisor');
      await page.fill('#nu-group', 'sales');
      await page.click('#create-user');
      const supRow = page.locator('tr.user-row[data-username="sup1"]');
      await supRow.filter({ hasText: 'supervisor' }).waitFor();
      await supRow.locator('button.edit-user').click();
      await page.fill('#eu-numbers', '2001, 2002');
      await page.fill('#eu-password', 'second-sup-password');
      await page.click('#save-user');
      await page.waitForSelector('#users-msg:has-text("saved sup1 (password reset)")');
      await supRow.filter({ hasText: '2001, 2002' }).waitFor();
      await page.waitForSelector('#groups td:has-text("sales")');
      await shot('5-users');
      const login = async (password: string) =>
        fetch(`${base}/api/v1/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'sup1', password }),
        });
      assert.equal((await login('first-sup-password')).status, 401, 'the old password no longer works');
      const supLogin = await login('second-sup-password');
      assert.equal(supLogin.status, 200);
      assert.equal(((await supLogin.json()) as { user: { role: string } }).user.role, 'supervisor');
      // Disabled: the account can no longer log in.
      await supRow.locator('button.edit-user').click();
      await page.check('#eu-disabled');
      await page.click('#save-user');
      await supRow.filter({ hasText: 'disabled' }).waitFor();
      assert.equal((await login('second-sup-password')).status, 401, 'a disabled user cannot log in');

      // Settings: downloads from supervisors up; the change is audited and seen in the audit view.
      await page.click('#tab-settings');
      await page.selectOption('#setting-permissions-download', 'supervisor');
      await page.click('#save-settings');
      await page.waitForSelector('#settings-msg:has-text("permissions.download = supervisor")');
      await shot('6-settings');
      await page.click('#tab-audit');
      await page.fill('#a-action', 'setting.update');
      await page.click('#a-search');
      await page.waitForSelector('tr.audit-row:has-text("setting.update"):has-text("supervisor")');
      await shot('7-audit-setting');

      // Recordings: export the search results as CSV, and the selected recording's audio as tar.
      await page.click('#tab-recordings');
      await page.fill('#f-callid', recorded.callId);
      await page.click('#search');
      const recRow = page.locator(`tr.recording-row[data-id="${recorded.recordingId}"]`);
      await recRow.waitFor();
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
      assert.match(csv.suggestedFilename(), /^recordings-\d{8}-\d{6}\.csv$/);
      const csvText = (await readFile((await csv.path()) as string, 'utf8')).replace(/^\uFEFF/, '');
      const lines = csvText.trim().split('\r\n');
      assert.equal(lines.length, 2, csvText);
      assert.match(lines[0] ?? '', /^id,started_at,ended_at,duration_s,state,call_id,/);
      assert.ok(lines[1]?.startsWith(`${recorded.recordingId},`), lines[1]);
      assert.ok(lines[1]?.includes(recorded.callId), lines[1]);
      assert.match(lines[1] ?? '', /,stored,/);
      await recRow.locator('input.select-recording').check();
      await page.waitForSelector('#export-audio:has-text("1 selected")');
      const [tar] = await Promise.all([page.waitForEvent('download'), page.click('#export-audio')]);
      const listing = await execFileP('tar', ['-tvf', (await tar.path()) as string]);
      assert.match(listing.stdout, new RegExp(`_${recorded.recordingId}\\.mp3\\n`), listing.stdout);
      assert.match(listing.stdout, /\/index\.csv\n/);
      await shot('8-export');
      const exports = await api<{ items: { actor: string; details: { format: string; ids: string[] } }[] }>(
        '/audit?action=export',
      );
      assert.deepEqual(
        exports.items.map((e) => [e.actor, e.details.format, e.details.ids]),
        [
          ['admin', 'tar', [recorded.recordingId]],
          ['admin', 'csv', [recorded.recordingId]],
        ],
      );

      // Delivery: the page renders the status; this server has no delivery configured.
      await page.click('#tab-delivery');
      await page.waitForSelector('#delivery-state:has-text("Delivery is off")');
      await page.waitForSelector('#delivery-notifications:has-text("0 sent")');
      await page.click('#delivery-retry');
      await page.waitForSelector('#delivery-msg:has-text("delivery is off")');
      await shot('9-delivery');
    });
  },
);
