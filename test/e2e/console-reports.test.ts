/**
 * Reports in the web console, in a real Chromium (Debian package, driven by playwright-core) set to
 * the America/New_York time zone, against the real server (test/helpers/console-world.ts) with
 * five recordings of known start times and durations written into its catalogue (the embedded
 * Postgres the server runs, attached to) and users created through the API: the admin's report
 * per day (days cut in the browser's zone, not UTC), per user and per group (a "(no user)" row for
 * the call no user took part in) with the seeded figures, a From / To range of whole local days,
 * the CSV link's file matching the table, the report kept across a reload, the API's refusal of
 * a reversed range shown; a user sees only their own calls' figures; a record-only account has
 * no Reports tab. Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/store/db.js';
import { attachCatalogue, createUsers, storedCall } from '../helpers/console-catalogue.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

/** The browser's zone: UTC-5 in November 2026 (DST ended on 1 November). */
const ZONE = 'America/New_York';

/**
 * The calls: who took part (a number each; 1001 alice, 1002 bob, 1003 carol, others nobody's),
 * when (UTC) and how long. r3 is 10 November in New York but 11 November in UTC, r5 12 November
 * in New York but 13 November in UTC.
 */
const CALLS = [
  {
    name: 'r1',
    from: '1001',
    to: '4930123456',
    at: '2026-11-10T14:00:00Z',
    seconds: 65,
    interaction: 'ix-1',
  },
  {
    name: 'r2',
    from: '4930123457',
    to: '1002',
    at: '2026-11-10T16:00:00Z',
    seconds: 125,
    interaction: 'ix-1',
  },
  { name: 'r3', from: '1001', to: '1003', at: '2026-11-11T03:30:00Z', seconds: 3725 },
  { name: 'r4', from: '5550001', to: '5550002', at: '2026-11-11T15:00:00Z', seconds: 30 },
  { name: 'r5', from: '1003', to: '4930123458', at: '2026-11-13T02:00:00Z', seconds: 600 },
];

const USERS = [
  { username: 'alice', group: 'sales', numbers: ['1001'], role: 'user' },
  { username: 'bob', group: 'support', numbers: ['1002'], role: 'user' },
  { username: 'carol', group: 'sales', numbers: ['1003'], role: 'user' },
  { username: 'rec', numbers: ['1009'], role: 'record-only' },
];

/** The texts of the cells of the rows `rows` selects (a row per array, the bar column left out). */
const cells = (page: Page, rows: string) =>
  page.$$eval(rows, (trs) =>
    trs.map((tr) => [...(tr as HTMLTableRowElement).cells].slice(0, 5).map((c) => c.textContent ?? '')),
  );

/** Seconds as the console shows them (written out here, not taken from the console's code). */
const dur = (s: number) => {
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
};

describe(
  'web console in Chromium: reports',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let db: Database | undefined;

    before(async () => {
      w = await startConsoleWorld('console-reports');
      // The browser's time zone, for this page (it lasts across navigations and reloads).
      const cdp = await w.page.context().newCDPSession(w.page);
      await cdp.send('Emulation.setTimezoneOverride', { timezoneId: ZONE });
      await createUsers(w, USERS);
      db = await attachCatalogue(w);
      // r1 and r2: one interaction (their SRC named one SIPREC session group).
      for (const c of CALLS)
        await storedCall(db, {
          ...c,
          suite: 'reports',
          at: new Date(c.at),
          ...('interaction' in c ? { interaction: c.interaction } : {}),
        });
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.waitForSelector('#tab-live.active');
    });

    after(async () => {
      await db?.close();
      await w?.close();
    });

    /** Runs `act` (a click that shows a report) and waits for the report drawn; the API query asked. */
    const report = async (act: () => Promise<unknown>): Promise<URLSearchParams> => {
      const { page } = w;
      const [res] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/reports'),
        act(),
      ]);
      await page.waitForSelector('#report-table:not([aria-busy])');
      return new URL(res.url()).searchParams;
    };
    const choose = async (by: string, from: string, to: string) => {
      await w.page.selectOption('#report-by', by);
      await w.page.fill('#report-from', from);
      await w.page.fill('#report-to', to);
      return report(() => w.page.click('#report-show'));
    };
    const rows = () => cells(w.page, '#report-table tr.report-row');
    const total = async () => (await cells(w.page, '#report-total'))[0];
    /** The CSV the Download CSV link leads to, fetched in the page with its session; its rows. */
    const downloaded = async () => {
      const { page } = w;
      assert.equal(await page.getAttribute('#report-csv', 'download'), '');
      const got = await page.evaluate(async () => {
        const a = document.querySelector('#report-csv') as HTMLAnchorElement;
        const r = await fetch(a.href);
        return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
      });
      assert.equal(got.status, 200, got.text);
      assert.match(got.type ?? '', /^text\/csv/);
      return got.text
        .replace(/^\uFEFF/, '')
        .split(/\r?\n/)
        .filter(Boolean)
        .map((l) => l.split(','));
    };
    /** The CSV as the table shows it: durations formatted, "total" as Total, an empty key as the label. */
    const asTable = (csv: string[][], none: string) =>
      csv
        .slice(1)
        .map(([key = '', calls = '', ...secs]) => [
          key === 'total' ? 'Total' : key || none,
          calls,
          ...secs.map((s) => dur(Number(s))),
        ]);

    it('shows the admin the seeded figures per day, user and group, over a range, as CSV, after a reload', async () => {
      const { page, base, shot, api } = w;
      // Per day (the default), over everything: the days are New York's.
      const asked = await report(() => page.click('#tab-reports'));
      assert.equal(new URL(page.url()).pathname, '/reports');
      assert.equal(await page.getAttribute('#tab-reports', 'class'), 'button active');
      assert.deepEqual(Object.fromEntries(asked), { by: 'day', tz: ZONE });
      assert.match((await page.textContent('#report-zone')) ?? '', /America\/New_York/);
      assert.deepEqual(await page.$$eval('#report-table thead th', (ths) => ths.map((t) => t.textContent)), [
        'Day',
        'Calls',
        'Total',
        'Average',
        'Longest',
        '',
      ]);
      assert.deepEqual(await rows(), [
        ['2026-11-10', '3', '1:05:15', '21:45', '1:02:05'],
        ['2026-11-11', '1', '0:30', '0:30', '0:30'],
        ['2026-11-12', '1', '10:00', '10:00', '10:00'],
      ]);
      assert.deepEqual(await total(), ['Total', '5', '1:15:45', '15:09', '1:02:05']);
      // The bars: as wide as the row's share of the most calls.
      assert.deepEqual(
        await page.$$eval('#report-table tr.report-row .bar', (bs) =>
          bs.map((b) => (b as HTMLElement).style.width),
        ),
        ['100%', '33.3%', '33.3%'],
      );
      // The same report from the API (admin token) in UTC cuts the days elsewhere: the zone counts.
      const utc = await api<{ rows: { key: string; calls: number }[] }>('/reports?by=day');
      assert.deepEqual(
        utc.rows.map((r) => [r.key, r.calls]),
        [
          ['2026-11-10', 2],
          ['2026-11-11', 2],
          ['2026-11-13', 1],
        ],
      );
      await shot('reports-1-day');

      // Per user: a call between alice and carol counts for both; the call of nobody's numbers is "(no user)".
      await report(() => page.selectOption('#report-by', 'user').then(() => page.click('#report-show')));
      assert.equal(await page.textContent('#report-table thead th'), 'User');
      assert.deepEqual(await rows(), [
        ['alice', '2', '1:03:10', '31:35', '1:02:05'],
        ['carol', '2', '1:12:05', '36:03', '1:02:05'],
        ['bob', '1', '2:05', '2:05', '2:05'],
        ['(no user)', '1', '0:30', '0:30', '0:30'],
      ]);
      assert.deepEqual(await total(), ['Total', '5', '1:15:45', '15:09', '1:02:05']);
      assert.match((await page.textContent('#report-note')) ?? '', /counts in each of their rows/);
      await shot('reports-2-user');

      // Per group: alice and carol are both sales, so their call counts once there.
      await report(() => page.selectOption('#report-by', 'group').then(() => page.click('#report-show')));
      assert.deepEqual(await rows(), [
        ['sales', '3', '1:13:10', '24:23', '1:02:05'],
        ['support', '1', '2:05', '2:05', '2:05'],
        ['(no group)', '1', '0:30', '0:30', '0:30'],
      ]);
      const groupCsv = await downloaded();
      assert.deepEqual(groupCsv, [
        ['group', 'calls', 'total_s', 'average_s', 'longest_s'],
        ['sales', '3', '4390', '1463', '3725'],
        ['support', '1', '125', '125', '125'],
        ['(no group)', '1', '30', '30', '30'],
        ['total', '5', '4545', '909', '3725'],
      ]);
      await shot('reports-3-group');

      // From 11 to 12 November: whole days in New York (00:00 of the 11th to 00:00 of the 13th),
      // so r3 (03:30Z on the 11th, the 10th there) is out and r5 (02:00Z on the 13th) is in.
      const ranged = await choose('day', '2026-11-11', '2026-11-12');
      assert.deepEqual(Object.fromEntries(ranged), {
        by: 'day',
        from: '2026-11-11T05:00:00.000Z',
        to: '2026-11-13T05:00:00.000Z',
        tz: ZONE,
      });
      assert.deepEqual(await rows(), [
        ['2026-11-11', '1', '0:30', '0:30', '0:30'],
        ['2026-11-12', '1', '10:00', '10:00', '10:00'],
      ]);
      assert.deepEqual(await total(), ['Total', '2', '10:30', '5:15', '10:00']);
      const dayCsv = await downloaded();
      assert.deepEqual(dayCsv[0], ['day', 'calls', 'total_s', 'average_s', 'longest_s']);
      assert.deepEqual(asTable(dayCsv, ''), [...(await rows()), await total()]);

      // Per user over the same range; the CSV link asks the same, and its rows are the table's.
      await report(() => page.selectOption('#report-by', 'user').then(() => page.click('#report-show')));
      assert.deepEqual(await rows(), [
        ['carol', '1', '10:00', '10:00', '10:00'],
        ['(no user)', '1', '0:30', '0:30', '0:30'],
      ]);
      const link = new URL((await page.getAttribute('#report-csv', 'href')) ?? '', base);
      assert.equal(link.pathname, '/api/v1/reports');
      assert.deepEqual(Object.fromEntries(link.searchParams), {
        by: 'user',
        from: '2026-11-11T05:00:00.000Z',
        to: '2026-11-13T05:00:00.000Z',
        tz: ZONE,
        format: 'csv',
      });
      const userCsv = await downloaded();
      assert.deepEqual(userCsv, [
        ['user', 'calls', 'total_s', 'average_s', 'longest_s'],
        ['carol', '1', '600', '600', '600'],
        ['(no user)', '1', '30', '30', '30'],
        ['total', '2', '630', '315', '600'],
      ]);
      assert.deepEqual(asTable(userCsv, '(no user)'), [...(await rows()), await total()]);

      // The form is in the address: a reload shows the same report.
      const address = new URL(page.url());
      assert.equal(address.pathname + address.search, '/reports?by=user&from=2026-11-11&to=2026-11-12');
      const again = await report(async () => {
        const doc = await page.reload();
        assert.equal(doc?.status(), 200, 'the server gives the console page at /reports');
      });
      assert.equal(again.get('from'), '2026-11-11T05:00:00.000Z');
      assert.equal(await page.inputValue('#report-by'), 'user');
      assert.equal(await page.inputValue('#report-from'), '2026-11-11');
      assert.equal(await page.inputValue('#report-to'), '2026-11-12');
      assert.deepEqual(await rows(), [
        ['carol', '1', '10:00', '10:00', '10:00'],
        ['(no user)', '1', '0:30', '0:30', '0:30'],
      ]);
      assert.deepEqual(await total(), ['Total', '2', '10:30', '5:15', '10:00']);
      await shot('reports-4-range');

      // A row leads to its recordings over the report's days (11-12 November in New York): "(no
      // user)" to the call of nobody's numbers (r4), carol to hers (r5; r3 is 10 November there).
      const listed = async (link: string) => {
        await page.click(`#report-table a.report-link:text-is("${link}")`);
        await page.waitForSelector('#rec-count:not(:empty)');
        await page.waitForFunction(() =>
          /of \d+$/.test(document.querySelector('#rec-count')?.textContent ?? ''),
        );
        const ids = await page.$$eval('tr.recording-row td:nth-child(5)', (tds) =>
          tds.map((t) => t.textContent),
        );
        await page.goBack();
        await page.waitForSelector('#report-table tr.report-row');
        return ids;
      };
      assert.deepEqual(await listed('(no user)'), ['r4@reports']);
      assert.deepEqual(await listed('carol'), ['r5@reports']);

      // A To before the From: the API's refusal, word for word, and no figures left on the page.
      const refused = await choose('day', '2026-11-12', '2026-11-10');
      const r = await fetch(`${base}/api/v1/reports?${refused}`, {
        headers: { authorization: `Bearer ${w.server.token}` },
      });
      assert.equal(r.status, 400);
      const error = ((await r.json()) as { error: string }).error;
      assert.match(error, /^from: /);
      await page.waitForSelector('#report-msg.error');
      assert.equal(await page.textContent('#report-msg'), error);
      assert.equal(await page.locator('#report-table tr.report-row, #report-total').count(), 0);
      assert.equal(await page.textContent('#report-table thead th'), 'Day');
      await shot('reports-5-refused');

      // A good report again clears the message.
      await choose('day', '2026-11-10', '2026-11-10');
      assert.equal(await page.textContent('#report-msg'), '');
      assert.deepEqual(await rows(), [['2026-11-10', '3', '1:05:15', '21:45', '1:02:05']]);

      // Interactions: the list marks r1 and r2 and lists them together; the details list the parts.
      await page.goto(`${base}/recordings?interaction=ix-1`);
      await page.waitForSelector('#rec-count:text-is("1–2 of 2")');
      const callIds = () =>
        page.$$eval('tr.recording-row td:nth-child(5)', (tds) => tds.map((t) => t.textContent));
      assert.deepEqual(await callIds(), ['r2@reports', 'r1@reports']);
      assert.equal(await page.locator('tr.recording-row a.interaction-link').count(), 2);
      await page.click('tr.recording-row:has-text("r1@reports") td:nth-child(2) a');
      await page.waitForSelector('#interaction');
      assert.equal(await page.textContent('#interaction h3'), 'Interaction: 2 recordings');
      const parts = await page.$$eval('#interaction li.interaction-part', (lis) =>
        lis.map((li) => ({ link: li.querySelector('a') !== null, text: li.textContent ?? '' })),
      );
      assert.deepEqual(
        parts.map((p) => p.link),
        [false, true],
        'r1 (this one) first, then a link to r2',
      );
      assert.match(parts[0]?.text ?? '', /\(this recording\) 1:05 — /);
      assert.match(parts[1]?.text ?? '', /2:05 — /);
      // The whole interaction's player and download (these parts have no audio: the API says so).
      const src = await page.getAttribute('#interaction-audio', 'src');
      assert.equal(src, '/api/v1/interactions/ix-1/audio?format=mp3');
      const joined = await page.request.get(`${base}${src}`);
      assert.equal(joined.status(), 409, await joined.text());
      assert.equal(
        await page.getAttribute('#interaction-download', 'href'),
        '/api/v1/interactions/ix-1/download?format=mp3',
      );
      await shot('reports-7-interaction');
    });

    it('shows a user only the figures of their own calls, and a record-only account no reports', async () => {
      const { page, shot } = w;
      // A fresh session from / (whatever the test before left on the page, and not the admin's
      // report address, which would be shown again): the first report seen is the tab's.
      const logIn = async (username: string, role: string) => {
        await page.context().clearCookies();
        await page.goto(w.base);
        await page.fill('#username', username);
        await page.fill('#password', `${username}-password`);
        await page.click('#login');
        await page.waitForSelector(`#whoami:has-text("${username} (${role})")`);
        await page.waitForSelector('#tab-live.active');
      };
      await logIn('alice', 'user');
      // The tab leads to /reports without the admin's range: everything alice may see (r1, r3).
      await report(() => page.click('#tab-reports'));
      assert.equal(new URL(page.url()).search, '?by=day');
      assert.deepEqual(await rows(), [['2026-11-10', '2', '1:03:10', '31:35', '1:02:05']]);
      assert.deepEqual(await total(), ['Total', '2', '1:03:10', '31:35', '1:02:05']);
      await report(() => page.selectOption('#report-by', 'user').then(() => page.click('#report-show')));
      assert.deepEqual(await rows(), [
        ['alice', '2', '1:03:10', '31:35', '1:02:05'],
        ['carol', '1', '1:02:05', '1:02:05', '1:02:05'],
      ]);
      assert.deepEqual(await total(), ['Total', '2', '1:03:10', '31:35', '1:02:05']);
      const csv = await downloaded();
      assert.deepEqual(asTable(csv, '(no user)'), [...(await rows()), await total()]);
      await shot('reports-6-user');

      // Record-only: no Reports tab, and the API says no to its session.
      await logIn('rec', 'record-only');
      assert.equal(await page.locator('#tab-reports').count(), 0);
      const status = await page.evaluate(async () => (await fetch('/api/v1/reports?by=day')).status);
      assert.equal(status, 403);
    });
  },
);
