/**
 * The Dashboard in a real Chromium (Debian package, driven by playwright-core) against the real
 * server (test/helpers/console-world.ts) with one real SIPREC call (SIPp, alice and bob): the
 * active count turns to 1 during the call and back to 0 after it without a reload (the 10 s
 * refresh), and no refresh is asked once the view is left; after the call is stored, today's
 * calls and average duration are the report API's, the chart has 14 days ending today in the
 * browser's time zone (one where today is not UTC's day) with today's bar at 1; the admin sees
 * the top users and groups and the capacity and delivery lines; a supervisor of the caller's group
 * sees the call, a user who does not own it sees 0, a record-only account has no Dashboard; in
 * French and in Russian the page shows no English string the catalogue translates.
 * Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { CATALOGUES } from '../../web/src/i18n/catalogues.js';
import { createUsers } from '../helpers/console-catalogue.js';
import { logInAs } from '../helpers/console-session.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

/**
 * A browser time zone whose today is not UTC's, at least an hour from its midnight: UTC-12 before
 * 11:00 UTC (12:00-22:59 the day before), UTC+14 from then (01:00-13:59 the day after).
 */
const ZONE = new Date().getUTCHours() < 11 ? 'Etc/GMT+12' : 'Pacific/Kiritimati';
/** YYYY-MM-DD of `d` in ZONE (written out here, not taken from the console's code). */
const dayIn = (d: Date) =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(d);
/** The 14 days the chart should show, oldest first (the zones have no summer time). */
const lastDays = () =>
  Array.from({ length: 14 }, (_, i) => dayIn(new Date(Date.now() - (13 - i) * 86_400_000)));

/** Seconds as the console shows them (m:ss, h:mm:ss from an hour on). */
const dur = (s: number) => {
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
};

type Lang = 'fr' | 'ru';
/** `s` as the console's catalogue translates it. */
function tr(lang: Lang, s: string): string {
  let out = s;
  for (const c of CATALOGUES) {
    const e = c[lang]?.[s];
    if (typeof e === 'string') out = e;
  }
  return out;
}

/** The English strings of the page that the catalogue translates otherwise in `lang`. */
async function englishLeft(page: Page, lang: Lang): Promise<string[]> {
  const english = new Set<string>();
  for (const c of CATALOGUES)
    for (const [k, v] of Object.entries(c[lang] ?? {}))
      if (typeof v === 'string' && v !== k && !/\{\w+\}/.test(k)) english.add(k);
  english.delete('admin');
  const texts = await page.evaluate(() => {
    const out: string[] = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) out.push((n.textContent ?? '').trim());
    for (const el of document.querySelectorAll('[title], [aria-label]'))
      for (const a of ['title', 'aria-label']) out.push(el.getAttribute(a)?.trim() ?? '');
    return out.filter(Boolean);
  });
  return texts.filter((s) => english.has(s));
}

describe(
  'web console in Chromium: dashboard',
  { timeout: 300000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    /** The requests of the active-call refresh the page made. */
    let callPolls = 0;
    const count = (sel: string) => w.page.getAttribute(sel, 'data-count');
    const openDashboard = async () => {
      await w.page.click('#tab-dashboard');
      await w.page.waitForSelector('#tab-dashboard.active');
      await w.page.waitForSelector('#dash-today-calls');
    };
    /** The chart's bars: day, calls, and the title of the day's group. */
    const bars = () =>
      w.page.$$eval('#dash-chart g.day', (gs) =>
        gs.map((g) => ({
          day: g.getAttribute('data-day'),
          calls: g.querySelector('rect.bar')?.getAttribute('data-calls'),
          title: g.querySelector('title')?.textContent ?? '',
        })),
      );

    before(async () => {
      w = await startConsoleWorld('console-dashboard');
      const cdp = await w.page.context().newCDPSession(w.page);
      await cdp.send('Emulation.setTimezoneOverride', { timezoneId: ZONE });
      // SIPp's call is between sip:alice@example.com and sip:bob@example.com.
      await createUsers(w, [
        { username: 'alice', role: 'user', group: 'sales', numbers: ['alice'] },
        { username: 'sue', role: 'supervisor', group: 'sales', numbers: ['5550100'] },
        { username: 'carol', role: 'user', group: 'support', numbers: ['1003'] },
        { username: 'rec', role: 'record-only', numbers: ['1009'] },
      ]);
      w.page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/v1/calls') callPolls++;
      });
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.waitForSelector('#tab-live.active');
    });

    after(async () => {
      await w?.close();
    });

    it('counts the live call, then today’s call and its duration as the report API does', async () => {
      const { page } = w;
      const tabs = await page.$$eval('#nav a', (as) => as.map((a) => a.id));
      assert.deepEqual(tabs.slice(0, 3), ['tab-live', 'tab-dashboard', 'tab-recordings'], 'right after Live');
      await openDashboard();
      assert.equal(new URL(page.url()).pathname, '/dashboard');
      await page.waitForSelector('#dash-active-count[data-count="0"]');
      assert.equal(
        await page.textContent('#dash-zone').then((s) => s?.includes(ZONE)),
        true,
        'the browser’s zone',
      );
      assert.deepEqual(
        (await bars()).map((b) => [b.day, b.calls]),
        lastDays().map((d) => [d, '0']),
        'fourteen days ending today in the browser’s zone, all at zero',
      );

      const live = await w.placeCall(16000, async () => {
        // No reload: the 10 s refresh brings the call in.
        await page.waitForSelector('#dash-active-count[data-count="1"]', { timeout: 13000 });
        assert.equal(await page.textContent('#dash-active-count'), '1');
        assert.equal(await page.getAttribute('#dash-live', 'href'), '/live');
      });
      await w.stored(live.callId);
      await page.waitForSelector('#dash-active-count[data-count="0"]', { timeout: 13000 });

      // A reload of /dashboard is served the console (and shows the stored call).
      const res = await page.reload();
      assert.equal(res?.status(), 200);
      await page.waitForSelector('#dash-today-calls[data-count="1"]');
      const today = dayIn(new Date());
      const api = await w.api<{
        rows: { key: string; calls: number; totalSeconds: number; averageSeconds: number }[];
      }>(
        `/reports?by=day&from=${new Date(Date.now() - 3 * 86_400_000).toISOString()}&tz=${encodeURIComponent(ZONE)}`,
      );
      const row = api.rows.find((r) => r.key === today);
      assert.ok(row, `today (${today}) in the report: ${JSON.stringify(api)}`);
      assert.equal(row.calls, 1);
      assert.ok(row.averageSeconds >= 10 && row.averageSeconds <= 25, `a 16 s call: ${row.averageSeconds}`);
      assert.equal(
        await page.getAttribute('#dash-today-average', 'data-seconds'),
        String(row.averageSeconds),
      );
      assert.equal(await page.textContent('#dash-today-average'), dur(row.averageSeconds));
      assert.equal(await page.textContent('#dash-today-total'), dur(row.totalSeconds));

      // The chart: 14 bars, today's the last at 1 (its title says so), the y axis labelled.
      const chart = await bars();
      assert.equal(await page.locator('#dash-chart rect.bar').count(), 14);
      assert.deepEqual(
        chart.map((b) => [b.day, b.calls]),
        lastDays().map((d) => [d, d === today ? '1' : '0']),
      );
      assert.match(chart[13]?.title ?? '', new RegExp(`: 1 call, average ${dur(row.averageSeconds)}$`));
      assert.match(chart[0]?.title ?? '', /: no calls$/);
      assert.equal(await page.textContent('#dash-chart text.axis'), 'Calls');
      const ticks = await page.$$eval('#dash-chart text.tick', (ts) => ts.map((x) => x.textContent));
      assert.ok(ticks.includes('0') && ticks.includes('1'), `y axis ticks: ${ticks.join(' ')}`);

      // The admin's: the busiest users and groups, capacity and delivery a line each.
      await page.waitForSelector('#dash-top-users tr.dash-top-row');
      const top = (id: string) =>
        page.$$eval(`${id} tr.dash-top-row`, (trs) =>
          trs.map((r) => [...(r as HTMLTableRowElement).cells].map((c) => c.textContent)),
        );
      assert.deepEqual(await top('#dash-top-users'), [['alice', '1', dur(row.averageSeconds)]]);
      assert.deepEqual(await top('#dash-top-groups'), [['sales', '1', dur(row.averageSeconds)]]);
      await page.waitForFunction(() => !document.querySelector('#dash-capacity')?.textContent?.includes('…'));
      assert.match(
        (await page.textContent('#dash-capacity')) ?? '',
        /^Post-call processing: (\d+ % of capacity in use|no backlog limit), 0 recordings waiting; taking new calls\. Live$/,
      );
      await page.waitForSelector('#dash-delivery[data-enabled]');
      assert.match((await page.textContent('#dash-delivery')) ?? '', /^Delivery(:| is off).* Delivery$/);
      assert.equal(await page.getAttribute('#dash-delivery a', 'href'), '/delivery');
      await w.shot('dashboard');

      // Left, the view asks no more.
      await page.click('#tab-reports');
      await page.waitForSelector('#tab-reports.active');
      callPolls = 0;
      await page.waitForTimeout(11_500);
      assert.equal(callPolls, 0, 'no refresh of the active calls after leaving the Dashboard');
    });

    it('shows each viewer their own scope; record-only has no Dashboard', async () => {
      const { page } = w;
      const today = dayIn(new Date());
      const todayBar = async () => (await bars()).find((b) => b.day === today)?.calls;

      await logInAs(w, 'sue', 'supervisor');
      await openDashboard();
      assert.equal(await count('#dash-today-calls'), '1', 'the supervisor of the caller’s group');
      await page.waitForSelector('#dash-top-groups tr.dash-top-row[data-key="sales"]');
      assert.equal(await page.$('#dash-server'), null, 'capacity and delivery: admins only');

      await logInAs(w, 'alice', 'user');
      await openDashboard();
      assert.equal(await count('#dash-today-calls'), '1', 'the caller');
      assert.equal(await page.$('#dash-top-users'), null, 'no top lists for a user');

      await logInAs(w, 'carol', 'user');
      await openDashboard();
      assert.equal(await count('#dash-today-calls'), '0', 'not hers');
      assert.equal(await todayBar(), '0');
      assert.equal(await page.textContent('#dash-today-average'), '0:00');

      await logInAs(w, 'rec', 'record-only');
      assert.equal(await page.$('#tab-dashboard'), null);
      await page.goto(`${w.base}/dashboard`);
      await page.waitForSelector('#tab-live.active');
      assert.equal(new URL(page.url()).pathname, '/live', 'not hers: the first view instead');
    });

    it('speaks French and Russian', async () => {
      const { page } = w;
      await logInAs(w, 'carol', 'user');
      await page.selectOption('#language', 'fr');
      await page.waitForFunction(() => document.documentElement.lang === 'fr');
      await openDashboard();
      assert.notEqual(tr('fr', 'Dashboard'), 'Dashboard');
      assert.equal(await page.textContent('h2'), tr('fr', 'Dashboard'));
      assert.equal(await page.textContent('#tab-dashboard'), tr('fr', 'Dashboard'));
      assert.match((await bars())[0]?.title ?? '', / : aucun appel$/);
      await page.waitForTimeout(500);
      assert.deepEqual(await englishLeft(page, 'fr'), [], 'English left in the French dashboard');
      await w.shot('dashboard-fr');

      // The admin's page, every part of it, in Russian.
      await logInAs(w, 'admin', 'admin', ADMIN_PASSWORD);
      await page.selectOption('#language', 'ru');
      await page.waitForFunction(() => document.documentElement.lang === 'ru');
      await openDashboard();
      await page.waitForSelector('#dash-top-groups tr.dash-top-row');
      await page.waitForSelector('#dash-delivery[data-enabled]');
      await page.waitForTimeout(1000);
      assert.equal(await page.textContent('h2'), tr('ru', 'Dashboard'));
      assert.deepEqual(await englishLeft(page, 'ru'), [], 'English left in the Russian dashboard');
      await w.shot('dashboard-ru');
    });
  },
);
