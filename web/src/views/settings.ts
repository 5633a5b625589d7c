import { api, send } from '../api.js';
import { h, outcome } from '../dom.js';
import { customFieldsCard } from './custom-fields.js';
import { evaluationFormsCard } from './evaluations.js';

const LABELS: Record<string, string> = {
  'permissions.download': 'Who may download and export recordings',
  'permissions.delete': 'Who may delete recordings ("nobody" cannot be undone)',
};

/** Settings (admins): who may download/export and who may delete; the custom fields of recordings; evaluation forms. */
export function settingsView(app: HTMLElement): void {
  const msg = outcome('settings-msg');
  const form = h('div', { class: 'card' }, 'Loading…');
  const load = async (): Promise<void> => {
    const r = await api<{ settings: Record<string, string>; levels: string[] }>('/settings');
    const selects = Object.entries(r.settings).map(([k, v]) => {
      const options = r.levels.map((l) =>
        h('option', { value: l, selected: l === v }, l === 'nobody' ? l : `${l} and above`),
      );
      return [k, h('select', { id: `setting-${k.replace('.', '-')}`, 'data-key': k }, ...options)] as const;
    });
    const save = () =>
      send<{ settings: Record<string, string> }>(
        'PUT',
        '/settings',
        Object.fromEntries(selects.map(([k, sel]) => [k, sel.value])),
      ).then(
        (x) =>
          msg.ok(
            `saved: ${Object.entries(x.settings)
              .map(([k, v]) => `${k} = ${v}`)
              .join(', ')}`,
          ),
        (x: Error) => msg.fail(x),
      );
    form.replaceChildren(
      ...selects.map(([k, sel]) => h('p', {}, h('label', {}, `${LABELS[k] ?? k}: `, sel))),
      h('button', { class: 'primary', id: 'save-settings', onclick: save }, 'Save'),
    );
  };
  app.append(
    h('h2', {}, 'Settings'),
    h('p', { class: 'muted' }, 'Every change is written to the audit trail.'),
    msg.el,
    form,
    customFieldsCard(),
    evaluationFormsCard(),
  );
  load().catch((e: Error) => msg.fail(e));
}
