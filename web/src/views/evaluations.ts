import { api, send, session } from '../api.js';
import type { evaluationJson, formJson } from '../../../src/api/resources/evaluations.js';
import { filterForm, fmtTime, grid, h, outcome, td } from '../dom.js';

/**
 * Agent evaluation (quality management): forms of questions worth 1-10 points (defined by admins
 * in Settings), evaluations of a user who took part in a recording (made by supervisors and
 * admins in its details, scored as the share of the form's points), and the per-agent summary of
 * the Reports tab.
 */

/** A form and an evaluation as the API sends them. */
export type EvaluationForm = ReturnType<typeof formJson>;
export type Evaluation = ReturnType<typeof evaluationJson>;

interface SummaryRow {
  agent: string;
  evaluations: number;
  averageScore: number;
  lowestScore: number;
  highestScore: number;
}

/** Supervisors and admins evaluate (and read the summary); users only read evaluations. */
export const mayEvaluate = (): boolean => session.me?.role === 'supervisor' || session.me?.role === 'admin';

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
const options = (from: number, to: number, selected?: number) =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    h('option', { value: String(from + i), selected: from + i === selected }, String(from + i)),
  );

/** One question of the create form: its text and its points (1-10), removable. */
function questionRow(remove: (row: HTMLElement) => void): HTMLElement {
  const row = h(
    'div',
    { class: 'eval-question-row' },
    h('input', { class: 'eval-question-text', placeholder: 'question', size: 50, maxLength: 500 }),
    ' ',
    h('label', {}, 'Points ', h('select', { class: 'eval-question-points' }, ...options(1, 10, 5))),
    ' ',
  );
  row.append(
    h(
      'button',
      { type: 'button', class: 'remove-question', title: 'Remove the question', onclick: () => remove(row) },
      '×',
    ),
  );
  return row;
}

/** Settings' "Evaluation forms" card (admins): the forms with a Delete each, and a form to create one. */
export function evaluationFormsCard(): HTMLElement {
  const msg = outcome('evaluation-forms-msg');
  const box = h('div', {}, 'Loading…');
  const name = h('input', {
    id: 'eval-form-name',
    placeholder: 'name (Call quality)',
    maxLength: 100,
    size: 30,
  });
  const rows = h('div', { id: 'eval-questions', class: 'eval-rows' });
  const remove = (row: HTMLElement): void => {
    if (rows.children.length > 1) row.remove();
  };
  const reset = (): void => {
    name.value = '';
    rows.replaceChildren(questionRow(remove));
  };
  reset();

  const create = (): void => {
    // Rows left blank are not questions (an "Add question" too many).
    const questions = [...rows.querySelectorAll('.eval-question-row')]
      .map((r) => ({
        text: (r.querySelector('.eval-question-text') as HTMLInputElement).value.trim(),
        points: Number((r.querySelector('.eval-question-points') as HTMLSelectElement).value),
      }))
      .filter((q) => q.text);
    send<EvaluationForm>('POST', '/evaluation-forms', { name: name.value.trim(), questions }).then(
      (f) => {
        msg.ok(
          `created ${f.name}: ${plural(f.questions.length, 'question')}, ${plural(f.maxPoints, 'point')}`,
        );
        reset();
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  };
  const del = (f: EvaluationForm): void => {
    if (!confirm(`Delete the evaluation form ${f.name}?`)) return;
    send('DELETE', `/evaluation-forms/${encodeURIComponent(f.id)}`).then(
      () => {
        msg.ok(`deleted ${f.name}`);
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  };
  const load = async (): Promise<void> => {
    const r = await api<{ items: EvaluationForm[] }>('/evaluation-forms');
    box.replaceChildren(
      r.items.length
        ? grid(
            'evaluation-form-list',
            ['Name', 'Questions', 'Max points', 'In use', ''],
            r.items.map((f) =>
              h(
                'tr',
                { class: 'evaluation-form-row', 'data-id': f.id },
                h(
                  'td',
                  { title: f.questions.map((q, i) => `${i + 1}. ${q.text} (${q.points})`).join('\n') },
                  f.name,
                ),
                h('td', { class: 'num' }, String(f.questions.length)),
                h('td', { class: 'num' }, String(f.maxPoints)),
                h('td', { class: 'num' }, String(f.inUse)),
                td(h('button', { class: 'danger delete-eval-form', onclick: () => del(f) }, 'Delete')),
              ),
            ),
          )
        : h('p', { id: 'evaluation-form-list', class: 'muted' }, 'No evaluation forms yet.'),
    );
  };
  const form = filterForm(
    create,
    h('label', {}, 'Name', name),
    rows,
    h(
      'button',
      { type: 'button', id: 'eval-add-question', onclick: () => rows.append(questionRow(remove)) },
      'Add question',
    ),
    h('button', { class: 'primary', type: 'submit', id: 'eval-create-form' }, 'Create form'),
  );
  form.classList.add('eval-form-editor');
  load().catch((e: Error) => msg.fail(e));
  return h(
    'div',
    { class: 'card', id: 'evaluation-forms' },
    h('h3', {}, 'Evaluation forms'),
    h(
      'p',
      { class: 'muted' },
      'Questions worth 1-10 points each; supervisors and administrators answer them for a user who took part in a recording, and the score is the share of the points given. A form in use is kept.',
    ),
    box,
    form,
    msg.el,
  );
}

/** One evaluation in the list: form, agent, evaluator, score, when, comment; Delete where allowed. */
function evaluationItem(e: Evaluation, del: (e: Evaluation) => void): HTMLElement {
  const me = session.me;
  const mayDelete = me?.can.admin === true || me?.username === e.evaluator;
  return h(
    'li',
    { class: 'evaluation', 'data-id': e.id },
    h('strong', { class: 'eval-form-name' }, e.formName),
    ': ',
    h('span', { class: 'eval-agent' }, e.agent),
    ' scored ',
    h('span', { class: 'score' }, `${e.score} %`),
    ` (${e.answers.join(' + ')}) — by `,
    h('span', { class: 'eval-evaluator' }, e.evaluator),
    ` ${fmtTime(e.createdAt)}`,
    ' ',
    mayDelete ? h('button', { class: 'danger delete-evaluation', onclick: () => del(e) }, 'Delete') : '',
    e.comment ? h('div', { class: 'eval-comment muted' }, e.comment) : '',
  );
}

/**
 * A recording's "Evaluations" card: its evaluations (newest first), and for supervisors and admins
 * a form to evaluate one of the users who took part. Made once per details page (it loads itself).
 */
export function evaluationsCard(recordingId: string): HTMLElement {
  const path = `/recordings/${encodeURIComponent(recordingId)}/evaluations`;
  const msg = outcome('eval-msg');
  const list = h('div', {}, 'Loading…');
  const editor = h('div', { id: 'eval-editor' });

  const del = (e: Evaluation): void => {
    if (!confirm(`Delete the evaluation of ${e.agent} (${e.score} %) by ${e.evaluator}?`)) return;
    send('DELETE', `${path}/${encodeURIComponent(e.id)}`).then(
      async () => {
        await load();
        msg.ok(`deleted the evaluation of ${e.agent}`);
      },
      (x: Error) => msg.fail(x),
    );
  };

  /** The Evaluate form: form, agent, an answer per question (0..its points), comment. */
  const evaluateForm = (forms: EvaluationForm[], agents: string[]): HTMLElement => {
    if (!agents.length)
      return h(
        'p',
        { id: 'eval-no-agents', class: 'muted' },
        'No user of this recording can be evaluated: none of its participants is a user’s number.',
      );
    if (!forms.length)
      return h(
        'p',
        { id: 'eval-no-forms', class: 'muted' },
        session.me?.can.admin
          ? 'No evaluation forms yet (Settings › Evaluation forms).'
          : 'No evaluation forms yet: an administrator defines them.',
      );
    const formSel = h(
      'select',
      { id: 'eval-form' },
      ...forms.map((f) => h('option', { value: f.id }, f.name)),
    );
    const agent = h('select', { id: 'eval-agent' }, ...agents.map((a) => h('option', { value: a }, a)));
    const questions = h('ol', { id: 'eval-questions-answer', class: 'eval-rows' });
    const comment = h('textarea', {
      id: 'eval-comment',
      rows: 2,
      cols: 50,
      maxLength: 2000,
      placeholder: 'Comment',
    });
    const chosen = () => forms.find((f) => f.id === formSel.value) ?? (forms[0] as EvaluationForm);
    const drawQuestions = (): void =>
      questions.replaceChildren(
        ...chosen().questions.map((q, i) =>
          h(
            'li',
            { class: 'eval-question' },
            h(
              'label',
              {},
              `${q.text} `,
              h(
                'select',
                { class: 'eval-answer', 'data-index': i, 'data-points': q.points },
                h('option', { value: '' }, '–'),
                ...options(0, q.points),
              ),
              ` of ${q.points}`,
            ),
          ),
        ),
      );
    formSel.addEventListener('change', drawQuestions);
    drawQuestions();
    const submit = (): void => {
      const answers = [...questions.querySelectorAll<HTMLSelectElement>('select.eval-answer')].map(
        (s) => s.value,
      );
      const open = answers.filter((a) => a === '').length;
      if (open) return msg.fail(new Error(`answer every question (${plural(open, 'question')} unanswered)`));
      const body: Record<string, unknown> = {
        formId: formSel.value,
        agent: agent.value,
        answers: answers.map(Number),
      };
      if (comment.value.trim()) body.comment = comment.value.trim();
      send<Evaluation>('POST', path, body).then(
        async (e) => {
          await load();
          msg.ok(`${e.agent} scored ${e.score} % on ${e.formName}`);
        },
        (x: Error) => msg.fail(x),
      );
    };
    const f = filterForm(
      submit,
      h('label', {}, 'Form', formSel),
      h('label', {}, 'Agent', agent),
      questions,
      h('label', {}, 'Comment', comment),
      h('button', { class: 'primary', type: 'submit', id: 'eval-submit' }, 'Submit'),
    );
    f.id = 'evaluate';
    return h('div', {}, h('h4', {}, 'Evaluate'), f);
  };

  const load = async (): Promise<void> => {
    const [r, forms] = await Promise.all([
      api<{ items: Evaluation[]; agents: string[] }>(path),
      mayEvaluate() ? api<{ items: EvaluationForm[] }>('/evaluation-forms').then((x) => x.items) : [],
    ]);
    list.replaceChildren(
      r.items.length
        ? h('ul', { id: 'evaluation-list' }, ...r.items.map((e) => evaluationItem(e, del)))
        : h('p', { id: 'evaluation-list', class: 'muted' }, 'No evaluations yet.'),
    );
    editor.replaceChildren(mayEvaluate() ? evaluateForm(forms, r.agents) : '');
  };
  load().catch((e: Error) => {
    list.replaceChildren();
    msg.fail(e);
  });
  return h('div', { class: 'card', id: 'evaluations' }, h('h3', {}, 'Evaluations'), list, editor, msg.el);
}

/**
 * The Reports tab's "Agent evaluations" (supervisors and admins): per agent, the evaluations made
 * in the report's range of the recordings the viewer may see. `load` takes the report's query.
 */
export function evaluationSummary(): { el: HTMLElement; load(q: URLSearchParams): Promise<void> } {
  const msg = outcome('evaluation-summary-msg');
  const tbody = h('tbody');
  const tfoot = h('tfoot');
  const table = grid(
    'evaluation-summary-table',
    ['Agent', 'Evaluations', 'Average', 'Lowest', 'Highest'],
    tbody,
  );
  table.append(tfoot);
  const pct = (n: number, decimals = 0) => `${n.toFixed(decimals)} %`;
  const num = (t: string) => h('td', { class: 'num' }, t);
  const csv = h('a', { id: 'evaluation-csv', class: 'button', download: '' }, 'Download CSV');
  let asked = 0;
  const load = async (q: URLSearchParams): Promise<void> => {
    const mine = ++asked;
    const p = new URLSearchParams();
    for (const k of ['from', 'to']) {
      const v = q.get(k);
      if (v) p.set(k, v);
    }
    const s = p.toString();
    p.set('format', 'csv');
    csv.href = `/api/v1/evaluations/summary?${p}`;
    table.setAttribute('aria-busy', 'true');
    try {
      const r = await api<{ items: SummaryRow[]; total: { evaluations: number; averageScore: number } }>(
        `/evaluations/summary${s ? `?${s}` : ''}`,
      );
      if (mine !== asked) return;
      msg.el.className = 'outcome';
      msg.el.textContent = '';
      tbody.replaceChildren(
        ...r.items.map((x) =>
          h(
            'tr',
            { class: 'evaluation-summary-row', 'data-agent': x.agent },
            td(x.agent),
            num(String(x.evaluations)),
            num(pct(x.averageScore, 1)),
            num(pct(x.lowestScore)),
            num(pct(x.highestScore)),
          ),
        ),
      );
      if (!r.items.length)
        tbody.append(h('tr', { class: 'empty' }, h('td', { colSpan: 5, class: 'muted' }, 'No evaluations.')));
      tfoot.replaceChildren(
        h(
          'tr',
          { id: 'evaluation-summary-total' },
          h('th', {}, 'Total'),
          num(String(r.total.evaluations)),
          num(r.total.evaluations ? pct(r.total.averageScore, 1) : '–'),
          td(''),
          td(''),
        ),
      );
    } catch (e) {
      if (mine !== asked) return;
      msg.fail(e as Error);
      tbody.replaceChildren();
      tfoot.replaceChildren();
    } finally {
      if (mine === asked) table.removeAttribute('aria-busy');
    }
  };
  const el = h(
    'div',
    { class: 'card', id: 'evaluation-summary' },
    h('h3', {}, 'Agent evaluations'),
    h(
      'p',
      { class: 'muted' },
      'The evaluations made between From and To of the recordings you may see, per evaluated user; scores as the share of the form’s points.',
    ),
    msg.el,
    table,
    h('p', { class: 'exports' }, csv),
  );
  return { el, load };
}
