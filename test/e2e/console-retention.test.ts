/**
 * The Settings page's Retention card in a real Chromium against the real server (`srs serve`,
 * purging every 5 s): an admin shortens the policy, the page asks before a change that deletes
 * recordings (with the server's count), and the server's next purge pass deletes exactly those;
 * declining the question changes nothing; a bad line or policy shows why; "Use the configured
 * policy" brings the configuration's back. The recordings are catalogue rows of the running
 * server's own Postgres, started 40 and 1 days ago.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/store/db.js';
import { attachCatalogue, storedCall } from '../helpers/console-catalogue.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

interface View {
  policy: { default: string; groups: Record<string, string> };
  saved: boolean;
}

describe(
  'web console in Chromium: retention',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let db: Database;
    const ids: Record<string, string> = {};
    const shown = (text: string) => w.page.waitForSelector(`#settings-msg.ok:has-text("${text}")`);
    const failed = (text: string) => w.page.waitForSelector(`#settings-msg.error:has-text("${text}")`);
    const state = async (id: string) => (await db.recordings.get(id))?.state;

    before(async () => {
      w = await startConsoleWorld('console-retention', { env: { SRS_PURGE_INTERVAL: '5' } });
      db = await attachCatalogue(w);
      const at = (days: number) => new Date(Date.now() - days * 86_400_000);
      const call = (name: string, days: number) =>
        storedCall(db, { name, suite: 'retention', from: '2001', to: '2002', at: at(days), seconds: 30 });
      ids.old1 = await call('old1', 40);
      ids.old2 = await call('old2', 40);
      ids.young = await call('young', 1);
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.click('#tab-settings');
      await w.page.waitForSelector('#retention #retention-save');
    });

    after(async () => {
      await db?.close();
      await w?.close();
    });

    it('asks before a change that deletes recordings; the server then purges exactly those', async () => {
      assert.equal(await w.page.inputValue('#retention-default'), 'keep', 'the configured default');
      await w.page.fill('#retention-default', '30d');
      let asked = '';
      w.page.once('dialog', (d) => {
        asked = d.message();
        void d.accept();
      });
      await w.page.click('#retention-save');
      await shown('saved the retention policy');
      assert.match(asked, /deletes 2 stored recordings at the next purge pass/);
      const v = await w.api<View>('/retention-policy');
      assert.equal(v.saved, true);
      assert.equal(v.policy.default, '30d');
      const deadline = Date.now() + 30_000;
      while (
        (await state(ids.old1 as string)) !== 'purged' ||
        (await state(ids.old2 as string)) !== 'purged'
      ) {
        assert.ok(Date.now() < deadline, 'the server never purged the recordings the change deleted');
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(await state(ids.young as string), 'stored');
      await w.shot('retention-saved');
    });

    it('declining the question changes nothing; a bad line or policy says why', async () => {
      await w.page.fill('#retention-default', '1h');
      let asked = '';
      w.page.once('dialog', (d) => {
        asked = d.message();
        void d.dismiss();
      });
      await w.page.click('#retention-save');
      await shown('nothing changed');
      assert.match(asked, /deletes 1 stored recording at the next purge pass/);
      assert.equal((await w.api<View>('/retention-policy')).policy.default, '30d');
      assert.equal(await state(ids.young as string), 'stored');

      await w.page.fill('#retention-default', '30d');
      await w.page.fill('#retention-groups', 'sales');
      await w.page.click('#retention-save');
      await failed('not group=policy: sales');
      await w.page.fill('#retention-groups', 'sales=forever');
      await w.page.click('#retention-save');
      await failed('groups.sales: bad retention policy');
      assert.match(
        (await w.page.textContent('#settings-msg')) ?? '',
        /"forever": use keep, <N>d \(N up to 36500\)/,
      );
      assert.deepEqual((await w.api<View>('/retention-policy')).policy.groups, {});
    });

    it('"Use the configured policy" brings the configuration’s back', async () => {
      await w.page.click('#retention-reset');
      await shown('the configured retention policy applies again');
      const v = await w.api<View>('/retention-policy');
      assert.equal(v.saved, false);
      assert.equal(v.policy.default, 'keep');
      assert.equal(await w.page.inputValue('#retention-default'), 'keep');
      assert.equal(await w.page.$('#retention-reset'), null);
      const audit = await w.api<{ items: { action: string }[] }>('/audit?resource=setting&limit=20');
      const actions = audit.items.map((e) => e.action);
      assert.ok(
        actions.includes('retention-policy.update') && actions.includes('retention-policy.reset'),
        actions.join(),
      );
    });
  },
);
