import { ApiError, send } from '../api.js';
import { h, outcome, roleLabel, td } from '../dom.js';
import { t, tp } from '../i18n.js';
import type { UserJson } from './users.js';

/**
 * The Users page's side of the LDAP directory (admins): which users come from the directory (a
 * label beside the username, the entry's DN as its title), their edit form without a password
 * (they sign in with their directory password; the API refuses one), and the Directory card: Check
 * (POST /users/sync with dryRun: what a synchronization would do, nothing written) and Synchronize
 * (the same, written; the page reloads the list). No directory configured (409) or one that cannot
 * be reached (502) is said plainly.
 */

/** What a sync did or would do (POST /users/sync). */
interface SyncResult {
  dryRun: boolean;
  /** The directory's URL. */
  directory: string;
  /** People the directory returned under its filter. */
  people: number;
  created: { line: number; username: string; role: string }[];
  updated: { line: number; username: string; fields: string[] }[];
  unchanged: { line: number; username: string }[];
  disabled: { username: string }[];
  skipped: { line: number; username?: string; message: string }[];
}

/** The username cell of the users table: with a "directory" label (its DN as title) for a directory user. */
export function usernameCell(u: UserJson): HTMLTableCellElement {
  if (!u.directory) return td(u.username);
  return td(
    u.username,
    ' ',
    h('span', { class: 'tag', 'data-directory': u.directory, title: u.directory }, t('directory')),
  );
}

/**
 * The edit form's password field of a directory user: one that cannot be filled (they sign in with
 * their directory password, and the API refuses a password for them).
 */
export const directoryPasswordField = (u: UserJson): HTMLInputElement =>
  h('input', {
    id: 'eu-password',
    type: 'password',
    disabled: true,
    placeholder: t('directory password'),
    title: t('{name} signs in with their directory password', { name: u.username }),
  });

/** A line under a directory user's edit form: where they come from and what a sync overwrites. */
export function directoryNote(u: UserJson): HTMLElement | null {
  if (!u.directory) return null;
  return h(
    'p',
    { class: 'hint', id: 'eu-directory' },
    t(
      '{name} is synchronized from the directory entry {dn}. They sign in with their directory password, and the next synchronization sets again what the directory holds (role, name, groups, numbers, email).',
      { name: u.username, dn: u.directory },
    ),
  );
}

export function usersDirectoryCard(reload: () => void): HTMLElement {
  const msg = outcome('users-directory-msg');
  const result = h('div', { id: 'users-directory-result' });
  const check = h('button', { id: 'users-directory-check' }, t('Check'));
  const sync = h('button', { class: 'primary', id: 'users-directory-sync' }, t('Synchronize'));

  const show = (r: SyncResult): void => {
    const dry = r.dryRun;
    const n = { created: r.created.length, updated: r.updated.length, unchanged: r.unchanged.length };
    const counts = [
      dry
        ? t('{created} to create, {updated} to change, {unchanged} unchanged', n)
        : t('{created} created, {updated} changed, {unchanged} unchanged', n),
      ...(r.disabled.length > 0
        ? [dry ? t('{n} to disable', { n: r.disabled.length }) : t('{n} disabled', { n: r.disabled.length })]
        : []),
      ...(r.skipped.length > 0 ? [t('{n} skipped', { n: r.skipped.length })] : []),
    ];
    const item = (text: string) => h('li', {}, text);
    result.replaceChildren(
      h(
        'p',
        {},
        t('{sentence}: {changes}', {
          sentence: tp(r.people, '{n} person in {directory}', '{n} people in {directory}', {
            directory: r.directory,
          }),
          changes: counts.join(' · '),
        }),
      ),
      h(
        'ul',
        { class: 'import-plan' },
        ...r.created.map((c) => {
          const p = { name: c.username, role: roleLabel(c.role) };
          return item(dry ? t('create {name} ({role})', p) : t('created {name} ({role})', p));
        }),
        ...r.updated.map((u) => {
          const p = { name: u.username, fields: u.fields.join(', ') };
          return item(dry ? t('change {name}: {fields}', p) : t('changed {name}: {fields}', p));
        }),
        ...r.disabled.map((u) =>
          item(
            dry
              ? t('disable {name} (no longer in the directory)', { name: u.username })
              : t('disabled {name} (no longer in the directory)', { name: u.username }),
          ),
        ),
      ),
      r.skipped.length > 0
        ? h(
            'ul',
            { class: 'import-errors', id: 'users-directory-skipped' },
            ...r.skipped.map((s) => item(t('skipped: {reason}', { reason: s.message }))),
          )
        : '',
    );
  };
  const fail = (e: Error): void => {
    result.replaceChildren();
    if (e instanceof ApiError && e.status === 409)
      msg.fail(
        new Error(
          t(
            'No directory is configured: set directory.url (and directory.baseDn) in the config file, then restart the server.',
          ),
        ),
      );
    else if (e instanceof ApiError && e.status === 502)
      msg.fail(new Error(t('The directory cannot be reached: {error}', { error: e.message })));
    else msg.fail(e);
  };

  const run = async (dryRun: boolean): Promise<void> => {
    check.disabled = sync.disabled = true;
    await send<SyncResult>('POST', '/users/sync', { dryRun })
      .then((r) => {
        show(r);
        const changes = r.created.length + r.updated.length + r.disabled.length;
        if (!dryRun) {
          msg.ok(
            t('Synchronized: {created} created, {updated} changed, {disabled} disabled', {
              created: r.created.length,
              updated: r.updated.length,
              disabled: r.disabled.length,
            }),
          );
          reload();
        } else if (changes === 0) msg.ok(t('The users already match the directory: nothing to synchronize'));
        else msg.ok(t('Checked: nothing is written yet. Synchronize to apply these changes.'));
      }, fail)
      .finally(() => (check.disabled = sync.disabled = false));
  };
  check.addEventListener('click', () => void run(true));
  sync.addEventListener('click', () => void run(false));

  return h(
    'div',
    { class: 'card', id: 'users-directory' },
    h('strong', {}, t('Directory (LDAP)')),
    h(
      'p',
      { class: 'hint' },
      t(
        'Users of the LDAP directory named in the config file (directory.url). Check shows what a synchronization would change, writing nothing; Synchronize applies it. Directory users sign in with their directory password.',
      ),
    ),
    msg.el,
    check,
    ' ',
    sync,
    result,
  );
}
