import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';

/** The sign-in form; `done` runs once signed in. */
export function loginView(app: HTMLElement, message: string, done: () => void): void {
  const user = h('input', { id: 'username', placeholder: t('username'), autocomplete: 'username' });
  const pass = h('input', {
    id: 'password',
    type: 'password',
    placeholder: t('password'),
    autocomplete: 'current-password',
  });
  const err = h('div', { class: 'error', id: 'login-error' }, message);
  const submit = (e: Event) => {
    e.preventDefault();
    api('/login', { method: 'POST', body: JSON.stringify({ username: user.value, password: pass.value }) })
      .then(done)
      .catch((x: Error) => (err.textContent = x.message));
  };
  app.append(
    h(
      'form',
      { class: 'login card', onsubmit: submit },
      h('h2', {}, t('Sign in')),
      user,
      pass,
      h('button', { class: 'primary', type: 'submit', id: 'login' }, t('Sign in')),
      err,
    ),
  );
}
