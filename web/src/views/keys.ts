import { api } from '../api.js';
import { fmtTime, grid, h, outcome, td } from '../dom.js';

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
  const box = h('div', {}, 'Loading…');
  const state = (k: KeyJson) =>
    k.active ? 'active' : k.retiredAt ? `retired ${fmtTime(k.retiredAt)}` : 'inactive';
  app.append(
    h('h2', {}, 'Encryption keys'),
    h(
      'p',
      { class: 'muted' },
      'Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.',
    ),
    msg.el,
    box,
  );
  api<{ items: KeyJson[] }>('/keys').then(
    (r) =>
      box.replaceChildren(
        grid(
          'keys',
          ['Fingerprint', 'Algorithm', 'Created', 'State', 'Files'],
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
