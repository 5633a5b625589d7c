import { api } from '../api.js';
import { fmtTime, grid, h, outcome, td } from '../dom.js';
import { t } from '../i18n.js';
import { generateForm, keyActions, reencryptState, reencrypting, type KeyJson } from './keys-actions.js';

export type { KeyJson } from './keys-actions.js';

/**
 * How often the list is read again while the server re-encrypts a key's files: often enough to
 * see the count go down. These reads say `refresh=1`: the server audits them once per 10 minutes.
 */
const POLL_MS = 2000;

/**
 * The recording encryption keys (admins): generate one, activate, retire (moving its files to the
 * active key or not), re-encrypt a retired key's files; their re-encryption's progress while the
 * server is at it (read every POLL_MS until it ends, and no longer once the page is left).
 */
export function keysView(app: HTMLElement): () => void {
  const msg = outcome('keys-msg');
  const box = h('div', { id: 'keys-list' }, t('Loading…'));
  let items: KeyJson[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let left = false;
  const state = (k: KeyJson) =>
    k.active
      ? t('active')
      : k.retiredAt
        ? t('retired {date}', { date: fmtTime(k.retiredAt) })
        : t('inactive');
  const done = (retired?: KeyJson): void => {
    if (retired) show(items.map((k) => (k.fingerprint === retired.fingerprint ? retired : k)));
    void load();
  };
  const row = (k: KeyJson) =>
    h(
      'tr',
      { class: 'key-row', 'data-fingerprint': k.fingerprint, 'data-active': String(k.active) },
      td(h('code', {}, k.fingerprint)),
      td(k.algorithm),
      td(fmtTime(k.createdAt)),
      h('td', { class: 'key-state' }, state(k)),
      h('td', { class: 'key-files' }, String(k.files ?? '')),
      h('td', { class: 'key-reencrypt-state' }, reencryptState(k)),
      h('td', { class: 'key-actions' }, ...keyActions(k, msg, done)),
    );
  const show = (now: KeyJson[]): void => {
    items = now;
    box.replaceChildren(
      grid(
        'keys',
        [t('Fingerprint'), t('Algorithm'), t('Created'), t('State'), t('Files'), t('Re-encryption'), ''],
        items.map(row),
      ),
    );
  };
  const load = async (refresh = false): Promise<void> => {
    clearTimeout(timer);
    try {
      show((await api<{ items: KeyJson[] }>(refresh ? '/keys?refresh=1' : '/keys')).items);
    } catch (e) {
      msg.fail(e as Error);
    }
    // (A failed read is tried again too, while the last list had a re-encryption going.)
    if (!left && items.some(reencrypting)) timer = setTimeout(() => void load(true), POLL_MS);
  };
  app.append(
    h('h2', {}, t('Encryption keys')),
    h(
      'p',
      { class: 'muted' },
      t(
        'Recordings are encrypted with OpenPGP to the active key. Rotate keys here or with `srs keys`; a key generated here is written to this server’s keys directory and, locked under the passphrase, to the catalogue, where every node of a cluster finds it (unless keys.inCatalogue is off: docs/cluster.md).',
      ),
    ),
    generateForm(msg, done),
    msg.el,
    box,
  );
  void load();
  return () => {
    left = true;
    clearTimeout(timer);
  };
}
