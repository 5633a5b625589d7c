import { api, send, session } from '../api.js';
import type { evaluationJson, formJson } from '../../../src/api/resources/evaluations.js';
import { filterForm, fmtTime, grid, h, outcome, td } from '../dom.js';
import { fmtNumber, t, tp } from '../i18n.js';
import { options } from './evaluation-forms.js';

export { evaluationFormsCard } from './evaluation-forms.js';

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

/** A translated `template` as DOM children, each `{name}` replaced by `parts[name]` (an element or text). */
const fillNodes = (template: string, parts: Record<string, Node | string>): (Node | string)[] =>
  template
    .split(/\{(\w+)\}/)
    .map((s, i) => (i % 2 ? (parts[s] ?? `{${s}}`) : s))
    .filter((x) => x !== '');

/** One evaluation in the list: form, agent, evaluator, score, when, comment; Delete where allowed. */
function evaluationItem(e: Evaluation, del: (e: Evaluation) => void): HTMLElement {
  const me = session.me;
  const mayDelete = me?.can.admin === true || me?.username === e.evaluator;
  return h(
    'li',
    { class: 'evaluation', 'data-id': e.id },
    ...fillNodes(t('{form}: {agent} scored {score} ({answers}) — by {evaluator} {when}'), {
      form: h('strong', { class: 'eval-form-name' }, e.formName),
      agent: h('span', { class: 'eval-agent' }, e.agent),
      score: h('span', { class: 'score' }, `${e.score} %`),
      answers: e.answers.join(' + '),
      evaluator: h('span', { class: 'eval-evaluator' }, e.evaluator),
      when: fmtTime(e.createdAt),
    }),
    ' ',
    mayDelete ? h('button', { class: 'danger delete-evaluation', onclick: () => del(e) }, t('Delete')) : '',
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
  const list = h('div', {}, t('Loading…'));
  const editor = h('div', { id: 'eval-editor' });

  const del = (e: Evaluation): void => {
    const question = t('Delete the evaluation of {agent} ({score} %) by {evaluator}?', {
      agent: e.agent,
      score: e.score,
      evaluator: e.evaluator,
    });
    if (!confirm(question)) return;
    send('DELETE', `${path}/${encodeURIComponent(e.id)}`).then(
      async () => {
        await load();
        msg.ok(t('deleted the evaluation of {agent}', { agent: e.agent }));
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
        t('No user of this recording can be evaluated: none of its participants is a user’s number.'),
      );
    if (!forms.length)
      return h(
        'p',
        { id: 'eval-no-forms', class: 'muted' },
        session.me?.can.admin
          ? t('No evaluation forms yet (Settings › Evaluation forms).')
          : t('No evaluation forms yet: an administrator defines them.'),
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
      placeholder: t('Comment'),
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
              ...fillNodes(t('{question} {answer} of {points}'), {
                question: q.text,
                answer: h(
                  'select',
                  { class: 'eval-answer', 'data-index': i, 'data-points': q.points },
                  h('option', { value: '' }, '–'),
                  ...options(0, q.points),
                ),
                points: String(q.points),
              }),
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
      if (open)
        return msg.fail(
          new Error(
            tp(
              open,
              'answer every question ({n} question unanswered)',
              'answer every question ({n} questions unanswered)',
            ),
          ),
        );
      const body: Record<string, unknown> = {
        formId: formSel.value,
        agent: agent.value,
        answers: answers.map(Number),
      };
      if (comment.value.trim()) body.comment = comment.value.trim();
      send<Evaluation>('POST', path, body).then(
        async (e) => {
          await load();
          msg.ok(
            t('{agent} scored {score} % on {form}', { agent: e.agent, score: e.score, form: e.formName }),
          );
        },
        (x: Error) => msg.fail(x),
      );
    };
    const f = filterForm(
      submit,
      h('label', {}, t('Form'), formSel),
      h('label', {}, t('Agent'), agent),
      questions,
      h('label', {}, t('Comment'), comment),
      h('button', { class: 'primary', type: 'submit', id: 'eval-submit' }, t('Submit')),
    );
    f.id = 'evaluate';
    return h('div', {}, h('h4', {}, t('Evaluate')), f);
  };

  const load = async (): Promise<void> => {
    const [r, forms] = await Promise.all([
      api<{ items: Evaluation[]; agents: string[] }>(path),
      mayEvaluate() ? api<{ items: EvaluationForm[] }>('/evaluation-forms').then((x) => x.items) : [],
    ]);
    list.replaceChildren(
      r.items.length
        ? h('ul', { id: 'evaluation-list' }, ...r.items.map((e) => evaluationItem(e, del)))
        : h('p', { id: 'evaluation-list', class: 'muted' }, t('No evaluations yet.')),
    );
    editor.replaceChildren(mayEvaluate() ? evaluateForm(forms, r.agents) : '');
  };
  load().catch((e: Error) => {
    list.replaceChildren();
    msg.fail(e);
  });
  return h('div', { class: 'card', id: 'evaluations' }, h('h3', {}, t('Evaluations')), list, editor, msg.el);
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
    [t('Agent'), t('Evaluations'), t('Average'), t('Lowest'), t('Highest')],
    tbody,
  );
  table.append(tfoot);
  const pct = (n: number, decimals = 0) =>
    `${fmtNumber(n, { minimumFractionDigits: decimals, maximumFractionDigits: decimals, useGrouping: false })} %`;
  const num = (text: string) => h('td', { class: 'num' }, text);
  const csv = h('a', { id: 'evaluation-csv', class: 'button', download: '' }, t('Download CSV'));
  // What From and To apply to: when the evaluation was made, or when the call started.
  const by = h(
    'select',
    { id: 'evaluation-by' },
    h('option', { value: 'evaluated' }, t('when the evaluation was made')),
    h('option', { value: 'call' }, t('when the call started')),
  );
  let asked = 0;
  let last = new URLSearchParams();
  const load = async (q: URLSearchParams): Promise<void> => {
    const mine = ++asked;
    last = q;
    const p = new URLSearchParams();
    for (const k of ['from', 'to']) {
      const v = q.get(k);
      if (v) p.set(k, v);
    }
    if (by.value === 'call') p.set('by', 'call');
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
        tbody.append(
          h('tr', { class: 'empty' }, h('td', { colSpan: 5, class: 'muted' }, t('No evaluations.'))),
        );
      tfoot.replaceChildren(
        h(
          'tr',
          { id: 'evaluation-summary-total' },
          h('th', {}, t('Total')),
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
    h('h3', {}, t('Agent evaluations')),
    h(
      'p',
      { class: 'muted' },
      t(
        'The evaluations of the recordings you may see, per evaluated user, between From and To; scores as the share of the form’s points.',
      ),
    ),
    h('p', {}, h('label', {}, `${t('From and To apply to')} `, by)),
    msg.el,
    table,
    h('p', { class: 'exports' }, csv),
  );
  by.addEventListener('change', () => void load(last));
  return { el, load };
}
