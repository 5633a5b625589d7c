import { ApiError, send } from '../api.js';
import { h, outcome } from '../dom.js';
import { t } from '../i18n.js';

/**
 * The Users page's CSV card (admins): download the users as CSV, and import a file (POST
 * /users/import). The file is checked first (a dry run) and what it would do is shown: who is
 * created, who changes and in which fields, who already matches, or every bad line. Import writes
 * exactly what was checked, all or nothing, and the page reloads the list.
 */

interface ImportResult {
  dryRun: boolean;
  created: { line: number; username: string; role: string }[];
  updated: { line: number; username: string; fields: string[] }[];
  unchanged: { line: number; username: string }[];
  disabled: { username: string }[];
}
interface RowError {
  line: number;
  username?: string;
  message: string;
}

export function usersImportCard(reload: () => void): HTMLElement {
  const msg = outcome('users-import-msg');
  const file = h('input', { id: 'users-csv-file', type: 'file', accept: '.csv,text/csv' });
  const result = h('div', { id: 'users-import-result' });
  const apply = h('button', { class: 'primary', id: 'users-import-apply', disabled: true }, t('Import'));
  const disableMissing = h('input', { id: 'users-import-disable-missing', type: 'checkbox' });
  let checked: { csv: string; disableMissing: boolean } | undefined;

  const showPlan = (r: ImportResult): void => {
    const item = (line: number, text: string) => h('li', {}, `${t('line {n}', { n: line })}: ${text}`);
    result.replaceChildren(
      h(
        'p',
        {},
        t('{created} to create, {updated} to change, {unchanged} unchanged', {
          created: r.created.length,
          updated: r.updated.length,
          unchanged: r.unchanged.length,
        }),
        r.disabled.length > 0 ? ` · ${t('{n} to disable', { n: r.disabled.length })}` : '',
      ),
      h(
        'ul',
        { class: 'import-plan' },
        ...r.created.map((c) =>
          item(c.line, t('create {name} ({role})', { name: c.username, role: c.role })),
        ),
        ...r.updated.map((u) =>
          item(u.line, t('change {name}: {fields}', { name: u.username, fields: u.fields.join(', ') })),
        ),
        ...r.disabled.map((u) => h('li', {}, t('disable {name} (not in the file)', { name: u.username }))),
      ),
    );
  };
  const showErrors = (e: Error): void => {
    const rows = e instanceof ApiError && Array.isArray(e.body.rows) ? (e.body.rows as RowError[]) : [];
    result.replaceChildren(
      h(
        'ul',
        { class: 'import-errors' },
        ...rows.map((r) =>
          h('li', {}, `${r.line > 0 ? `${t('line {n}', { n: r.line })}: ` : ''}${r.message}`),
        ),
      ),
    );
    msg.fail(e);
  };

  const check = async (): Promise<void> => {
    apply.disabled = true;
    checked = undefined;
    const f = file.files?.[0];
    if (!f) {
      msg.fail(new Error(t('Choose a CSV file first')));
      return;
    }
    const csv = await f.text();
    const body = { csv, dryRun: true, disableMissing: disableMissing.checked };
    await send<ImportResult>('POST', '/users/import', body).then((r) => {
      showPlan(r);
      const changes = r.created.length + r.updated.length + r.disabled.length;
      if (changes === 0) msg.ok(t('Every user in the file already matches: nothing to import'));
      else {
        msg.ok(t('Checked: no problems. Import to apply these changes.'));
        checked = { csv, disableMissing: body.disableMissing };
        apply.disabled = false;
      }
    }, showErrors);
  };
  const run = async (): Promise<void> => {
    if (checked === undefined) return;
    apply.disabled = true;
    await send<ImportResult>('POST', '/users/import', checked).then((r) => {
      showPlan(r);
      msg.ok(
        t('Imported: {created} created, {updated} changed, {disabled} disabled', {
          created: r.created.length,
          updated: r.updated.length,
          disabled: r.disabled.length,
        }),
      );
      checked = undefined;
      reload();
    }, showErrors);
  };
  apply.addEventListener('click', () => void run());
  // A new file, or the option changed: check again before importing.
  for (const input of [file, disableMissing])
    input.addEventListener('change', () => {
      apply.disabled = true;
      checked = undefined;
      result.replaceChildren();
    });

  return h(
    'div',
    { class: 'card', id: 'users-import' },
    h('strong', {}, t('Users as CSV')),
    ' ',
    h(
      'a',
      { id: 'users-csv-download', class: 'button', href: '/api/v1/users?format=csv', download: '' },
      t('Download CSV'),
    ),
    h(
      'p',
      { class: 'hint' },
      t(
        'Columns: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Lists are separated by ";". A blank cell leaves the field as it is.',
      ),
    ),
    msg.el,
    file,
    ' ',
    h('label', {}, disableMissing, ' ', t('Disable the users who are not in the file')),
    ' ',
    h('button', { id: 'users-import-check', onclick: () => void check() }, t('Check file')),
    ' ',
    apply,
    result,
  );
}
