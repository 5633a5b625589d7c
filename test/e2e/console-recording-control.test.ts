/**
 * The Recording control page in a real Chromium against the real server, with real SIPREC calls
 * (SIPp): an admin sets a group's record mode and a user's, and the next call from that user's
 * number gets the mode set (the user's beats the group's); the defaults and phone codes are saved,
 * and a code the API refuses shows its reason; each change is in the audit trail; the page reads
 * back what was saved and counts the call answered without audio; the Recording filters card saves a
 * blacklist (a bad pattern shows the API's reason).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { adminCall } from '../helpers/console-session.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

interface Control {
  settings: { defaultMode: string; onDemandFrom: string; dtmf: Record<string, string> | null };
  users: { username: string; mode: string | null }[];
  groups: { name: string; mode: string | null }[];
  notRecorded: { never: number };
}

describe(
  'web console in Chromium: recording control',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    const control = () => w.api<Control>('/recording-control');
    /** The record mode of a call placed now (SIPp's call is from sip:alice@example.com to bob). */
    const modeOfNextCall = async () => {
      // The previous call gone from the live list first (placeCall takes the call it finds there).
      for (let i = 0; i < 100; i++) {
        const r = await adminCall(w, 'GET', '/calls');
        if ((r.body as unknown as { items: unknown[] }).items.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      let mode = '';
      await w.placeCall(3500, async (live) => {
        // The live list (a `never` call is there too, though nothing may be done to it).
        const r = await adminCall(w, 'GET', '/calls');
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const calls = (r.body as unknown as { items: { recordingId: string; control?: { mode: string } }[] })
          .items;
        mode = calls.find((c) => c.recordingId === live.recordingId)?.control?.mode ?? 'none';
      });
      return mode;
    };
    const saved = (text: string) => w.page.waitForSelector(`#control-msg.ok:has-text("${text}")`);

    before(async () => {
      w = await startConsoleWorld('console-recording-control');
      const r = await adminCall(w, 'POST', '/users', {
        username: 'alice',
        password: 'alice-password',
        role: 'user',
        group: 'sales',
        numbers: ['alice'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.click('#tab-control');
      await w.page.waitForSelector('#control-defaults');
    });

    after(async () => {
      await w?.close();
    });

    it('a group mode set on the page applies to the next call; a user mode beats it', async () => {
      assert.equal(await modeOfNextCall(), 'always', 'the out-of-the-box default');
      await w.page.selectOption('select[data-name="sales"]', 'never');
      await saved('sales');
      assert.equal((await control()).groups.find((g) => g.name === 'sales')?.mode, 'never');
      assert.equal(await modeOfNextCall(), 'never', "alice's group's mode");

      await w.page.selectOption('select[data-name="alice"]', 'always-pause');
      await saved('alice');
      assert.equal(await modeOfNextCall(), 'always-pause', 'the user’s own mode wins');
      // Back to the group's.
      await w.page.selectOption('select[data-name="alice"]', '');
      // (The same message as the last change's: wait for the server's state instead.)
      const aliceMode = async () => (await control()).users.find((u) => u.username === 'alice')?.mode;
      for (let i = 0; i < 50 && (await aliceMode()) !== null; i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await aliceMode(), null);

      // The mode shows before the PUT has written its audit entry and answered: wait for the entry.
      const audited = async () =>
        (
          (await adminCall(w, 'GET', '/audit?action=record-mode.update')).body as unknown as {
            items: { resourceId: string }[];
          }
        ).items;
      let entries = await audited();
      for (let i = 0; i < 50 && entries.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        entries = await audited();
      }
      assert.deepEqual(
        entries.map((e) => e.resourceId).filter((x) => x === 'sales'),
        ['sales'],
      );
      assert.ok(entries.length >= 3, `three changes audited: ${entries.length}`);

      // The page reads back what was saved, and the call answered without audio.
      await w.page.reload();
      await w.page.waitForSelector('#control-not-recorded');
      assert.equal(await w.page.inputValue('select[data-name="sales"]'), 'never');
      assert.equal(await w.page.inputValue('select[data-name="alice"]'), '');
      assert.ok((await control()).notRecorded.never >= 1);
      assert.match((await w.page.textContent('#control-not-recorded')) ?? '', /never: [1-9]/);
      await w.shot('recording-control');
    });

    it('saves the defaults and phone codes; a code the API refuses shows its reason', async () => {
      await w.page.selectOption('#control-default-mode', 'on-demand');
      await w.page.selectOption('#control-on-demand-from', 'call');
      await w.page.fill('#control-dtmf-pause', '*1');
      await w.page.fill('#control-dtmf-resume', '*2');
      await w.page.click('#control-save');
      await saved('saved the recording control settings');
      const s = (await control()).settings;
      assert.equal(s.defaultMode, 'on-demand');
      assert.equal(s.onDemandFrom, 'call');
      assert.deepEqual(s.dtmf, { pause: '*1', resume: '*2' });

      await w.page.fill('#control-dtmf-stop', 'x9');
      await w.page.click('#control-save');
      await w.page.waitForSelector('#control-msg.error');
      assert.match((await w.page.textContent('#control-msg')) ?? '', /0-9 \* # A-D/);
      assert.deepEqual((await control()).settings.dtmf, { pause: '*1', resume: '*2' }, 'nothing saved');

      // Every code emptied: phone control off.
      for (const a of ['pause', 'resume', 'stop']) await w.page.fill(`#control-dtmf-${a}`, '');
      await w.page.click('#control-save');
      await saved('saved the recording control settings');
      assert.equal((await control()).settings.dtmf, null);
    });

    it('the Recording filters card saves a blacklist; a bad pattern shows the reason; the next call follows', async () => {
      await w.page.goto(`${w.base}/recording-control`);
      await w.page.waitForSelector('#recording-filters #filters-save');
      await w.page.fill('#filters-blacklist', 'abc');
      await w.page.click('#filters-save');
      await w.page.waitForSelector('#control-msg.error');
      assert.match((await w.page.textContent('#control-msg')) ?? '', /number pattern "abc"/);
      // The scenario's caller is sip:alice@example.com: not a number, so a number blacklist leaves it.
      await w.page.fill('#filters-blacklist', '+3906!\n+4930!');
      await w.page.selectOption('#filters-excluded-action', 'decline');
      await w.page.click('#filters-save');
      await saved('saved the recording filters');
      const p = await w.api<{ saved: boolean; policy: { blacklist: string[]; excludedAction: string } }>(
        '/recording-policy',
      );
      assert.equal(p.saved, true);
      assert.deepEqual(p.policy.blacklist, ['+3906!', '+4930!']);
      assert.equal(p.policy.excludedAction, 'decline');
      await w.page.reload();
      await w.page.waitForSelector('#filters-blacklist');
      assert.equal(await w.page.inputValue('#filters-blacklist'), '+3906!\n+4930!');
      assert.ok(
        (await modeOfNextCall()) !== 'none',
        'a call not on the blacklist is still answered and recorded',
      );
    });

    it('the Recording filters card drops the saved filters: the configured ones apply again', async () => {
      await w.page.goto(`${w.base}/recording-control`);
      await w.page.waitForSelector('#recording-filters #filters-reset');
      await w.page.click('#filters-reset');
      await saved('the configured filters apply again');
      const p = await w.api<{ saved: boolean; policy: { blacklist: string[] } }>('/recording-policy');
      assert.equal(p.saved, false);
      assert.deepEqual(p.policy.blacklist, []);
      // The card is redrawn from the server's answer: the configured (empty) blacklist, no button.
      assert.equal(await w.page.inputValue('#filters-blacklist'), '');
      assert.equal(await w.page.$('#filters-reset'), null);
      assert.match((await w.page.textContent('#filters-source')) ?? '', /configured filters apply/);
    });
  },
);
