import { api, send, session } from '../api.js';
import { filterForm, fmtTime, grid, h, outcome, td } from '../dom.js';

interface TokenJson {
  id: string;
  username: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  expiresAt: string | null;
}

/** API tokens: the principal's own (admins: all), create (shown once) and revoke. */
export function tokensView(app: HTMLElement): void {
  const msg = outcome('tokens-msg');
  const box = h('div', {});
  const name = h('input', { id: 'token-name', placeholder: 'name (e.g. CRM integration)' });
  const shown = h('div', { id: 'new-token' });
  const revoke = (t: TokenJson) => () =>
    send('DELETE', `/tokens/${t.id}`).then(
      () => (msg.ok(`revoked ${t.name}`), void load()),
      (x: Error) => msg.fail(x),
    );
  const load = async (): Promise<void> => {
    const r = await api<{ items: TokenJson[] }>(
      session.me?.role === 'admin' ? '/tokens?all=true' : '/tokens',
    );
    box.replaceChildren(
      grid(
        'tokens',
        ['Name', 'Owner', 'Created', 'Last used', 'State', ''],
        r.items.map((t) =>
          h(
            'tr',
            { class: 'token-row' },
            td(t.name),
            td(t.username),
            td(fmtTime(t.createdAt)),
            td(t.lastUsedAt ? fmtTime(t.lastUsedAt) : 'never'),
            td(
              t.revokedAt
                ? `revoked ${fmtTime(t.revokedAt)}`
                : t.expiresAt && new Date(t.expiresAt) <= new Date()
                  ? `expired ${fmtTime(t.expiresAt)}`
                  : t.expiresAt
                    ? `active, expires ${fmtTime(t.expiresAt)}`
                    : 'active, no expiry',
            ),
            td(t.revokedAt ? '' : h('button', { class: 'danger', onclick: revoke(t) }, 'Revoke')),
          ),
        ),
      ),
    );
  };
  const create = () =>
    send<{ token: string; name: string }>('POST', '/tokens', { name: name.value }).then(
      (t) => {
        shown.replaceChildren(
          h(
            'div',
            { class: 'card' },
            `Token “${t.name}” (shown once, copy it now): `,
            h('code', { id: 'token-value' }, t.token),
          ),
        );
        name.value = '';
        void load();
      },
      (x: Error) => msg.fail(x),
    );
  app.append(
    h('h2', {}, 'API tokens'),
    h(
      'p',
      { class: 'muted' },
      'For integrations: send Authorization: Bearer <token>. A token acts with its owner’s role.',
    ),
    msg.el,
    filterForm(
      () => void create(),
      name,
      h('button', { class: 'primary', type: 'submit', id: 'create-token' }, 'Create token'),
    ),
    shown,
    box,
  );
  load().catch((e: Error) => msg.fail(e));
}
