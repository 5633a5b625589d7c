/**
 * The Users page's CSV card in a real Chromium against the real server (`srs serve`): the download
 * holds the users in the import's columns; a file is checked first (what it would do is listed,
 * nothing written), imported on the button, and the users appear in the table; a bad file shows
 * each bad line and leaves the Import button off.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { csvLine, parseCsv } from '../../src/csv.js';
import { USERS_CSV_HEADER } from '../helpers/api-harness.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';
import type { UserJson } from '../../web/src/views/users.js';

describe(
  'web console in Chromium: users as CSV',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    const users = async () => (await w.api<{ items: UserJson[] }>('/users')).items;
    const upload = (text: string) =>
      w.page.setInputFiles('#users-csv-file', {
        name: 'users.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(text),
      });

    before(async () => {
      w = await startConsoleWorld('console-users-import');
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.waitForSelector('#tab-live.active');
      await w.page.click('#tab-users');
      await w.page.waitForSelector('#users-import #users-import-check');
    });

    after(async () => {
      await w?.close();
    });

    it('downloads the users as CSV in the columns the import reads', async () => {
      const [file] = await Promise.all([
        w.page.waitForEvent('download'),
        w.page.click('#users-csv-download'),
      ]);
      assert.equal(file.suggestedFilename(), 'users.csv');
      const rows = parseCsv(await readFile((await file.path()) as string, 'utf8'));
      assert.deepEqual(rows[0], USERS_CSV_HEADER);
      assert.deepEqual(rows[1]?.slice(0, 3), ['admin', 'Administrator', 'admin']);
    });

    it('checks a file first, then imports it on the button', async () => {
      await upload(
        csvLine(['username', 'display_name', 'role', 'group', 'numbers', 'password']) +
          csvLine(['mia', 'Mia', 'supervisor', 'sales', '', 'mia-password']) +
          csvLine(['noah', 'Noah', '', 'sales', '3001; 3002', '']),
      );
      await w.page.click('#users-import-check');
      await w.page.waitForSelector('#users-import-msg.ok:has-text("Checked: no problems")');
      const plan = await w.page.textContent('#users-import-result');
      assert.match(plan ?? '', /2 to create, 0 to change, 0 unchanged/);
      assert.match(plan ?? '', /line 2: create mia \(supervisor\)/);
      assert.match(plan ?? '', /line 3: create noah \(user\)/);
      assert.equal((await users()).length, 1, 'a check writes nothing');

      await w.page.click('#users-import-apply');
      await w.page.waitForSelector('#users-import-msg.ok:has-text("Imported: 2 created, 0 changed")');
      await w.page.waitForSelector('tr.user-row[data-username="noah"]');
      const noah = (await users()).find((u) => u.username === 'noah');
      assert.deepEqual([noah?.role, noah?.group, noah?.numbers], ['user', 'sales', ['3001', '3002']]);
      assert.equal(await w.page.isDisabled('#users-import-apply'), true, 'one import per check');
      await w.shot('users-import');
    });

    it('a bad file lists each bad line and cannot be imported', async () => {
      await upload(
        csvLine(['username', 'role']) +
          csvLine(['mia', 'admin']) +
          csvLine(['oscar', 'boss']) +
          csvLine(['mia', 'user']),
      );
      await w.page.click('#users-import-check');
      await w.page.waitForSelector('#users-import-msg.error:has-text("2 problems in the file")');
      const lines = await w.page.$$eval('.import-errors li', (li) => li.map((x) => x.textContent));
      assert.equal(lines.length, 2, JSON.stringify(lines));
      assert.match(lines[0] ?? '', /^line 3: role/);
      assert.match(lines[1] ?? '', /^line 4: username mia is also on line 2/);
      assert.equal(await w.page.isDisabled('#users-import-apply'), true);
      const mia = (await users()).find((u) => u.username === 'mia');
      assert.equal(mia?.role, 'supervisor', 'nothing of the bad file was written');
    });

    it('with "Disable the users who are not in the file", the others are disabled on import', async () => {
      await w.page.check('#users-import-disable-missing');
      await upload(csvLine(['username']) + csvLine(['admin']) + csvLine(['mia']));
      await w.page.click('#users-import-check');
      await w.page.waitForSelector('#users-import-result li:has-text("disable noah (not in the file)")');
      await w.page.click('#users-import-apply');
      await w.page.waitForSelector(
        '#users-import-msg.ok:has-text("Imported: 0 created, 0 changed, 1 disabled")',
      );
      const noah = (await users()).find((u) => u.username === 'noah');
      assert.equal(noah?.disabled, true);
      await w.page.waitForSelector('tr.user-row[data-username="noah"] td:has-text("disabled")');
    });
  },
);
