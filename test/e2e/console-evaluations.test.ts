/**
 * Agent evaluation in the web console, in a real Chromium (Debian package, driven by
 * playwright-core), against the real server (test/helpers/console-world.ts) with four recordings
 * written into its catalogue (the embedded Postgres the server runs, attached to) and users created
 * through the API: the admin creates evaluation forms in Settings (a form without questions is
 * refused with the API's message), evaluates users who took part in recordings (the score shown is
 * the share of the form's points, worked out here), cannot delete a form in use (the API's 409
 * message), deletes an unused one; a supervisor evaluates the users of their group's recordings
 * and deletes their own evaluation, not the admin's; the Reports tab's "Agent evaluations" table
 * gives each viewer the figures of the recordings they may see over the report's From / To; a plain
 * user reads the evaluations but has no Evaluate form. Screenshots go to test-artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/store/db.js';
import { attachCatalogue, createUsers, storedCall } from '../helpers/console-catalogue.js';
import { adminCall, inPageStatus, logInAs } from '../helpers/console-session.js';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

/** Who took part in each recording: 1001 alice, 1002 bob (sales), 1003 carol (support); others nobody's. */
const CALLS: Record<string, [string, string]> = {
  r1: ['1001', '1002'],
  r2: ['1001', '4930123456'],
  r3: ['5550001', '5550002'],
  r4: ['1003', '4930123457'],
};
const USERS = [
  { username: 'alice', group: 'sales', numbers: ['1001'], role: 'user' },
  { username: 'bob', group: 'sales', numbers: ['1002'], role: 'user' },
  { username: 'carol', group: 'support', numbers: ['1003'], role: 'user' },
  { username: 'sup', group: 'sales', numbers: ['1010'], role: 'supervisor' },
];
/** The form made in Settings: 5 + 10 + 3 = 18 points. */
const QUESTIONS = [
  { text: 'Greeted the caller by name', points: 5 },
  { text: 'Solved the problem', points: 10 },
  { text: 'Stayed courteous', points: 3 },
];
/** The score of answers on that form, worked out here: the share of its 18 points, in whole per cent. */
const score = (answers: number[]) => Math.round((100 * answers.reduce((s, a) => s + a, 0)) / (5 + 10 + 3));

/** The evaluations the card lists, in order: form, agent, score, evaluator, comment, and whether it has Delete. */
const listed = (page: Page) =>
  page.$$eval('#evaluation-list li.evaluation', (lis) =>
    lis.map((li) => [
      ...['.eval-form-name', '.eval-agent', '.score', '.eval-evaluator', '.eval-comment'].map(
        (sel) => li.querySelector(sel)?.textContent ?? '',
      ),
      li.querySelector('button.delete-evaluation') !== null,
    ]),
  );
const cells = (page: Page, rows: string) =>
  page.$$eval(rows, (trs) =>
    trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent ?? '')),
  );

describe(
  'web console in Chromium: agent evaluations',
  { timeout: 180000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let db: Database | undefined;
    const ids: Record<string, string> = {};

    const call = (method: string, path: string, body?: unknown) => adminCall(w, method, path, body);
    const inPage = (method: string, path: string, body?: unknown) => inPageStatus(w, method, path, body);

    before(async () => {
      w = await startConsoleWorld('console-evaluations');
      await createUsers(w, USERS);
      db = await attachCatalogue(w);
      for (const [name, [from, to]] of Object.entries(CALLS))
        ids[name] = await storedCall(db, {
          name,
          suite: 'evaluations',
          from,
          to,
          at: new Date(Date.now() - 3600_000),
          seconds: 60,
        });
      await w.page.goto(w.base);
      await w.logIn(ADMIN_PASSWORD);
      await w.page.waitForSelector('#tab-live.active');
    });

    after(async () => {
      await db?.close();
      await w?.close();
    });

    const logIn = (username: string, role: string, password?: string) => logInAs(w, username, role, password);
    const openRecording = async (name: string) => {
      await w.page.goto(`${w.base}/recordings/${ids[name]}`);
      await w.page.waitForSelector('#evaluations #evaluation-list');
    };
    /**
     * Fills the Evaluate form with the "Call quality" form and submits it; the console says the
     * score worked out here from the answers.
     */
    const evaluate = async (agent: string, answers: number[], comment = '') => {
      const { page } = w;
      await page.selectOption('#eval-form', { label: 'Call quality' });
      await page.selectOption('#eval-agent', agent);
      const selects = page.locator('#evaluations select.eval-answer');
      assert.equal(await selects.count(), answers.length);
      for (const [i, a] of answers.entries()) await selects.nth(i).selectOption(String(a));
      await page.fill('#eval-comment', comment);
      const before = await page.textContent('#eval-msg');
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/evaluations')),
        page.click('#eval-submit'),
      ]);
      assert.equal(res.status(), 201, await res.text());
      await page.waitForFunction((b) => document.querySelector('#eval-msg')?.textContent !== b, before);
      assert.equal(await page.getAttribute('#eval-msg', 'class'), 'outcome ok');
      const expected = `${agent} scored ${score(answers)} % on Call quality`;
      assert.equal(await page.textContent('#eval-msg'), expected);
    };

    it('lets the admin create forms, evaluate users of a recording and keep a form in use', async () => {
      const { page, shot, api } = w;
      const msg = '#evaluation-forms-msg';
      await page.click('#tab-settings');
      await page.waitForSelector(
        '#evaluation-forms p#evaluation-form-list:text-is("No evaluation forms yet.")',
      );

      // No question written: the row is left out, and the API's refusal is shown word for word.
      await page.fill('#eval-form-name', 'Call quality');
      await page.click('#eval-create-form');
      await page.waitForSelector(`${msg}.error`);
      const refused = await call('POST', '/evaluation-forms', { name: 'Call quality', questions: [] });
      assert.equal(refused.status, 400);
      assert.equal(await page.textContent(msg), refused.body.error);

      // Three questions (a fourth row added and removed again), then a one-question form.
      const rows = page.locator('#eval-questions .eval-question-row');
      for (const [i, q] of QUESTIONS.entries()) {
        if (i) await page.click('#eval-add-question');
        await rows.nth(i).locator('.eval-question-text').fill(q.text);
        await rows.nth(i).locator('.eval-question-points').selectOption(String(q.points));
      }
      await page.click('#eval-add-question');
      assert.equal(await rows.count(), 4);
      await rows.nth(3).locator('.remove-question').click();
      assert.equal(await rows.count(), 3);
      await page.click('#eval-create-form');
      await page.waitForSelector(`${msg}.ok:text-is("created Call quality: 3 questions, 18 points")`);
      assert.equal(await page.inputValue('#eval-form-name'), '', 'the form is emptied after creating');
      assert.equal(await rows.count(), 1);
      await page.fill('#eval-form-name', 'Short');
      await rows.nth(0).locator('.eval-question-text').fill('Closed the call properly');
      await rows.nth(0).locator('.eval-question-points').selectOption('4');
      await page.click('#eval-create-form');
      await page.waitForSelector(`${msg}.ok:text-is("created Short: 1 question, 4 points")`);
      await page.waitForSelector('tr.evaluation-form-row:has-text("Short")');
      assert.deepEqual(await cells(page, '#evaluation-form-list tr.evaluation-form-row'), [
        ['Call quality', '3', '18', '0', 'Delete'],
        ['Short', '1', '4', '0', 'Delete'],
      ]);
      const forms = (await api<{ items: { name: string; questions: unknown }[] }>('/evaluation-forms')).items;
      assert.deepEqual(
        forms.map((f) => [f.name, f.questions]),
        [
          ['Call quality', QUESTIONS],
          ['Short', [{ text: 'Closed the call properly', points: 4 }]],
        ],
      );
      await shot('evaluations-1-settings');

      // r1 (alice and bob): nothing yet; the answers offered follow the form chosen.
      await openRecording('r1');
      assert.equal(await page.textContent('#evaluation-list'), 'No evaluations yet.');
      const texts = (sel: string) => page.$$eval(sel, (os) => os.map((o) => o.textContent));
      assert.deepEqual(await texts('#eval-agent option'), ['alice', 'bob']);
      assert.deepEqual(await texts('#eval-form option'), ['Call quality', 'Short']);
      const answerOptions = () =>
        page.$$eval('#evaluations select.eval-answer', (ss) =>
          ss.map((s) => [...(s as HTMLSelectElement).options].map((o) => o.value).join(',')),
        );
      await page.selectOption('#eval-form', { label: 'Short' });
      assert.deepEqual(await answerOptions(), [',0,1,2,3,4']);
      await page.selectOption('#eval-form', { label: 'Call quality' });
      assert.deepEqual(await answerOptions(), [',0,1,2,3,4,5', ',0,1,2,3,4,5,6,7,8,9,10', ',0,1,2,3']);

      // A question left unanswered: said in the console, nothing sent.
      const selects = page.locator('#evaluations select.eval-answer');
      await selects.nth(0).selectOption('4');
      await selects.nth(1).selectOption('7');
      await page.click('#eval-submit');
      await page.waitForSelector('#eval-msg.error:text-is("answer every question (1 question unanswered)")');
      assert.deepEqual((await api<{ items: unknown[] }>(`/recordings/${ids.r1}/evaluations`)).items, []);

      // alice: 4 + 7 + 2 = 13 of 18 points, 72 %.
      await evaluate('alice', [4, 7, 2], 'Good greeting, slow fix');
      assert.deepEqual(await listed(page), [
        ['Call quality', 'alice', '72 %', 'admin', 'Good greeting, slow fix', true],
      ]);
      const stored = await api<{
        items: { agent: string; answers: number[]; score: number }[];
        agents: string[];
      }>(`/recordings/${ids.r1}/evaluations`);
      assert.deepEqual(stored.agents, ['alice', 'bob']);
      assert.deepEqual(
        stored.items.map((e) => [e.agent, e.answers, e.score]),
        [['alice', [4, 7, 2], 72]],
      );
      await shot('evaluations-2-detail');

      // The access log says it (the details read again).
      await openRecording('r1');
      await page.waitForSelector('#access-log li:has-text("evaluated")');
      assert.match(
        (await page.textContent('#access-log')) ?? '',
        /admin evaluated this recording \(agent alice, "Call quality": 72 %\)/,
      );

      // r3: no participant is a user's number, so there is nobody to evaluate.
      await openRecording('r3');
      await page.waitForSelector('#eval-no-agents');
      assert.match(
        (await page.textContent('#eval-no-agents')) ?? '',
        /^No user of this recording can be evaluated/,
      );
      assert.equal(await page.locator('#eval-form, #eval-submit').count(), 0);

      // r4 (carol): 5 + 5 + 0 = 10 of 18, 55.6 -> 56 %.
      await openRecording('r4');
      await evaluate('carol', [5, 5, 0]);

      // Settings: the form in use stays, with the API's 409 message; the unused one goes.
      await page.click('#tab-settings');
      await page.waitForSelector('tr.evaluation-form-row:has-text("Short")');
      assert.deepEqual(
        (await cells(page, 'tr.evaluation-form-row')).map((r) => r[3]),
        ['2', '0'],
      );
      const quality = page.locator('tr.evaluation-form-row:has-text("Call quality")');
      page.once('dialog', (d) => void d.accept());
      await quality.locator('button.delete-eval-form').click();
      await page.waitForSelector(`${msg}.error`);
      const inUse = await call('DELETE', `/evaluation-forms/${await quality.getAttribute('data-id')}`);
      assert.equal(inUse.status, 409);
      assert.equal(await page.textContent(msg), inUse.body.error);
      await shot('evaluations-3-in-use');
      page.once('dialog', (d) => void d.accept());
      await page.click('tr.evaluation-form-row:has-text("Short") button.delete-eval-form');
      await page.waitForSelector(`${msg}.ok:text-is("deleted Short")`);
      await page.waitForSelector('tr.evaluation-form-row:has-text("Short")', { state: 'detached' });
      assert.deepEqual(await cells(page, 'tr.evaluation-form-row'), [
        ['Call quality', '3', '18', '2', 'Delete'],
      ]);
    });

    it("lets a supervisor evaluate their group's users and delete their own evaluations only", async () => {
      const { page, shot } = w;
      await logIn('sup', 'supervisor');
      // r2 (alice and an outside number): 5 + 10 + 3 = 18 of 18, 100 %.
      await openRecording('r2');
      assert.deepEqual(await page.$$eval('#eval-agent option', (os) => os.map((o) => o.textContent)), [
        'alice',
      ]);
      await evaluate('alice', [5, 10, 3]);

      // r1: bob twice (0 + 5 + 1 = 6 of 18, 33 %; 1 + 1 + 1 = 3 of 18, 16.7 -> 17 %), newest first.
      await openRecording('r1');
      await evaluate('bob', [0, 5, 1], 'Did not solve it');
      await evaluate('bob', [1, 1, 1]);
      assert.deepEqual(await listed(page), [
        ['Call quality', 'bob', '17 %', 'sup', '', true],
        ['Call quality', 'bob', '33 %', 'sup', 'Did not solve it', true],
        ['Call quality', 'alice', '72 %', 'admin', 'Good greeting, slow fix', false],
      ]);
      await shot('evaluations-4-supervisor');

      // The last one deleted (asked first); the admin's is not the supervisor's to delete.
      page.once('dialog', (d) => void d.accept());
      await page.click('#evaluation-list li.evaluation:first-child button.delete-evaluation');
      await page.waitForSelector('#eval-msg.ok:text-is("deleted the evaluation of bob")');
      assert.deepEqual(
        (await listed(page)).map((e) => e[2]),
        ['33 %', '72 %'],
      );
      const admins = await page.getAttribute('#evaluation-list li.evaluation:last-child', 'data-id');
      assert.equal(await inPage('DELETE', `/recordings/${ids.r1}/evaluations/${admins}`), 403);
    });

    /** Opens the Reports tab (or shows the report again) and waits for both tables; the two queries. */
    const reports = async (act: () => Promise<unknown>) => {
      const { page } = w;
      const path = (p: string) => (r: { url(): string }) => new URL(r.url()).pathname === p;
      const [report, summary] = await Promise.all([
        page.waitForResponse(path('/api/v1/reports')),
        page.waitForResponse(path('/api/v1/evaluations/summary')),
        act(),
      ]);
      await page.waitForSelector('#report-table:not([aria-busy])');
      await page.waitForSelector('#evaluation-summary-table:not([aria-busy])');
      assert.equal(summary.status(), 200);
      return [new URL(report.url()).searchParams, new URL(summary.url()).searchParams] as const;
    };
    /** Average of whole-per-cent scores with one decimal, worked out here. */
    const average = (scores: number[]) =>
      `${(Math.round((10 * scores.reduce((s, x) => s + x, 0)) / scores.length) / 10).toFixed(1)} %`;
    const summaryRows = () => cells(w.page, '#evaluation-summary-table tr.evaluation-summary-row');
    const summaryTotal = async () => (await cells(w.page, '#evaluation-summary-total'))[0]?.slice(0, 3);

    it('sums up the evaluations per agent in the Reports tab, over the report range', async () => {
      const { page, shot } = w;
      // The supervisor sees sales' recordings: alice (72, 100) and bob (33), not carol's.
      await reports(() => page.click('#tab-reports'));
      assert.deepEqual(await summaryRows(), [
        ['alice', '2', average([72, 100]), '72 %', '100 %'],
        ['bob', '1', average([33]), '33 %', '33 %'],
      ]);
      assert.equal(average([72, 100]), '86.0 %');
      assert.deepEqual(await summaryTotal(), ['Total', '3', average([72, 100, 33])]);

      // The admin sees carol's too.
      await logIn('admin', 'admin', ADMIN_PASSWORD);
      await reports(() => page.click('#tab-reports'));
      assert.deepEqual(await summaryRows(), [
        ['alice', '2', '86.0 %', '72 %', '100 %'],
        ['bob', '1', '33.0 %', '33 %', '33 %'],
        ['carol', '1', '56.0 %', '56 %', '56 %'],
      ]);
      assert.deepEqual(await summaryTotal(), ['Total', '4', average([72, 100, 33, 56])]);

      // From yesterday to tomorrow (the browser's days): the same figures, asked over the report's range.
      const day = (plus: number) =>
        page.evaluate((p) => {
          const d = new Date();
          d.setDate(d.getDate() + p);
          return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
        }, plus);
      await page.fill('#report-from', await day(-1));
      await page.fill('#report-to', await day(1));
      const [report, summary] = await reports(() => page.click('#report-show'));
      assert.ok(report.get('from') && report.get('to'));
      assert.deepEqual(Object.fromEntries(summary), { from: report.get('from'), to: report.get('to') });
      assert.equal((await summaryRows()).length, 3);
      assert.deepEqual(await summaryTotal(), ['Total', '4', average([72, 100, 33, 56])]);
      // Its CSV is the same range's, with the same figures.
      const href = (await page.getAttribute('#evaluation-csv', 'href')) ?? '';
      assert.equal(new URL(href, w.base).searchParams.get('from'), report.get('from'));
      const csv = await page.request.get(`${w.base}${href}`);
      assert.match(await csv.text(), /\ncarol,1,56,56,56\r?\n\(all\),4,65\.3,,/);
      await shot('evaluations-5-reports');

      // A day long before: no evaluations were made then.
      await page.fill('#report-from', '2020-01-01');
      await page.fill('#report-to', '2020-01-01');
      const [early, none] = await reports(() => page.click('#report-show'));
      assert.equal(none.get('from'), early.get('from'));
      assert.deepEqual(await summaryRows(), []);
      assert.equal(await page.textContent('#evaluation-summary-table tbody'), 'No evaluations.');
      assert.deepEqual(await summaryTotal(), ['Total', '0', '–']);
      // By the calls' time instead (asked of the API as by=call, the CSV too): the calls were today.
      const [byCall] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/evaluations/summary'),
        page.selectOption('#evaluation-by', 'call'),
      ]);
      await page.waitForSelector('#evaluation-summary-table:not([aria-busy])');
      assert.equal(new URL(byCall.url()).searchParams.get('by'), 'call');
      assert.equal(
        new URL((await page.getAttribute('#evaluation-csv', 'href')) ?? '', w.base).searchParams.get('by'),
        'call',
      );
      assert.deepEqual(await summaryRows(), []);
      await page.fill('#report-from', await day(-1));
      await page.fill('#report-to', await day(1));
      await reports(() => page.click('#report-show'));
      assert.deepEqual(await summaryTotal(), ['Total', '4', average([72, 100, 33, 56])]);
    });

    it('shows a user the evaluations but no Evaluate form and no summary', async () => {
      const { page, shot } = w;
      await logIn('alice', 'user');
      await openRecording('r1');
      assert.deepEqual(await listed(page), [
        ['Call quality', 'bob', '33 %', 'sup', 'Did not solve it', false],
        ['Call quality', 'alice', '72 %', 'admin', 'Good greeting, slow fix', false],
      ]);
      assert.equal(await page.isVisible('#evaluation-list'), true);
      assert.equal(
        await page.locator('#evaluate, #eval-form, #eval-agent, #eval-submit, #eval-no-agents').count(),
        0,
      );
      const body = { formId: 'x', agent: 'bob', answers: [1, 1, 1] };
      assert.equal(await inPage('POST', `/recordings/${ids.r1}/evaluations`, body), 403);
      await shot('evaluations-6-user');
      await page.click('#tab-reports');
      await page.waitForSelector('#report-table:not([aria-busy]) tbody tr');
      assert.equal(await page.locator('#evaluation-summary').count(), 0);
    });
  },
);
