/**
 * Agent evaluation over the real HTTP API and a real embedded Postgres: admins define forms;
 * supervisors and admins evaluate a user who took part in a recording they may see, an answer per
 * question within its points; the score is the share of the form's points; users see the
 * evaluations of their recordings but do not evaluate; a form in use stays; an evaluation is
 * deleted by its evaluator or an admin; the summary per agent keeps to the caller's scope.
 * (r1: alice <-> carol, r2: bob <-> dave; alice in sales, bob in support, sup supervises sales.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiHarness, startApiWorld } from '../helpers/api-harness.js';

describe('agent evaluation (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string };
  let formId = '';

  before(async () => {
    ({ h, ids } = await startApiWorld());
  });

  after(async () => {
    await h?.close();
  });

  const evaluate = (as: string, rec: string, body: Record<string, unknown>) =>
    h.call('POST', `/api/v1/recordings/${rec}/evaluations`, { as, body: { formId, ...body } });

  it('admins define forms; bad forms are refused with the reason', async () => {
    const questions = [
      { text: 'Greeted the caller by name', points: 5 },
      { text: 'Confirmed the order number', points: 3 },
      { text: 'Offered further help', points: 2 },
    ];
    assert.equal(
      (await h.call('POST', '/api/v1/evaluation-forms', { as: 'sup', body: { name: 'QA', questions } }))
        .status,
      403,
    );
    const made = await h.call('POST', '/api/v1/evaluation-forms', {
      as: 'admin',
      body: { name: 'Support QA', questions },
    });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.equal(made.json.maxPoints, 10);
    formId = made.json.id;
    const again = await h.call('POST', '/api/v1/evaluation-forms', {
      as: 'admin',
      body: { name: 'Support QA', questions },
    });
    assert.equal(again.status, 409);
    const bad: [unknown, RegExp][] = [
      [{ name: 'x', questions: [{ text: 'q', points: 11 }] }, /points: at most 10/],
      [{ name: 'x', questions: [] }, /a form needs a question/],
      [{ name: '', questions }, /name/],
    ];
    for (const [body, re] of bad) {
      const r = await h.call('POST', '/api/v1/evaluation-forms', { as: 'admin', body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.json.error, re);
    }
    const list = await h.call('GET', '/api/v1/evaluation-forms', { as: 'alice' });
    assert.deepEqual(
      list.json.items.map((f: { name: string; inUse: number }) => `${f.name}:${f.inUse}`),
      ['Support QA:0'],
    );
  });

  it('supervisors and admins evaluate who took part; the score is the share of the points', async () => {
    assert.equal((await evaluate('alice', ids.r1, { agent: 'alice', answers: [5, 3, 2] })).status, 403);
    const e = await evaluate('sup', ids.r1, { agent: 'alice', answers: [4, 3, 1], comment: 'good call' });
    assert.equal(e.status, 201, JSON.stringify(e.json));
    assert.equal(e.json.score, 80, '(4 + 3 + 1) of 10 points');
    assert.equal(e.json.evaluator, 'sup');
    const refusals: [Record<string, unknown>, number, RegExp][] = [
      [
        { agent: 'bob', answers: [1, 1, 1] },
        400,
        /bob did not take part in this recording \(who did: alice\)/,
      ],
      [{ agent: 'alice', answers: [1, 1] }, 400, /the form has 3 questions, 2 answers given/],
      [{ agent: 'alice', answers: [6, 0, 0] }, 400, /answers\[0\]: 6 is more than the question's 5 points/],
      [{ agent: 'alice', answers: [-1, 0, 0] }, 400, /at least 0/],
      [
        { agent: 'alice', answers: [0, 0, 0], formId: '00000000-0000-4000-8000-000000000000' },
        404,
        /not found/,
      ],
    ];
    for (const [body, status, re] of refusals) {
      const r = await evaluate('sup', ids.r1, body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(r.json.error, re);
    }
    assert.equal(
      (await evaluate('sup', ids.r2, { agent: 'bob', answers: [1, 1, 1] })).status,
      404,
      'not his',
    );
    assert.equal((await evaluate('admin', ids.r2, { agent: 'bob', answers: [5, 3, 2] })).json.score, 100);
    assert.equal((await evaluate('admin', ids.r1, { agent: 'alice', answers: [1, 0, 0] })).json.score, 10);

    // alice sees the evaluations of her recording, newest first, and who may be evaluated on it.
    const seen = await h.call('GET', `/api/v1/recordings/${ids.r1}/evaluations`, { as: 'alice' });
    assert.equal(seen.status, 200);
    assert.deepEqual(
      seen.json.items.map((x: { evaluator: string; score: number }) => `${x.evaluator}:${x.score}`),
      ['admin:10', 'sup:80'],
    );
    assert.deepEqual(seen.json.agents, ['alice']);
    assert.equal(
      (await h.call('GET', `/api/v1/recordings/${ids.r1}/evaluations`, { as: 'bob' })).status,
      404,
    );
    const audit = await h.call('GET', `/api/v1/audit?resourceId=${ids.r1}&action=evaluation.add`, {
      as: 'admin',
    });
    assert.deepEqual(
      audit.json.items.map(
        (x: { actor: string; details: { score: number } }) => `${x.actor}:${x.details.score}`,
      ),
      ['admin:10', 'sup:80'],
    );
  });

  it('summarises per agent within the caller’s scope', async () => {
    const sum = async (as: string, q = '') => h.call('GET', `/api/v1/evaluations/summary${q}`, { as });
    const bySup = await sum('sup');
    assert.deepEqual(bySup.json.items, [
      { agent: 'alice', evaluations: 2, averageScore: 45, lowestScore: 10, highestScore: 80 },
    ]);
    const byAdmin = await sum('admin');
    assert.deepEqual(
      byAdmin.json.items.map((x: { agent: string; averageScore: number }) => `${x.agent}:${x.averageScore}`),
      ['alice:45', 'bob:100'],
    );
    assert.deepEqual(byAdmin.json.total, { evaluations: 3, averageScore: 63.3 }, '(80 + 10 + 100) / 3');
    assert.equal((await sum('alice')).status, 403);
    const csv = await sum('admin', '?format=csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.deepEqual(
      csv.buf
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .trim()
        .split(/\r?\n/),
      [
        'agent,evaluations,average_score,lowest_score,highest_score',
        'alice,2,45,10,80',
        'bob,1,100,100,100',
        '(all),3,63.3,,',
      ],
    );
    const later = await sum('admin', `?from=${new Date(Date.now() + 86_400_000).toISOString()}`);
    assert.deepEqual(later.json, { items: [], total: { evaluations: 0, averageScore: 0 } });
    // By the call's time: r2 (bob's) started at 11:00 on 1 March, r1 at 10:00; all were evaluated today.
    const march = '?from=2026-03-01T10:30:00Z&to=2026-03-02T00:00:00Z';
    const byCall = await sum('admin', `${march}&by=call`);
    assert.deepEqual(
      byCall.json.items.map((x: { agent: string; evaluations: number }) => `${x.agent}:${x.evaluations}`),
      ['bob:1'],
    );
    const byMade = await sum('admin', `${march}&by=evaluated`);
    assert.deepEqual(byMade.json.items, [], 'none was made in March');
    assert.deepEqual((await sum('admin', `${march}`)).json.items, [], 'by when evaluated unless asked');
    const bad = await sum('admin', '?by=agent');
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /evaluated or call/);
  });

  it('a form in use stays; an evaluation is deleted by its evaluator or an admin', async () => {
    const del = await h.call('DELETE', `/api/v1/evaluation-forms/${formId}`, { as: 'admin' });
    assert.equal(del.status, 409);
    assert.match(del.json.error, /"Support QA" is used by 3 evaluation\(s\)/);
    const items = (await h.call('GET', `/api/v1/recordings/${ids.r1}/evaluations`, { as: 'admin' })).json
      .items as { id: string; evaluator: string }[];
    const bySup = items.find((x) => x.evaluator === 'sup')?.id;
    const byAdmin = items.find((x) => x.evaluator === 'admin')?.id;
    const path = (id?: string) => `/api/v1/recordings/${ids.r1}/evaluations/${id}`;
    assert.equal((await h.call('DELETE', path(bySup), { as: 'alice' })).status, 403);
    assert.equal((await h.call('DELETE', path(byAdmin), { as: 'sup' })).status, 403);
    assert.equal((await h.call('DELETE', path(bySup), { as: 'sup' })).status, 200);
    assert.equal((await h.call('DELETE', path(byAdmin), { as: 'admin' })).status, 200);
    assert.equal((await h.call('DELETE', path(byAdmin), { as: 'admin' })).status, 404);
    // The last evaluation of the form gone (r2's), the form goes too.
    const r2 = (await h.call('GET', `/api/v1/recordings/${ids.r2}/evaluations`, { as: 'admin' })).json.items;
    await h.call('DELETE', `/api/v1/recordings/${ids.r2}/evaluations/${r2[0].id}`, { as: 'admin' });
    assert.equal((await h.call('DELETE', `/api/v1/evaluation-forms/${formId}`, { as: 'admin' })).status, 200);
    assert.equal((await h.call('DELETE', `/api/v1/evaluation-forms/${formId}`, { as: 'admin' })).status, 404);
    // A form deleted between the API's check and the insert (a race): not found, not a crash.
    await assert.rejects(
      h.db.evaluations.add({
        recordingId: ids.r1,
        formId,
        agent: 'alice',
        evaluator: 'sup',
        answers: [1],
        score: 10,
        comment: '',
      }),
      (err: Error) => err.name === 'NotFoundError' || /not found/.test(err.message),
    );
  });
});
