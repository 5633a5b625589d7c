import { api, send, session } from '../api.js';
import { filterForm, fmtTime, grid, h, outcome, td } from '../dom.js';
import { t } from '../i18n.js';

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
  const name = h('input', { id: 'token-name', placeholder: t('name (e.g. CRM integration)') });
  const shown = h('div', { id: 'new-token' });
  const revoke = (tok: TokenJson) => () =>
    send('DELETE', `/tokens/${tok.id}`).then(
      () => (msg.ok(t('revoked {name}', { name: tok.name })), void load()),
      (x: Error) => msg.fail(x),
    );
  const load = async (): Promise<void> => {
    const r = await api<{ items: TokenJson[] }>(
      session.me?.role === 'admin' ? '/tokens?all=true' : '/tokens',
    );
    box.replaceChildren(
      grid(
        'tokens',
        [t('Name'), t('Owner'), t('Created'), t('Last used'), t('State'), ''],
        r.items.map((tok) =>
          h(
            'tr',
            { class: 'token-row' },
            td(tok.name),
            td(tok.username),
            td(fmtTime(tok.createdAt)),
            td(tok.lastUsedAt ? fmtTime(tok.lastUsedAt) : t('never')),
            td(
              tok.revokedAt
                ? t('revoked {date}', { date: fmtTime(tok.revokedAt) })
                : tok.expiresAt && new Date(tok.expiresAt) <= new Date()
                  ? t('expired {date}', { date: fmtTime(tok.expiresAt) })
                  : tok.expiresAt
                    ? t('active, expires {date}', { date: fmtTime(tok.expiresAt) })
                    : t('active, no expiry'),
            ),
            td(tok.revokedAt ? '' : h('button', { class: 'danger', onclick: revoke(tok) }, t('Revoke'))),
          ),
        ),
      ),
    );
  };
  const create = () =>
    send<{ token: string; name: string }>('POST', '/tokens', { name: name.value }).then(
      (created) => {
        shown.replaceChildren(
          h(
            'div',
            { class: 'card' },
            `${t('Token “{name}” (shown once, copy it now):', { name: created.name })} `,
            h('code', { id: 'token-value' }, created.token),
          ),
        );
        name.value = '';
        void load();
      },
      (x: Error) => msg.fail(x),
    );
  app.append(
    h('h2', {}, t('API tokens')),
    h(
      'p',
      { class: 'muted' },
      t('For integrations: send Authorization: Bearer <token>. A token acts with its owner’s role.'),
    ),
    msg.el,
    filterForm(
      () => void create(),
      name,
      h('button', { class: 'primary', type: 'submit', id: 'create-token' }, t('Create token')),
    ),
    shown,
    box,
  );
  load().catch((e: Error) => msg.fail(e));
}
