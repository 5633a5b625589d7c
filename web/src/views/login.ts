import { api } from '../api.js';
import { h } from '../dom.js';

/** The sign-in form; `done` runs once signed in. */
export function loginView(app: HTMLElement, message: string, done: () => void): void {
  const user = h('input', { id: 'username', placeholder: 'username', autocomplete: 'username' });
  const pass = h('input', {
    id: 'password',
    type: 'password',
    placeholder: 'password',
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
      h('h2', {}, 'Sign in'),
      user,
      pass,
      h('button', { class: 'primary', type: 'submit', id: 'login' }, 'Sign in'),
      err,
    ),
  );
}
