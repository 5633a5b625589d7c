/**
 * The Users page's LDAP directory side in a real Chromium against the real server (`srs serve` with
 * a config file naming a real OpenLDAP slapd): Check lists what a synchronization would do and
 * writes nothing; Synchronize creates the directory's people and links a local user of the same
 * name; directory users carry a "directory" label (their DN as its title) and have no password
 * field to fill; a person gone from the directory is disabled; the audit log reads the sync and
 * its users as sentences; a directory that cannot be reached shows the server's reason. A server
 * with no directory says to set directory.url in the config file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_PASSWORD,
  CHROMIUM,
  searchAudit,
  startConsoleWorld,
  type ConsoleWorld,
} from '../helpers/console-world.js';
import {
  directoryConfigFile,
  directorySettings,
  groupDn,
  groupLdif,
  personDn,
  personLdif,
  startSlapd,
  type Slapd,
} from '../helpers/slapd.js';
import type { UserJson } from '../../web/src/views/users.js';

const ANN = { uid: 'ann', cn: 'Ann Lee', password: 'ann-directory-pw', department: 'sales' };
const BOB = { uid: 'bob', cn: 'Bob Park', password: 'bob-directory-pw', phones: ['2002'] };
const CARL = { uid: 'carl smith', cn: 'Carl Smith', password: 'carl-directory-pw' };
const skip = !existsSync(CHROMIUM) && 'chromium not installed';

/** Signs in as admin and opens the Users page. */
async function openUsers(w: ConsoleWorld): Promise<void> {
  await w.page.goto(w.base);
  await w.logIn(ADMIN_PASSWORD);
  await w.page.waitForSelector('#tab-live.active');
  await w.page.click('#tab-users');
  await w.page.waitForSelector('#users-directory #users-directory-check');
}

describe('web console in Chromium: users from an LDAP directory', { timeout: 180000, skip }, () => {
  let slapd: Slapd;
  let configDir: string;
  let w: ConsoleWorld;
  const users = async () =>
    new Map((await w.api<{ items: UserJson[] }>('/users')).items.map((u) => [u.username, u]));
  const row = (name: string) => `tr.user-row[data-username="${name}"]`;

  before(async () => {
    slapd = await startSlapd([
      personLdif(ANN),
      personLdif(BOB),
      // A uid the recorder refuses (a space): skipped, with the reason.
      personLdif(CARL),
      groupLdif('recorder-admins', [personDn(ANN)]),
    ]);
    const config = await directoryConfigFile(
      directorySettings(slapd, { roles: { admin: groupDn('recorder-admins') } }),
    );
    configDir = dirname(config);
    w = await startConsoleWorld('console-directory', { env: { SRS_CONFIG: config } });
    // A local bob before any sync: the sync links him to his entry.
    const r = await fetch(`${w.base}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-local-pw', role: 'user', numbers: ['9999'] }),
    });
    assert.equal(r.status, 201, await r.text());
    await openUsers(w);
  });

  after(async () => {
    await w?.close();
    await slapd?.stop();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it('Check lists what a synchronization would do, and writes nothing', async () => {
    await w.page.click('#users-directory-check');
    await w.page.waitForSelector('#users-directory-msg.ok:has-text("Checked: nothing is written yet")');
    const plan = (await w.page.textContent('#users-directory-result')) ?? '';
    assert.match(
      plan,
      new RegExp(`3 people in ${slapd.url}: 1 to create, 1 to change, 0 unchanged · 1 skipped`),
    );
    assert.match(plan, /create ann \(admin\)/);
    assert.match(plan, /change bob: displayName, numbers, directory/);
    const skipped = await w.page.$$eval('#users-directory-skipped li', (li) => li.map((x) => x.textContent));
    assert.deepEqual(skipped, [`skipped: ${personDn(CARL)}: username: letters, digits and ._@- (1-64)`]);
    const now = await users();
    assert.deepEqual([...now.keys()].sort(), ['admin', 'bob'], 'a check writes nothing');
    assert.equal(now.get('bob')?.directory, null);
    assert.equal(await w.page.locator(`${row('bob')} [data-directory]`).count(), 0);
  });

  it('Synchronize creates and links the users, who show the directory label', async () => {
    await w.page.click('#users-directory-sync');
    await w.page.waitForSelector(
      '#users-directory-msg.ok:has-text("Synchronized: 1 created, 1 changed, 0 disabled")',
    );
    const result = (await w.page.textContent('#users-directory-result')) ?? '';
    assert.match(result, /1 created, 1 changed, 0 unchanged · 1 skipped/);
    assert.match(result, /created ann \(admin\)/);
    assert.match(result, /changed bob: displayName, numbers, directory/);

    const label = w.page.locator(`${row('ann')} [data-directory]`);
    await label.waitFor();
    assert.equal(await label.textContent(), 'directory');
    assert.equal(await label.getAttribute('title'), personDn(ANN));
    assert.equal(await w.page.getAttribute(`${row('bob')} [data-directory]`, 'title'), personDn(BOB));
    assert.equal(await w.page.locator(`${row('admin')} [data-directory]`).count(), 0, 'a local user');
    const now = await users();
    assert.deepEqual(
      [now.get('ann')?.role, now.get('ann')?.group, now.get('ann')?.directory],
      ['admin', 'sales', personDn(ANN)],
    );
    assert.deepEqual([now.get('bob')?.displayName, now.get('bob')?.numbers], ['Bob Park', ['2002']]);
    await w.shot('users-directory');
  });

  it('a directory user has no password to set; a local user does', async () => {
    await w.page.click(`${row('bob')} .edit-user`);
    await w.page.waitForSelector('#edit-user h3:has-text("Edit bob")');
    assert.equal(await w.page.isDisabled('#eu-password'), true);
    assert.equal(await w.page.getAttribute('#eu-password', 'placeholder'), 'directory password');
    assert.match(
      (await w.page.textContent('#eu-directory')) ?? '',
      new RegExp(`bob is synchronized from the directory entry ${personDn(BOB)}\\. They sign in`),
    );
    // Saving the other fields works (no password is sent).
    await w.page.fill('#eu-name', 'Bobby');
    await w.page.click('#save-user');
    await w.page.waitForSelector('#users-msg.ok:has-text("saved bob")');
    assert.equal((await users()).get('bob')?.displayName, 'Bobby');

    await w.page.click(`${row('admin')} .edit-user`);
    await w.page.waitForSelector('#edit-user h3:has-text("Edit admin")');
    assert.equal(await w.page.isDisabled('#eu-password'), false);
    assert.equal(await w.page.locator('#eu-directory').count(), 0);
  });

  it('a person gone from the directory is to be disabled, then disabled', async () => {
    await slapd.modify(`dn: ${personDn(ANN)}\nchangetype: delete\n`);
    await w.page.click('#users-directory-check');
    await w.page.waitForSelector('#users-directory-msg.ok:has-text("Checked")');
    const plan = (await w.page.textContent('#users-directory-result')) ?? '';
    assert.match(plan, /2 people in .*: 0 to create, 1 to change, 0 unchanged · 1 to disable · 1 skipped/);
    assert.match(plan, /change bob: displayName/, 'the directory sets back the name changed here');
    assert.match(plan, /disable ann \(no longer in the directory\)/);
    await w.page.click('#users-directory-sync');
    await w.page.waitForSelector(
      '#users-directory-msg.ok:has-text("Synchronized: 0 created, 1 changed, 1 disabled")',
    );
    await w.page.waitForSelector(`${row('ann')} td:has-text("disabled")`);
    // Again: the users match the directory.
    await w.page.click('#users-directory-check');
    await w.page.waitForSelector(
      '#users-directory-msg.ok:has-text("The users already match the directory: nothing to synchronize")',
    );
  });

  it('the audit log reads the sync and its users as sentences', async () => {
    const sentences = async (action: string) => {
      await searchAudit(w.page, action);
      return w.page.$$eval('tr.audit-row .audit-line', (td) => td.map((x) => x.textContent ?? ''));
    };
    await w.page.click('#tab-audit');
    await w.page.waitForSelector('#a-action');
    const syncs = await sentences('users.sync');
    const dir = slapd.url.replace(/[.]/g, '\\.');
    assert.equal(syncs.length, 2, JSON.stringify(syncs));
    assert.match(
      syncs[1] ?? '',
      new RegExp(
        `^admin synchronized the users with the directory ${dir} \\(3 people in the directory: 1 created, 1 changed, 0 unchanged, 1 skipped\\) from `,
      ),
    );
    assert.match(
      syncs[0] ?? '',
      new RegExp(
        `^admin synchronized the users with the directory ${dir} \\(2 people in the directory: 0 created, 1 changed, 0 unchanged, 1 disabled, 1 skipped\\)`,
      ),
    );
    const created = await sentences('user.create');
    assert.ok(
      created.some((s) => s.startsWith('admin created user ann from the directory')),
      JSON.stringify(created),
    );
    assert.ok(
      created.some((s) => s.startsWith('The server admin token created user bob from ')),
      'bob was created locally (with the API), not from the directory',
    );
    const updated = await sentences('user.update');
    assert.ok(
      updated.some((s) =>
        /^admin changed user bob from the directory: .*displayName: \S+ → Bob Park/.test(s),
      ),
      JSON.stringify(updated),
    );
    assert.ok(
      updated.some((s) => s.startsWith('admin changed user bob: displayName: Bob Park → Bobby')),
      'a change in the console is not from the directory',
    );
    assert.ok(
      updated.some((s) => s.startsWith('admin changed user ann from the directory: disabled: false → true')),
      JSON.stringify(updated),
    );
    await w.shot('users-directory-audit');
  });

  it('a directory that cannot be reached shows the server’s reason', async () => {
    await slapd.stop();
    await w.page.click('#tab-users');
    await w.page.click('#users-directory-check');
    const msg = w.page.locator('#users-directory-msg.error');
    await msg.waitFor();
    assert.match((await msg.textContent()) ?? '', /^The directory cannot be reached: .+/);
    assert.equal(await w.page.textContent('#users-directory-result'), '');
    assert.equal(await w.page.isDisabled('#users-directory-sync'), false);
  });
});

describe('web console in Chromium: no directory configured', { timeout: 120000, skip }, () => {
  let w: ConsoleWorld;
  before(async () => {
    w = await startConsoleWorld('console-directory-none');
    await openUsers(w);
  });
  after(async () => {
    await w?.close();
  });

  it('Check and Synchronize say to set directory.url in the config file', async () => {
    for (const button of ['#users-directory-check', '#users-directory-sync']) {
      const [answer] = await Promise.all([
        w.page.waitForResponse((r) => r.url().endsWith('/api/v1/users/sync')),
        w.page.click(button),
      ]);
      assert.equal(answer.status(), 409);
      // The buttons are back once the answer is shown.
      await w.page.waitForSelector(`${button}:not([disabled])`);
      assert.equal(await w.page.getAttribute('#users-directory-msg', 'class'), 'outcome error');
      assert.equal(
        await w.page.textContent('#users-directory-msg'),
        'No directory is configured: set directory.url (and directory.baseDn) in the config file, then restart the server.',
      );
    }
    const names = (await w.api<{ items: UserJson[] }>('/users')).items.map((u) => u.username);
    assert.deepEqual(names, ['admin']);
  });
});
