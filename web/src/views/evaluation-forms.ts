import { api, send } from '../api.js';
import { filterForm, grid, h, outcome, td } from '../dom.js';
import { t, tp } from '../i18n.js';
import type { EvaluationForm } from './evaluations.js';

/** Settings' evaluation forms editor (admins): the forms of questions that evaluations answer. */

/** `<option>`s of the whole numbers from..to. */
export const options = (from: number, to: number, selected?: number) =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    h('option', { value: String(from + i), selected: from + i === selected }, String(from + i)),
  );

/** One question of the create form: its text and its points (1-10), removable. */
function questionRow(remove: (row: HTMLElement) => void): HTMLElement {
  const row = h(
    'div',
    { class: 'eval-question-row' },
    h('input', { class: 'eval-question-text', placeholder: t('question'), size: 50, maxLength: 500 }),
    ' ',
    h('label', {}, t('Points'), ' ', h('select', { class: 'eval-question-points' }, ...options(1, 10, 5))),
    ' ',
  );
  row.append(
    h(
      'button',
      {
        type: 'button',
        class: 'remove-question',
        title: t('Remove the question'),
        onclick: () => remove(row),
      },
      '×',
    ),
  );
  return row;
}

/** Settings' "Evaluation forms" card (admins): the forms with a Delete each, and a form to create one. */
export function evaluationFormsCard(): HTMLElement {
  const msg = outcome('evaluation-forms-msg');
  const box = h('div', {}, t('Loading…'));
  const name = h('input', {
    id: 'eval-form-name',
    placeholder: t('name (Call quality)'),
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
        const points = tp(f.maxPoints, '{n} point', '{n} points');
        msg.ok(
          tp(
            f.questions.length,
            'created {name}: {n} question, {points}',
            'created {name}: {n} questions, {points}',
            { name: f.name, points },
          ),
        );
        reset();
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  };
  const del = (f: EvaluationForm): void => {
    if (!confirm(t('Delete the evaluation form {name}?', { name: f.name }))) return;
    send('DELETE', `/evaluation-forms/${encodeURIComponent(f.id)}`).then(
      () => {
        msg.ok(t('deleted {name}', { name: f.name }));
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
            [t('Form name'), t('Questions'), t('Max points'), t('In use'), ''],
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
                td(h('button', { class: 'danger delete-eval-form', onclick: () => del(f) }, t('Delete'))),
              ),
            ),
          )
        : h('p', { id: 'evaluation-form-list', class: 'muted' }, t('No evaluation forms yet.')),
    );
  };
  const form = filterForm(
    create,
    h('label', {}, t('Form name'), name),
    rows,
    h(
      'button',
      { type: 'button', id: 'eval-add-question', onclick: () => rows.append(questionRow(remove)) },
      t('Add question'),
    ),
    h('button', { class: 'primary', type: 'submit', id: 'eval-create-form' }, t('Create form')),
  );
  form.classList.add('eval-form-editor');
  load().catch((e: Error) => msg.fail(e));
  return h(
    'div',
    { class: 'card', id: 'evaluation-forms' },
    h('h3', {}, t('Evaluation forms')),
    h(
      'p',
      { class: 'muted' },
      t(
        'Questions worth 1-10 points each; supervisors and administrators answer them for a user who took part in a recording, and the score is the share of the points given. A form in use is kept.',
      ),
    ),
    box,
    form,
    msg.el,
  );
}
