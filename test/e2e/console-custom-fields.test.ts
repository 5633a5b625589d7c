/**
 * Custom fields in the web console, in a real Chromium (Debian package, driven by playwright-core),
 * with one SIPREC call (SIPp signalling, RTP from our sender) recorded and stored first
 * (test/helpers/console-world.ts): the admin defines a text and an option field in Settings (a bad
 * name is refused with the API's message), sets both on the recording in its details, sees them
 * as columns of the recordings list, searches on them, finds the change in the audit view, and
 * deletes a field (its column goes; a details page opened before it says the API's refusal); a
 * user sees the values but has nothing to edit them with.
 * Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { CHROMIUM, startConsoleWorldWithCall, type ConsoleWorld } from '../helpers/console-world.js';

interface FieldJson {
  name: string;
  label: string;
  type: string;
  options: string[];
}

/** The texts of the cells of the rows `rows` selects (a row per array). */
const cells = (page: Page, rows: string) =>
  page.$$eval(rows, (trs) =>
    trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent)),
  );
const headers = (page: Page) => page.$$eval('#recordings thead th', (ths) => ths.map((t) => t.textContent));

describe(
  'web console in Chromium: custom fields',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    /** A call recorded and stored before the test, to set fields on. */
    let recorded: { recordingId: string; callId: string } | undefined;

    before(async () => {
      ({ w, recorded } = await startConsoleWorldWithCall('console-custom-fields'));
    });

    after(async () => {
      await w?.close();
    });

    it('lets the admin define fields, set them on a recording, see and search them, and delete one', async () => {
      const { page, base, api, server, shot } = w;
      assert.ok(recorded, 'before() recorded and stored a call');
      const id = recorded.recordingId;
      /** A request with the admin token whatever its answer: status and JSON. */
      const call = async (method: string, path: string, body: unknown) => {
        const r = await fetch(`${base}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: r.status, body: (await r.json()) as { error?: string } };
      };
      const msg = '#custom-fields-msg';
      const recRow = page.locator(`tr.recording-row[data-id="${id}"]`);

      // No fields yet: the list has its usual columns and no field filter.
      await page.click('#tab-recordings');
      await recRow.waitFor();
      assert.deepEqual((await headers(page)).slice(-1), ['Categories']);
      assert.equal(await page.isVisible('#f-field'), false, 'no field filter without fields');

      // Settings: a bad name is refused with the API's own message, and nothing is defined.
      await page.click('#tab-settings');
      await page.waitForSelector('#custom-fields-card p#custom-fields:has-text("No custom fields yet.")');
      assert.equal(await page.isVisible('#add-field-options'), false, 'options only for an option field');
      await page.fill('#add-field-name', 'Order No');
      await page.fill('#add-field-label', 'Order #');
      await page.click('#add-field');
      await page.waitForSelector(`${msg}.error`);
      const refused = await call('POST', '/custom-fields', {
        name: 'Order No',
        label: 'Order #',
        type: 'text',
      });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error ?? '', /^name: /);
      assert.equal(await page.textContent(msg), refused.body.error);
      assert.deepEqual((await api<{ items: FieldJson[] }>('/custom-fields')).items, []);

      // A text field (the label typed before stays), then an option field with two options.
      await page.fill('#add-field-name', 'order_no');
      await page.click('#add-field');
      await page.waitForSelector(`${msg}.ok:text-is("added Order # (order_no, Text)")`);
      await page.fill('#add-field-name', 'campaign');
      await page.fill('#add-field-label', 'Campaign');
      await page.selectOption('#add-field-type', 'option');
      assert.equal(await page.isVisible('#add-field-options'), true);
      await page.fill('#add-field-options', 'Campaign A,Campaign B');
      await page.click('#add-field');
      await page.waitForSelector(
        `${msg}.ok:text-is("added Campaign (campaign, Option: Campaign A, Campaign B)")`,
      );
      await page.waitForSelector('tr.custom-field-row[data-name="campaign"]');
      assert.deepEqual(await cells(page, '#custom-fields tr.custom-field-row'), [
        ['order_no', 'Order #', 'Text', '', 'Delete'],
        ['campaign', 'Campaign', 'Option', 'Campaign A, Campaign B', 'Delete'],
      ]);
      assert.equal(await page.inputValue('#add-field-name'), '', 'the form is emptied after adding');
      const defined = (await api<{ items: FieldJson[] }>('/custom-fields')).items;
      assert.deepEqual(
        defined.map((f) => [f.name, f.label, f.type, f.options]),
        [
          ['order_no', 'Order #', 'text', []],
          ['campaign', 'Campaign', 'option', ['Campaign A', 'Campaign B']],
        ],
      );
      await shot('fields-1-settings');

      // The list has a column per field, empty so far; the row leads to the details.
      await page.click('#tab-recordings');
      await recRow.waitFor();
      assert.equal(await page.isVisible('#f-field'), true);
      assert.deepEqual((await headers(page)).slice(-3), ['Categories', 'Order #', 'Campaign']);
      assert.equal(await recRow.locator('td[data-field="order_no"]').textContent(), '');
      await recRow.locator('a').click();

      // Details: set Order # and Campaign, save; the values come back from the API and stay.
      await page.waitForSelector('#field-input-order_no');
      assert.deepEqual(
        await page.$$eval('#field-input-campaign option', (os) =>
          os.map((o) => (o as HTMLOptionElement).value),
        ),
        ['', 'Campaign A', 'Campaign B'],
      );
      await page.fill('#field-input-order_no', '10001');
      await page.selectOption('#field-input-campaign', 'Campaign B');
      await page.click('#save-fields');
      await page.waitForSelector('#fields-msg.ok:text-is("saved: Order # = 10001, Campaign = Campaign B")');
      assert.equal(await page.inputValue('#field-input-order_no'), '10001');
      assert.equal(await page.inputValue('#field-input-campaign'), 'Campaign B');
      const detail = await api<{ fields: Record<string, string> }>(`/recordings/${id}`);
      assert.deepEqual(detail.fields, { order_no: '10001', campaign: 'Campaign B' });
      // The access log of the recording (reloaded after the save) tells the change.
      await page.waitForSelector('#access-log li:has-text("changed the custom fields of this recording")');
      assert.match(
        (await page.textContent('#access-log')) ?? '',
        /admin changed the custom fields of this recording: campaign set to "Campaign B", order_no set to "10001"/,
      );
      await shot('fields-2-detail');

      // The list shows both values in their columns.
      await page.click('#back-to-list');
      await recRow.waitFor();
      assert.equal(await recRow.locator('td[data-field="order_no"]').textContent(), '10001');
      assert.equal(await recRow.locator('td[data-field="campaign"]').textContent(), 'Campaign B');

      // Search: order_no contains 1000 finds it; 9999 finds nothing; the option filter is a select.
      const results = async (expected: string) => {
        // Blank first, so that the count waited for is this search's.
        await page.$eval('#rec-count', (e) => (e.textContent = ''));
        await page.click('#search');
        await page.waitForSelector(`#rec-count:text-is("${expected}")`);
        return page.$$eval('tr.recording-row', (trs) => trs.map((t) => (t as HTMLElement).dataset.id));
      };
      await page.selectOption('#f-field', 'order_no');
      await page.fill('#f-field-value', '1000');
      assert.deepEqual(await results('1–1 of 1'), [id]);
      assert.equal(new URL(page.url()).searchParams.get('field'), 'order_no:1000');
      await page.fill('#f-field-value', '9999');
      assert.deepEqual(await results('0–0 of 0'), []);
      await page.selectOption('#f-field', 'campaign');
      assert.equal(await page.$eval('#f-field-value', (e) => e.tagName), 'SELECT');
      await page.selectOption('#f-field-value', 'Campaign A');
      assert.deepEqual(await results('0–0 of 0'), []);
      await page.selectOption('#f-field-value', 'Campaign B');
      assert.deepEqual(await results('1–1 of 1'), [id]);
      // The filter is in the address: reloading the page keeps it.
      await page.reload();
      await page.waitForSelector('#rec-count:text-is("1–1 of 1")');
      assert.equal(await page.inputValue('#f-field'), 'campaign');
      assert.equal(await page.inputValue('#f-field-value'), 'Campaign B');
      await shot('fields-3-list');
      // The free-text box finds a field value too (any case), alone.
      await page.selectOption('#f-field', '');
      await page.fill('#f-q', 'campaign b');
      assert.deepEqual(await results('1–1 of 1'), [id]);
      assert.equal(new URL(page.url()).searchParams.get('q'), 'campaign b');
      // Saved searches: this one saved under a name, left, opened again from the list, deleted.
      await page.fill('#f-q', 'campaign b');
      assert.deepEqual(await results('1–1 of 1'), [id]);
      page.once('dialog', (d) => void d.accept('Campaign B calls'));
      await page.click('#save-search');
      await page.waitForSelector('#saved-search-msg:text-is(\'saved "Campaign B calls"\')');
      const chosen = () =>
        page.$eval('#saved-search', (s) => (s as HTMLSelectElement).selectedOptions[0]?.text);
      assert.equal(await chosen(), 'Campaign B calls', 'the search on the page is the saved one');
      await page.fill('#f-q', 'campaign c');
      assert.deepEqual(await results('0–0 of 0'), []);
      assert.equal(await chosen(), '— choose —');
      await page.selectOption('#saved-search', { label: 'Campaign B calls' });
      await page.waitForSelector('#rec-count:text-is("1–1 of 1")');
      assert.equal(await page.inputValue('#f-q'), 'campaign b');
      page.once('dialog', (d) => void d.accept());
      await page.click('#delete-saved-search');
      await page.waitForSelector('#saved-search-msg:text-is(\'deleted "Campaign B calls"\')');
      const left = await page.evaluate(
        async () => (await (await fetch('/api/v1/me/searches')).json()) as unknown,
      );
      assert.deepEqual(left, { items: [] });
      await page.fill('#f-q', '');

      // The audit view: the change of the values, and the two definitions.
      await page.click('#tab-audit');
      // The unfiltered trail first (the view shows it on opening), then a search by action.
      await page.waitForSelector('tr.audit-row:has-text("user.create")');
      const auditOf = async (action: string) => {
        await page.fill('#a-action', action);
        await page.click('#a-search');
        await page.waitForFunction(
          (a) =>
            [...document.querySelectorAll('tr.audit-row')].every(
              (r) => (r as HTMLTableRowElement).cells[3]?.textContent === a,
            ),
          action,
        );
        return cells(page, 'tr.audit-row');
      };
      const audited = await auditOf('fields.update');
      assert.equal(audited.length, 1, JSON.stringify(audited));
      assert.match(
        audited[0]?.[2] ?? '',
        new RegExp(
          `^admin changed the custom fields of recording ${id.slice(0, 8)}: campaign set to "Campaign B", order_no set to "10001" from `,
        ),
      );
      assert.deepEqual(
        (await auditOf('custom-field.create')).map((r) => r[2]?.replace(/ from \S+$/, '')),
        [
          'admin added the custom field campaign ("Campaign", option: "Campaign A", "Campaign B")',
          'admin added the custom field order_no ("Order #", text)',
        ],
      );
      await shot('fields-4-audit');

      // A details page opened now, before the campaign field goes (to save on afterwards).
      const stale = await page.context().newPage();
      await stale.goto(`${base}/recordings/${id}`);
      await stale.waitForSelector('#field-input-campaign');

      // Settings: Delete asks first (dismissed: nothing happens), then deletes it and its value.
      await page.click('#tab-settings');
      const campaignRow = page.locator('tr.custom-field-row[data-name="campaign"]');
      await campaignRow.waitFor();
      const asked: string[] = [];
      page.once('dialog', (d) => {
        asked.push(d.message());
        void d.dismiss();
      });
      await campaignRow.locator('button.delete-field').click();
      assert.deepEqual(asked, ['Delete the field Campaign (campaign) and its value on every recording?']);
      assert.equal((await api<{ items: FieldJson[] }>('/custom-fields')).items.length, 2);
      page.once('dialog', (d) => void d.accept());
      await campaignRow.locator('button.delete-field').click();
      await page.waitForSelector(`${msg}.ok:text-is("deleted campaign: 1 recording value removed")`);
      await campaignRow.waitFor({ state: 'detached' });
      assert.deepEqual(await cells(page, '#custom-fields tr.custom-field-row'), [
        ['order_no', 'Order #', 'Text', '', 'Delete'],
      ]);
      await shot('fields-5-deleted');

      // The list: no Campaign column any more, Order # still there.
      await page.click('#tab-recordings');
      await recRow.waitFor();
      assert.deepEqual((await headers(page)).slice(-2), ['Categories', 'Order #']);
      assert.equal(await page.locator('[data-field="campaign"]').count(), 0);
      assert.equal(await recRow.locator('td[data-field="order_no"]').textContent(), '10001');
      assert.equal(
        await page.$$eval('#f-field option', (os) => os.map((o) => o.textContent).join('|')),
        'any|Order #',
      );

      // The page opened before: saving a value of the deleted field shows the API's refusal.
      await stale.selectOption('#field-input-campaign', 'Campaign A');
      await stale.click('#save-fields');
      await stale.waitForSelector('#fields-msg.error');
      const again = await call('PUT', `/recordings/${id}/fields`, {
        fields: { order_no: '10001', campaign: 'Campaign A' },
      });
      assert.equal(again.status, 400);
      assert.equal(await stale.textContent('#fields-msg'), again.body.error);
      assert.match(again.body.error ?? '', /campaign/);
      await stale.close();
      assert.deepEqual((await api<{ fields: Record<string, string> }>(`/recordings/${id}`)).fields, {
        order_no: '10001',
      });

      // A user (whose number is a participant's) sees the value, in the list and the details, but
      // cannot change it: no inputs, and the API refuses.
      const created = await call('POST', '/users', {
        username: 'agent1',
        password: 'agent1-password',
        role: 'user',
        numbers: ['alice'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await page.click('#logout');
      await page.fill('#username', 'agent1');
      await page.fill('#password', 'agent1-password');
      await page.click('#login');
      await page.waitForSelector('#whoami:has-text("agent1 (user)")');
      assert.equal(await page.locator('#tab-settings').count(), 0);
      await page.click('#tab-recordings');
      await recRow.waitFor();
      assert.deepEqual((await headers(page)).slice(-1), ['Order #']);
      assert.equal(await recRow.locator('td[data-field="order_no"]').textContent(), '10001');
      await recRow.locator('a').click();
      await page.waitForSelector('#fields dd[data-field="order_no"]');
      assert.deepEqual(await page.$$eval('#fields dt, #fields dd', (es) => es.map((e) => e.textContent)), [
        'Order #',
        '10001',
      ]);
      assert.equal(await page.locator('#fields input, #fields select, #save-fields').count(), 0);
      const userPut = await page.evaluate(async (path) => {
        const r = await fetch(path, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ fields: { order_no: '666' } }),
        });
        return r.status;
      }, `/api/v1/recordings/${id}/fields`);
      assert.equal(userPut, 403, 'only admins set values');
      await shot('fields-6-user-detail');
    });
  },
);
