import { api, send } from '../api.js';
import { filterForm, grid, h, list, outcome, roleLabel, td } from '../dom.js';
import { LANGUAGE_NAMES, LANGUAGES, t } from '../i18n.js';
import {
  directoryNote,
  directoryPasswordField,
  usernameCell,
  usersDirectoryCard,
} from './users-directory.js';
import { usersImportCard } from './users-import.js';

/**
 * Users and groups (admins): create, edit (role, groups, numbers, password, disabled, language,
 * email notifications), delete; download and import as CSV (views/users-import.ts); synchronize
 * with the LDAP directory, whose users show as such and have no password here (views/users-directory.ts).
 */

export interface UserJson {
  id: string;
  username: string;
  displayName: string;
  role: string;
  group: string | null;
  extraGroups: string[];
  numbers: string[];
  disabled: boolean;
  createdAt: string;
  language: string | null;
  /** The LDAP entry the user is synchronized from; null for a local user. */
  directory: string | null;
}
const ROLE_NAMES = ['record-only', 'user', 'supervisor', 'admin'];
const roleSelect = (id: string, value = 'user') =>
  h(
    'select',
    { id },
    ...ROLE_NAMES.map((r) => h('option', { value: r, selected: r === value }, roleLabel(r))),
  );
const password = (id: string, placeholder: string) =>
  h('input', { id, type: 'password', placeholder, autocomplete: 'new-password' });
const labelled = (fields: [string, HTMLElement][]) => fields.map(([label, el]) => h('label', {}, label, el));
/** A console language, or "not set" (the next level applies: the group's, the site's, the browser's). */
export const languageSelect = (attrs: Record<string, string>, value: string | null) =>
  h(
    'select',
    attrs,
    h('option', { value: '', selected: value === null }, t('not set')),
    ...LANGUAGES.map((l) => h('option', { value: l, selected: l === value }, LANGUAGE_NAMES[l])),
  );

/** A user's email notifications of their stored recordings (GET/PUT .../notifications). */
export interface NotificationSettings {
  email: string | null;
  enabled: boolean;
  attach: boolean;
}

type Field = [label: string, input: HTMLInputElement];
/**
 * The three fields of a user's email notifications (ids `<prefix>-email`, `-notify`, `-attach`),
 * disabled until `set` fills them (so nothing typed before the settings arrive is overwritten).
 * Also the Account page's (views/account.ts).
 */
export function notificationFields(prefix: string) {
  const email = h('input', {
    id: `${prefix}-email`,
    type: 'email',
    maxLength: 254,
    autocomplete: 'off',
    disabled: true,
  });
  const enabled = h('input', { id: `${prefix}-notify`, type: 'checkbox', disabled: true });
  const attach = h('input', { id: `${prefix}-attach`, type: 'checkbox', disabled: true });
  let loaded: NotificationSettings | undefined;
  const value = (): NotificationSettings => ({
    email: email.value.trim() || null,
    enabled: enabled.checked,
    attach: attach.checked,
  });
  return {
    fields: [
      [t('Email'), email],
      [t('Email on each stored recording'), enabled],
      [t('Attach the recording'), attach],
    ] as [Field, Field, Field],
    /** Shows `s` (what the server has) and enables the fields. */
    set: (s: NotificationSettings): void => {
      loaded = { email: s.email, enabled: s.enabled, attach: s.attach };
      email.value = s.email ?? '';
      enabled.checked = s.enabled;
      attach.checked = s.attach;
      for (const i of [email, enabled, attach]) i.disabled = false;
    },
    value,
    /** What to PUT: the fields' values once loaded and changed, else undefined. */
    changed: (): NotificationSettings | undefined =>
      loaded && JSON.stringify(value()) !== JSON.stringify(loaded) ? value() : undefined,
  };
}

export function usersView(app: HTMLElement): void {
  const box = h('div', {}, t('Loading…'));
  const editBox = h('div', {});
  const groupsBox = h('div', {});
  const msg = outcome('users-msg');
  const nu = {
    username: h('input', { id: 'nu-username', placeholder: t('username'), autocomplete: 'off' }),
    displayName: h('input', { id: 'nu-name', placeholder: t('display name') }),
    password: password('nu-password', t('password (8+)')),
    role: roleSelect('nu-role'),
    group: h('input', { id: 'nu-group', placeholder: t('group') }),
    extraGroups: h('input', { id: 'nu-extra', placeholder: t('more groups (a, b)') }),
    numbers: h('input', { id: 'nu-numbers', placeholder: t('numbers (1001, alice)') }),
  };
  const createUser = () =>
    send<UserJson>('POST', '/users', {
      username: nu.username.value.trim(),
      displayName: nu.displayName.value.trim() || undefined,
      password: nu.password.value || undefined,
      role: nu.role.value,
      group: nu.group.value.trim() || null,
      extraGroups: list(nu.extraGroups.value),
      numbers: list(nu.numbers.value),
    }).then(
      (u) => {
        msg.ok(t('created {name} ({role})', { name: u.username, role: roleLabel(u.role) }));
        for (const i of [nu.username, nu.displayName, nu.password, nu.group, nu.extraGroups, nu.numbers])
          i.value = '';
        void load();
      },
      (x: Error) => msg.fail(x),
    );
  const groupName = h('input', { id: 'ng-name', placeholder: t('group name') });
  const groupDesc = h('input', { id: 'ng-desc', placeholder: t('description') });
  const createGroup = () =>
    send('POST', '/groups', { name: groupName.value.trim(), description: groupDesc.value.trim() }).then(
      () => {
        msg.ok(t('created group {name}', { name: groupName.value.trim() }));
        groupName.value = groupDesc.value = '';
        void load();
      },
      (x: Error) => msg.fail(x),
    );

  /** The edit form of one user, shown under the table. */
  const edit = (u: UserJson): void => {
    const f = {
      displayName: h('input', { id: 'eu-name', value: u.displayName }),
      role: roleSelect('eu-role', u.role),
      group: h('input', { id: 'eu-group', value: u.group ?? '' }),
      extraGroups: h('input', { id: 'eu-extra', value: u.extraGroups.join(', ') }),
      numbers: h('input', { id: 'eu-numbers', value: u.numbers.join(', ') }),
      password: u.directory
        ? directoryPasswordField(u)
        : password('eu-password', t('new password (empty: keep)')),
      disabled: h('input', { id: 'eu-disabled', type: 'checkbox', checked: u.disabled }),
      language: languageSelect({ id: 'eu-language' }, u.language),
    };
    const notify = notificationFields('eu');
    const notifyPath = `/users/${u.id}/notifications`;
    api<NotificationSettings>(notifyPath).then(notify.set, (x: Error) => msg.fail(x));
    const save = (): void => {
      const body: Record<string, unknown> = {
        displayName: f.displayName.value.trim(),
        role: f.role.value,
        group: f.group.value.trim() || null,
        extraGroups: list(f.extraGroups.value),
        numbers: list(f.numbers.value),
        disabled: f.disabled.checked,
      };
      if (f.password.value) body.password = f.password.value;
      const language = f.language.value || null;
      send<UserJson>('PATCH', `/users/${u.id}`, body)
        .then(async (x) => {
          if (language !== u.language) await send('PUT', `/users/${u.id}/language`, { language });
          const settings = notify.changed();
          if (settings) notify.set(await send<NotificationSettings>('PUT', notifyPath, settings));
          return x;
        })
        .then(
          (x) => {
            msg.ok(
              f.password.value
                ? t('saved {name} (password reset)', { name: x.username })
                : t('saved {name}', { name: x.username }),
            );
            void load();
          },
          (x: Error) => msg.fail(x),
        );
    };
    const remove = () =>
      confirm(t('Delete user {name}? Their recordings stay.', { name: u.username })) &&
      send('DELETE', `/users/${u.id}`).then(
        () => {
          msg.ok(t('deleted {name}', { name: u.username }));
          editBox.replaceChildren();
          void load();
        },
        (x: Error) => msg.fail(x),
      );
    const fields = labelled([
      [t('Display name'), f.displayName],
      [t('Role'), f.role],
      [t('Group'), f.group],
      [t('More groups'), f.extraGroups],
      [t('Numbers'), f.numbers],
      [t('Reset password'), f.password],
      [t('Disabled'), f.disabled],
      [t('Language'), f.language],
      ...notify.fields,
    ]);
    editBox.replaceChildren(
      h(
        'div',
        { class: 'card', id: 'edit-user' },
        h('h3', {}, t('Edit {name}', { name: u.username })),
        directoryNote(u),
        h('div', { class: 'filters' }, ...fields),
        h('button', { class: 'primary', id: 'save-user', onclick: save }, t('Save')),
        ' ',
        h('button', { class: 'danger', id: 'delete-user', onclick: remove }, t('Delete user')),
        ' ',
        h('button', { onclick: () => editBox.replaceChildren() }, t('Close')),
      ),
    );
  };

  const load = async (): Promise<void> => {
    const [users, groups] = await Promise.all([
      api<{ items: UserJson[] }>('/users'),
      api<{ items: { name: string; description: string; members: number; language: string | null }[] }>(
        '/groups',
      ),
    ]);
    box.replaceChildren(
      grid(
        'users',
        [t('User'), t('Name'), t('Role'), t('Group'), t('More groups'), t('Numbers'), t('State'), ''],
        users.items.map((u) =>
          h(
            'tr',
            { class: 'user-row', 'data-username': u.username },
            usernameCell(u),
            td(u.displayName),
            td(roleLabel(u.role)),
            td(u.group ?? '–'),
            td(u.extraGroups.join(', ')),
            td(u.numbers.join(', ')),
            td(u.disabled ? t('disabled') : t('active')),
            td(h('button', { class: 'edit-user', onclick: () => edit(u) }, t('Edit'))),
          ),
        ),
      ),
    );
    groupsBox.replaceChildren(
      grid(
        'groups',
        [t('Group'), t('Description'), t('Members'), t('Default language')],
        groups.items.map((g) => {
          const pick = languageSelect({ class: 'group-language', 'data-group': g.name }, g.language);
          pick.addEventListener('change', () => {
            const language = pick.value || null;
            send('PUT', `/groups/${encodeURIComponent(g.name)}/language`, { language }).then(
              () => msg.ok(t('saved the default language of {group}', { group: g.name })),
              (x: Error) => msg.fail(x),
            );
          });
          return h('tr', {}, td(g.name), td(g.description), td(String(g.members)), td(pick));
        }),
      ),
    );
  };
  const newUser = filterForm(
    () => void createUser(),
    h('strong', {}, t('New user')),
    ...Object.values(nu),
    h('button', { class: 'primary', type: 'submit', id: 'create-user' }, t('Create')),
  );
  newUser.classList.add('card');
  newUser.id = 'new-user';
  app.append(
    h('h2', {}, t('Users')),
    msg.el,
    newUser,
    usersImportCard(() => void load().catch((e: Error) => msg.fail(e))),
    usersDirectoryCard(() => void load().catch((e: Error) => msg.fail(e))),
    box,
    editBox,
    h('h2', {}, t('Groups')),
    filterForm(
      () => void createGroup(),
      groupName,
      groupDesc,
      h('button', { type: 'submit', id: 'create-group' }, t('Create group')),
    ),
    groupsBox,
  );
  load().catch((e: Error) => msg.fail(e));
}
