import { api } from '../api.js';
import { fmtTime, grid, h, outcome, td } from '../dom.js';
import { t } from '../i18n.js';

interface KeyJson {
  fingerprint: string;
  algorithm: string;
  createdAt: string;
  active: boolean;
  retiredAt: string | null;
  files?: number;
}

/** The recording encryption keys (admins). */
export function keysView(app: HTMLElement): void {
  const msg = outcome('keys-msg');
  const box = h('div', {}, t('Loading…'));
  const state = (k: KeyJson) =>
    k.active
      ? t('active')
      : k.retiredAt
        ? t('retired {date}', { date: fmtTime(k.retiredAt) })
        : t('inactive');
  app.append(
    h('h2', {}, t('Encryption keys')),
    h(
      'p',
      { class: 'muted' },
      t('Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.'),
    ),
    msg.el,
    box,
  );
  api<{ items: KeyJson[] }>('/keys').then(
    (r) =>
      box.replaceChildren(
        grid(
          'keys',
          [t('Fingerprint'), t('Algorithm'), t('Created'), t('State'), t('Files')],
          r.items.map((k) =>
            h(
              'tr',
              { class: 'key-row' },
              td(h('code', {}, k.fingerprint)),
              td(k.algorithm),
              td(fmtTime(k.createdAt)),
              td(state(k)),
              td(String(k.files ?? '')),
            ),
          ),
        ),
      ),
    (e: Error) => msg.fail(e),
  );
}
