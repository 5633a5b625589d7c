import { api, send } from '../api.js';
import { filterForm, grid, h, list, outcome, td } from '../dom.js';

/** Users and groups (admins): create, edit (role, groups, numbers, password, disabled), delete. */

interface UserJson {
  id: string;
  username: string;
  displayName: string;
  role: string;
  group: string | null;
  extraGroups: string[];
  numbers: string[];
  disabled: boolean;
  createdAt: string;
}
const ROLE_NAMES = ['record-only', 'user', 'supervisor', 'admin'];
const roleSelect = (id: string, value = 'user') =>
  h('select', { id }, ...ROLE_NAMES.map((r) => h('option', { value: r, selected: r === value }, r)));
const password = (id: string, placeholder: string) =>
  h('input', { id, type: 'password', placeholder, autocomplete: 'new-password' });
const labelled = (fields: Record<string, HTMLElement>) =>
  Object.entries(fields).map(([label, el]) => h('label', {}, label, el));

export function usersView(app: HTMLElement): void {
  const box = h('div', {}, 'Loading…');
  const editBox = h('div', {});
  const groupsBox = h('div', {});
  const msg = outcome('users-msg');
  const nu = {
    username: h('input', { id: 'nu-username', placeholder: 'username', autocomplete: 'off' }),
    displayName: h('input', { id: 'nu-name', placeholder: 'display name' }),
    password: password('nu-password', 'password (8+)'),
    role: roleSelect('nu-role'),
    group: h('input', { id: 'nu-group', placeholder: 'group' }),
    extraGroups: h('input', { id: 'nu-extra', placeholder: 'more groups (a, b)' }),
    numbers: h('input', { id: 'nu-numbers', placeholder: 'numbers (1001, alice)' }),
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
        msg.ok(`created ${u.username} (${u.role})`);
        for (const i of [nu.username, nu.displayName, nu.password, nu.group, nu.extraGroups, nu.numbers])
          i.value = '';
        void load();
      },
      (x: Error) => msg.fail(x),
    );
  const groupName = h('input', { id: 'ng-name', placeholder: 'group name' });
  const groupDesc = h('input', { id: 'ng-desc', placeholder: 'description' });
  const createGroup = () =>
    send('POST', '/groups', { name: groupName.value.trim(), description: groupDesc.value.trim() }).then(
      () => {
        msg.ok(`created group ${groupName.value.trim()}`);
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
      password: password('eu-password', 'new password (empty: keep)'),
      disabled: h('input', { id: 'eu-disabled', type: 'checkbox', checked: u.disabled }),
    };
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
      send<UserJson>('PATCH', `/users/${u.id}`, body).then(
        (x) => {
          msg.ok(`saved ${x.username}${f.password.value ? ' (password reset)' : ''}`);
          void load();
        },
        (x: Error) => msg.fail(x),
      );
    };
    const remove = () =>
      confirm(`Delete user ${u.username}? Their recordings stay.`) &&
      send('DELETE', `/users/${u.id}`).then(
        () => {
          msg.ok(`deleted ${u.username}`);
          editBox.replaceChildren();
          void load();
        },
        (x: Error) => msg.fail(x),
      );
    const fields = labelled({
      'Display name': f.displayName,
      Role: f.role,
      Group: f.group,
      'More groups': f.extraGroups,
      Numbers: f.numbers,
      'Reset password': f.password,
      Disabled: f.disabled,
    });
    editBox.replaceChildren(
      h(
        'div',
        { class: 'card', id: 'edit-user' },
        h('h3', {}, `Edit ${u.username}`),
        h('div', { class: 'filters' }, ...fields),
        h('button', { class: 'primary', id: 'save-user', onclick: save }, 'Save'),
        ' ',
        h('button', { class: 'danger', id: 'delete-user', onclick: remove }, 'Delete user'),
        ' ',
        h('button', { onclick: () => editBox.replaceChildren() }, 'Close'),
      ),
    );
  };

  const load = async (): Promise<void> => {
    const [users, groups] = await Promise.all([
      api<{ items: UserJson[] }>('/users'),
      api<{ items: { name: string; description: string; members: number }[] }>('/groups'),
    ]);
    box.replaceChildren(
      grid(
        'users',
        ['User', 'Name', 'Role', 'Group', 'More groups', 'Numbers', 'State', ''],
        users.items.map((u) =>
          h(
            'tr',
            { class: 'user-row', 'data-username': u.username },
            td(u.username),
            td(u.displayName),
            td(u.role),
            td(u.group ?? '–'),
            td(u.extraGroups.join(', ')),
            td(u.numbers.join(', ')),
            td(u.disabled ? 'disabled' : 'active'),
            td(h('button', { class: 'edit-user', onclick: () => edit(u) }, 'Edit')),
          ),
        ),
      ),
    );
    groupsBox.replaceChildren(
      grid(
        'groups',
        ['Group', 'Description', 'Members'],
        groups.items.map((g) => h('tr', {}, td(g.name), td(g.description), td(String(g.members)))),
      ),
    );
  };
  const newUser = filterForm(
    () => void createUser(),
    h('strong', {}, 'New user'),
    ...Object.values(nu),
    h('button', { class: 'primary', type: 'submit', id: 'create-user' }, 'Create'),
  );
  newUser.classList.add('card');
  newUser.id = 'new-user';
  app.append(
    h('h2', {}, 'Users'),
    msg.el,
    newUser,
    box,
    editBox,
    h('h2', {}, 'Groups'),
    filterForm(
      () => void createGroup(),
      groupName,
      groupDesc,
      h('button', { type: 'submit', id: 'create-group' }, 'Create group'),
    ),
    groupsBox,
  );
  load().catch((e: Error) => msg.fail(e));
}
