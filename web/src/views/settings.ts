import { api, send } from '../api.js';
import { h, outcome, roleLabel } from '../dom.js';
import { t } from '../i18n.js';
import { languageSelect } from './users.js';
import { customFieldsCard } from './custom-fields.js';
import { evaluationFormsCard } from './evaluations.js';
import { retentionCard } from './retention.js';

/** A setting's label (its key when it has none). */
const label = (key: string): string =>
  key === 'permissions.download'
    ? t('Who may download and export recordings')
    : key === 'permissions.delete'
      ? t('Who may delete recordings ("nobody" cannot be undone)')
      : key;

/** Settings (admins): who may download/export and who may delete; retention; the site language; the custom fields of recordings; evaluation forms. */
export function settingsView(app: HTMLElement): void {
  const msg = outcome('settings-msg');
  const form = h('div', { class: 'card' }, t('Loading…'));
  const load = async (): Promise<void> => {
    const r = await api<{ settings: Record<string, string>; levels: string[] }>('/settings');
    const selects = Object.entries(r.settings).map(([k, v]) => {
      const options = r.levels.map((l) =>
        h(
          'option',
          { value: l, selected: l === v },
          l === 'nobody' ? t('nobody') : t('{level} and above', { level: roleLabel(l) }),
        ),
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
            t('saved: {settings}', {
              settings: Object.entries(x.settings)
                .map(([k, v]) => `${k} = ${v}`)
                .join(', '),
            }),
          ),
        (x: Error) => msg.fail(x),
      );
    form.replaceChildren(
      ...selects.map(([k, sel]) => h('p', {}, h('label', {}, `${t('{label}:', { label: label(k) })} `, sel))),
      h('button', { class: 'primary', id: 'save-settings', onclick: save }, t('Save')),
    );
  };
  app.append(
    h('h2', {}, t('Settings')),
    h('p', { class: 'muted' }, t('Every change is written to the audit trail.')),
    msg.el,
    form,
    retentionCard(msg),
    siteLanguageCard(msg),
    customFieldsCard(),
    evaluationFormsCard(),
  );
  load().catch((e: Error) => msg.fail(e));
}

/** The site's default console language (users and groups without one of their own get it). */
function siteLanguageCard(msg: ReturnType<typeof outcome>): HTMLElement {
  const card = h('div', { class: 'card', id: 'site-language' }, t('Loading…'));
  api<{ site: string | null }>('/languages').then(
    (r) => {
      const pick = languageSelect({ id: 'site-language-select' }, r.site);
      pick.addEventListener('change', () => {
        send('PUT', '/languages/site', { language: pick.value || null }).then(
          () => msg.ok(t('saved the site’s default language')),
          (x: Error) => msg.fail(x),
        );
      });
      card.replaceChildren(
        h('h3', {}, t('Console language')),
        h(
          'p',
          { class: 'muted' },
          t('The default for users whose own language and group’s language are not set; else the browser’s.'),
        ),
        h('label', {}, `${t('Default language')} `, pick),
      );
    },
    (e: Error) => msg.fail(e),
  );
  return card;
}
