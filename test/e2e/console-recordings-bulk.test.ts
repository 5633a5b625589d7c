/**
 * The recordings list's bulk bar in a real Chromium against the real server, with three recordings
 * written into its catalogue: ticking rows shows the bar with their count; "Add category…" (the
 * browser's prompt answered) and "Preserve" act on every ticked row and say how many were done;
 * "Delete" asks first (the browser's confirm, with the count), deletes what may be deleted and
 * names the preserved ones it refused; the rows are unticked and the list reloaded after each.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/store/db.js';
import { attachCatalogue, storedCall } from '../helpers/console-catalogue.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

interface Detail {
  categories: string[];
  preserved: { by: string } | null;
}

describe(
  'web console in Chromium: acting on ticked recordings at once',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let db: Database | undefined;
    const ids: Record<string, string> = {};
    const detail = (name: string) => w.api<Detail>(`/recordings/${ids[name] as string}`);
    /** Ticks the rows of these recordings (the list loaded). */
    const tick = async (...names: string[]) => {
      for (const n of names) await w.page.check(`tr[data-id="${ids[n] as string}"] input.select-recording`);
    };
    /** The outcome line once an action ran (blanked first, so it is this action's). */
    const summary = async () => {
      await w.page.waitForSelector('#bulk-summary');
      return (await w.page.textContent('#bulk-summary')) ?? '';
    };

    before(async () => {
      w = await startConsoleWorld('console-recordings-bulk');
      db = await attachCatalogue(w);
      for (const [name, hour] of [
        ['a', '10'],
        ['b', '11'],
        ['c', '12'],
      ] as const)
        ids[name] = await storedCall(db, {
          name,
          suite: 'bulk',
          from: '+4930111',
          to: '1001',
          at: new Date(`2026-05-04T${hour}:00:00Z`),
          seconds: 30,
        });
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.waitForSelector('#tab-live.active');
      await w.page.goto(`${w.base}/recordings`);
      await w.page.waitForSelector(`tr[data-id="${ids.c as string}"]`);
    });

    after(async () => {
      await db?.close();
      await w?.close();
    });

    it('shows the bar with the count of ticked rows, and hides it when none is', async () => {
      assert.equal(await w.page.isVisible('#bulk-actions'), false);
      await tick('a', 'b');
      assert.equal(await w.page.isVisible('#bulk-actions'), true);
      assert.match((await w.page.textContent('#bulk-count')) ?? '', /^2 selected/);
      await w.page.uncheck(`tr[data-id="${ids.a as string}"] input.select-recording`);
      await w.page.uncheck(`tr[data-id="${ids.b as string}"] input.select-recording`);
      assert.equal(await w.page.isVisible('#bulk-actions'), false);
    });

    it('adds a category to every ticked row (the prompt answered), then preserves them', async () => {
      await tick('a', 'b');
      w.page.once('dialog', (d) => void d.accept('escalated'));
      await w.page.click('#bulk-add-category');
      assert.equal(await summary(), '2 done, 0 failed');
      for (const n of ['a', 'b']) assert.deepEqual((await detail(n)).categories, ['escalated']);
      assert.deepEqual((await detail('c')).categories, [], 'an unticked row is left alone');
      // Unticked and reloaded: the bar is gone.
      await w.page.waitForSelector('#bulk-actions', { state: 'hidden' });

      await tick('a', 'b');
      await w.page.$eval('#bulk-summary', (e) => e.remove());
      await w.page.click('#bulk-preserve');
      assert.equal(await summary(), '2 done, 0 failed');
      for (const n of ['a', 'b']) assert.equal((await detail(n)).preserved?.by, 'admin');
    });

    it('asks before deleting, deletes what may be deleted and names the preserved ones it refused', async () => {
      await w.page.waitForSelector('#bulk-actions', { state: 'hidden' });
      await tick('a', 'b', 'c');
      let asked = '';
      w.page.once('dialog', (d) => {
        asked = d.message();
        void d.accept();
      });
      await w.page.$eval('#bulk-summary', (e) => e.remove());
      await w.page.click('#bulk-delete');
      assert.equal(asked, 'Delete 3 recordings for good?');
      assert.equal(await summary(), '1 done, 2 failed');
      const failures = await w.page.$$eval('#bulk-failures li', (els) => els.map((e) => e.textContent ?? ''));
      assert.equal(failures.length, 2);
      for (const n of ['a', 'b']) {
        const line = failures.find((f) => f.startsWith(ids[n] as string)) ?? '';
        assert.match(line, /refused \(recording is preserved by admin/);
      }
      const state = async (n: string) => (await db?.recordings.get(ids[n] as string))?.state;
      assert.equal(await state('c'), 'purged', 'deleted: a tombstone');
      for (const n of ['a', 'b']) assert.equal(await state(n), 'stored');
      await w.shot('recordings-bulk');
    });
  },
);
