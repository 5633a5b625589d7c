/**
 * The web console's languages in a real Chromium (Debian package, driven by playwright-core)
 * against the real server (test/helpers/console-world.ts), with a recording written into its
 * catalogue: the console follows the browser's language until one is set; a user's own choice
 * (the picker in the header) is kept across reloads and beats their group's default, which beats the
 * site's; times are written the language's way; and, with Russian chosen, no view of the admin's
 * console shows a string in English that has a Russian translation. Expected texts come from the
 * console's own catalogue (web/src/i18n/). Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/store/db.js';
import { CATALOGUES } from '../../web/src/i18n/catalogues.js';
import { attachCatalogue, createUsers, storedCall } from '../helpers/console-catalogue.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

type Lang = 'es' | 'fr' | 'pt-BR' | 'ru';
/** `s` translated as the console's catalogue has it (English when it has none). */
function tr(lang: Lang, s: string, params: Record<string, string> = {}): string {
  let out = s;
  for (const c of CATALOGUES) {
    const e = c[lang]?.[s];
    if (typeof e === 'string') out = e;
  }
  return out.replace(/\{(\w+)\}/g, (m, k: string) => params[k] ?? m);
}

/** Every text a person reads on the page: text nodes, placeholders, titles, labels, button values. */
const texts = (page: Page) =>
  page.evaluate(() => {
    const out: string[] = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const s = (n.textContent ?? '').trim();
      if (s) out.push(s);
    }
    for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]'))
      for (const a of ['placeholder', 'title', 'aria-label']) {
        const v = el.getAttribute(a)?.trim();
        if (v) out.push(v);
      }
    return out;
  });

describe(
  'web console in Chromium: languages',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let db: Database | undefined;
    let recordingId = '';
    const started = new Date('2026-03-05T14:07:09Z');

    const logInAs = async (username: string, password: string) => {
      await w.page.goto(`${w.base}/live`);
      // The console asks the server who is signed in first: the sign-in form, or the header.
      await w.page.waitForSelector('#username, #logout');
      if (await w.page.isVisible('#logout')) await w.page.click('#logout');
      await w.page.waitForSelector('#username');
      await w.page.fill('#username', username);
      await w.page.fill('#password', password);
      await w.page.click('#login');
      await w.page.waitForSelector('#logout');
    };
    const tab = (page: Page, id: string) => page.textContent(`#tab-${id}`);

    before(async () => {
      w = await startConsoleWorld('console-languages', { locale: 'fr-FR' });
      db = await attachCatalogue(w);
      await createUsers(w, [
        { username: 'alice', role: 'user', group: 'sales', numbers: ['1001'] },
        { username: 'carol', role: 'user', group: 'support', numbers: ['1003'] },
      ]);
      recordingId = await storedCall(db, {
        name: 'lang1',
        suite: 'console-languages',
        from: '1001',
        to: '1003',
        at: started,
        seconds: 95,
      });
    });

    after(async () => {
      await db?.close();
      await w?.close();
    });

    it('follows the browser, then the user’s choice over the group’s over the site’s', async () => {
      const { page, base, shot } = w;
      await page.goto(`${base}/live`);
      await page.waitForSelector('#login');
      assert.equal(await page.textContent('#login'), tr('fr', 'Sign in'), 'the browser is French');
      assert.notEqual(tr('fr', 'Sign in'), 'Sign in');
      await logInAs('alice', 'alice-password');
      assert.equal(await tab(page, 'recordings'), tr('fr', 'Recordings'));
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'fr');
      // Times the French way, as the browser itself writes them in French.
      await page.click('#tab-recordings');
      const french = await page.evaluate((iso) => new Date(iso).toLocaleString('fr'), started.toISOString());
      await page.waitForSelector(`tr:has-text("${french}")`);
      await shot('lang-1-french-browser');

      // Her own choice, kept by the server: Spanish after a reload too.
      await page.selectOption('#language', 'es');
      await page.waitForFunction(() => document.documentElement.lang === 'es');
      assert.equal(await tab(page, 'recordings'), tr('es', 'Recordings'));
      await page.reload();
      await page.waitForSelector('#logout');
      assert.equal(await tab(page, 'recordings'), tr('es', 'Recordings'), 'kept across a reload');
      assert.equal(await page.inputValue('#language'), 'es');

      // The admin (no language of their own: the browser's French) sets the sales group's default
      // on the Users page and the site's on the Settings page.
      await logInAs('admin', ADMIN_PASSWORD);
      assert.equal(await tab(page, 'users'), tr('fr', 'Users'));
      await page.click('#tab-users');
      await page.selectOption('select.group-language[data-group="sales"]', 'ru');
      await page.waitForSelector(`#users-msg.ok`);
      await page.click('#tab-settings');
      await page.selectOption('#site-language-select', 'pt-BR');
      await page.waitForSelector(`#settings-msg.ok`);
      const levels = await w.api<{ site: string; groups: Record<string, string> }>('/languages');
      assert.deepEqual([levels.site, levels.groups], ['pt-BR', { sales: 'ru' }]);

      // Her own choice still wins; back on "Default", her group's applies; another group gets the site's.
      await logInAs('alice', 'alice-password');
      assert.equal(await tab(page, 'recordings'), tr('es', 'Recordings'), 'her own still wins');
      await page.selectOption('#language', '');
      await page.waitForFunction(() => document.documentElement.lang === 'ru');
      assert.equal(await tab(page, 'recordings'), tr('ru', 'Recordings'));
      const defaultOption = await page.textContent('#language option[value=""]');
      assert.equal(defaultOption, tr('ru', 'Default ({language})', { language: 'Русский' }));
      const russian = await page.evaluate((iso) => new Date(iso).toLocaleString('ru'), started.toISOString());
      await page.click('#tab-recordings');
      await page.waitForSelector(`tr:has-text("${russian}")`);
      await shot('lang-2-group-russian');

      await logInAs('carol', 'carol-password');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'pt-BR', 'support: the site’s');
      assert.equal(await tab(page, 'recordings'), tr('pt-BR', 'Recordings'));
    });

    it('leaves no English in any view of the admin’s console in Russian', async () => {
      const { page, base, shot } = w;
      await logInAs('admin', ADMIN_PASSWORD);
      await page.selectOption('#language', 'ru');
      await page.waitForFunction(() => document.documentElement.lang === 'ru');
      // The English strings the catalogue translates into something else in Russian.
      const english = new Set<string>();
      for (const c of CATALOGUES)
        for (const [k, v] of Object.entries(c.ru ?? {}))
          if (typeof v === 'string' && v !== k && !/\{\w+\}/.test(k)) english.add(k);
      assert.ok(english.size > 200, `the catalogue has the console's strings (${english.size})`);

      const views = [
        'live',
        'recordings',
        'reports',
        'audit',
        'tokens',
        'users',
        'settings',
        'keys',
        'delivery',
      ];
      // Data that reads like a word the catalogue has: the admin's user name.
      english.delete('admin');
      const leaks: string[] = [];
      // The language changes are in the trail, in Russian sentences.
      await page.click('#tab-audit');
      await page.waitForSelector(
        `text=${tr('ru', '{who} set the default console language of group {name} to {language}', { who: 'admin', name: 'sales', language: 'Русский' })}`,
      );
      const sweep = async (where: string) => {
        // Each view loads its data after it is drawn: give it time, then read everything.
        await page.waitForTimeout(1500);
        for (const s of await texts(page)) if (english.has(s)) leaks.push(`${where}: ${JSON.stringify(s)}`);
      };
      for (const v of views) {
        await page.click(`#tab-${v}`);
        await page.waitForSelector(`#tab-${v}.active`);
        await sweep(v);
      }
      await page.goto(`${base}/recordings/${recordingId}`);
      await page.waitForSelector('#logout');
      await sweep('recording');
      await shot('lang-3-recording-russian');
      assert.deepEqual(leaks, [], 'English left in the Russian console');
    });
  },
);
