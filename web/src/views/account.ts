import { api, send, session } from '../api.js';
import { h, outcome, roleLabel } from '../dom.js';
import { t } from '../i18n.js';
import type { View } from '../router.js';
import { notificationFields, type NotificationSettings } from './users.js';

/** What the account page asks of the shell once a password change has ended the user's sessions. */
export interface AccountHooks {
  /** The header without the user: their sessions, this one too, are over. */
  signedOut(): void;
  /** The sign-in form. */
  signIn(): void;
}

/**
 * The signed-in user's own account: their username and role, and a form to change their password
 * (POST /api/v1/me/password). The two new passwords must match before anything is sent; the
 * server's refusals (wrong current password, too short) show as it words them. A change ends every
 * session of the user, this one included (the server deletes them all), so a success says so and
 * leads back to the sign-in form. A card sets the user's own email notifications of their stored
 * recordings (GET/PUT /api/v1/me/notifications; not for the admin token, which is no user).
 */
export function accountView(hooks: AccountHooks): View {
  return (app) => {
    const me = session.me;
    if (!me) return;
    const msg = outcome('account-msg');
    const field = (id: string, autocomplete: string) =>
      h('input', { id, type: 'password', autocomplete, required: true, maxLength: 200 });
    const current = field('current-password', 'current-password');
    const fresh = field('new-password', 'new-password');
    const repeat = field('repeat-password', 'new-password');
    const save = h('button', { class: 'primary', type: 'submit', id: 'save-password' }, t('Save'));

    const submit = (e: Event) => {
      e.preventDefault();
      if (fresh.value !== repeat.value) {
        msg.fail(new Error(t('The two new passwords do not match.')));
        repeat.focus();
        return;
      }
      save.disabled = true;
      send('POST', '/me/password', { current: current.value, password: fresh.value }).then(
        () => {
          msg.ok(
            t(
              'Password changed. All your sessions have ended, this one included: sign in again with the new password.',
            ),
          );
          hooks.signedOut();
          form.replaceChildren(
            h(
              'button',
              { class: 'primary', type: 'button', id: 'sign-in-again', onclick: hooks.signIn },
              t('Sign in again'),
            ),
          );
        },
        (x: Error) => {
          save.disabled = false;
          msg.fail(x);
        },
      );
    };

    const form = h(
      'form',
      { class: 'card', id: 'password-form', onsubmit: submit },
      h('h3', {}, t('Change password')),
      h(
        'p',
        { class: 'muted' },
        t(
          'Saving it ends all your sessions, this one included: you then sign in again with the new password.',
        ),
      ),
      h('p', {}, h('label', {}, t('Current password'), h('br'), current)),
      h('p', {}, h('label', {}, t('New password (at least 8 characters)'), h('br'), fresh)),
      h('p', {}, h('label', {}, t('Repeat the new password'), h('br'), repeat)),
      save,
    );
    app.append(
      h('h2', {}, t('Account')),
      h(
        'div',
        { class: 'card' },
        h(
          'dl',
          { class: 'fields' },
          h('dt', {}, t('Username')),
          h('dd', { id: 'account-username' }, me.username),
          h('dt', {}, t('Role')),
          h('dd', { id: 'account-role' }, roleLabel(me.role)),
        ),
      ),
      msg.el,
      form,
    );
    if (me.userId) app.append(notificationsCard());
  };
}

/** The user's own email notifications: address, an email on each stored recording, the recording attached. */
function notificationsCard(): HTMLElement {
  const msg = outcome('notifications-msg');
  const f = notificationFields('my');
  const save = h('button', { class: 'primary', type: 'submit', id: 'save-notifications' }, t('Save'));
  const submit = (e: Event) => {
    e.preventDefault();
    save.disabled = true;
    send<NotificationSettings>('PUT', '/me/notifications', f.value())
      .then(
        (s) => {
          f.set(s);
          msg.ok(t('Email notifications saved.'));
        },
        (x: Error) => msg.fail(x),
      )
      .finally(() => (save.disabled = false));
  };
  api<NotificationSettings>('/me/notifications').then(f.set, (x: Error) => msg.fail(x));
  const [email, ...flags] = f.fields;
  return h(
    'form',
    { class: 'card', id: 'notifications-form', onsubmit: submit },
    h('h3', {}, t('Email notifications')),
    h(
      'p',
      { class: 'muted' },
      t(
        'An email to this address each time a recording of yours is stored, with the recording attached if you wish.',
      ),
    ),
    h('p', {}, h('label', {}, email[0], h('br'), email[1])),
    ...flags.map(([label, el]) => h('p', {}, h('label', {}, el, ' ', label))),
    save,
    msg.el,
  );
}
