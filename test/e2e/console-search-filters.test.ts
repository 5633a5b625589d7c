/**
 * The recordings search form's caller, callee, direction, call length (seconds on the form,
 * milliseconds in the API's filters) and preserved filters, in a real Chromium (Debian package,
 * driven by playwright-core) against the real server (test/helpers/console-world.ts) with three
 * recordings written into its catalogue: each filter narrows the list to the expected rows, the
 * search is in the page's address and survives a reload. Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Database } from '../../src/store/db.js';
import { attachCatalogue, storedCall } from '../helpers/console-catalogue.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

describe(
  'web console in Chromium: search by caller, callee, direction, call length, preserved',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let db: Database | undefined;
    const ids: Record<string, string> = {};

    before(async () => {
      w = await startConsoleWorld('console-search-filters');
      db = await attachCatalogue(w);
      const calls = [
        { name: 'a', from: '+4930111', to: '1001', at: '10:00', seconds: 65, direction: 'inbound' },
        { name: 'b', from: '1001', to: '+4940222', at: '11:00', seconds: 20, direction: 'outbound' },
        { name: 'c', from: '+4930333', to: '1002', at: '12:00', seconds: 300, direction: 'inbound' },
      ];
      for (const c of calls) {
        ids[c.name] = await storedCall(db, {
          ...c,
          suite: 'search-filters',
          at: new Date(`2026-05-04T${c.at}:00Z`),
        });
        await db.pool.query('UPDATE recordings SET direction = $2 WHERE id = $1', [ids[c.name], c.direction]);
      }
      await db.pool.query('UPDATE recordings SET preserved_at = now(), preserved_by = $2 WHERE id = $1', [
        ids.a,
        'admin',
      ]);
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.waitForSelector('#tab-live.active');
    });

    after(async () => {
      await db?.close();
      await w?.close();
    });

    it('narrows the list by each new filter, keeps the search in the address and across a reload', async () => {
      const { page, base, shot } = w;
      const name = (id: string | undefined) => Object.keys(ids).find((k) => ids[k] === id) ?? id;
      /** Searches (or waits for the search a load runs) and returns the rows' names, newest first. */
      const results = async (expected: string, act: () => Promise<unknown> = () => page.click('#search')) => {
        // Blank first, so that the count waited for is this search's.
        await page.$eval('#rec-count', (e) => (e.textContent = ''));
        await act();
        await page.waitForSelector(`#rec-count:text-is("${expected}")`);
        return page
          .$$eval('tr.recording-row', (trs) => trs.map((t) => (t as HTMLElement).dataset.id ?? ''))
          .then((list) => list.map(name));
      };
      await page.goto(`${base}/recordings`);
      await page.waitForSelector('#rec-count:text-is("1–3 of 3")');

      await page.fill('#f-caller', '+4930*');
      assert.deepEqual(await results('1–2 of 2'), ['c', 'a']);
      await page.fill('#f-caller', '');
      await page.fill('#f-callee', '1001');
      assert.deepEqual(await results('1–1 of 1'), ['a']);
      await page.fill('#f-callee', '');
      assert.deepEqual(await page.$$eval('#f-direction option', (os) => os.map((o) => o.textContent)), [
        'any',
        'inbound',
        'outbound',
        'internal',
        'unknown',
      ]);
      await page.selectOption('#f-direction', 'outbound');
      assert.deepEqual(await results('1–1 of 1'), ['b']);
      await page.selectOption('#f-direction', 'inbound');
      assert.deepEqual(await results('1–2 of 2'), ['c', 'a']);
      // Seconds on the form, milliseconds to the API.
      await page.fill('#f-min-duration', '60');
      await page.fill('#f-max-duration', '120');
      assert.deepEqual(await results('1–1 of 1'), ['a']);
      const shown = new URL(page.url()).searchParams;
      assert.equal(shown.get('direction'), 'inbound');
      assert.equal(shown.get('minDurationMs'), '60000');
      assert.equal(shown.get('maxDurationMs'), '120000');
      await shot('search-filters-1');

      // The address holds the search: a reload shows the same form and rows.
      assert.deepEqual(await results('1–1 of 1', () => page.reload()), ['a']);
      assert.equal(await page.inputValue('#f-min-duration'), '60');
      assert.equal(await page.inputValue('#f-max-duration'), '120');
      assert.equal(await page.inputValue('#f-direction'), 'inbound');

      await page.selectOption('#f-direction', '');
      await page.fill('#f-min-duration', '');
      await page.fill('#f-max-duration', '0.5');
      assert.deepEqual(await results('0–0 of 0'), []);
      await page.fill('#f-max-duration', '');
      await page.selectOption('#f-preserved', 'true');
      assert.deepEqual(await results('1–1 of 1'), ['a']);
      await page.selectOption('#f-preserved', 'false');
      assert.deepEqual(await results('1–2 of 2'), ['c', 'b']);
      assert.equal(new URL(page.url()).searchParams.get('preserved'), 'false');
      await shot('search-filters-2');

      // Past 10,000 matches the list says "more than" (the API counts up to 10,000); a narrow search
      // among them is counted exactly.
      await db!.pool.query(
        `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
         SELECT gen_random_uuid(), 'many-' || i || '@pbx', '127.0.0.1:5060', s, s, 60000, 'stored', s
         FROM generate_series(1, 10050) AS i, LATERAL (SELECT now() - interval '1 day' - make_interval(secs => i)) AS x (s)`,
      );
      await page.selectOption('#f-preserved', '');
      assert.equal((await results('1–25 of more than 10000')).length, 25);
      await page.fill('#f-q', 'many-77@pbx');
      assert.equal((await results('1–1 of 1')).length, 1);
    });
  },
);
