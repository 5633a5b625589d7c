/**
 * The Keys page's actions (web/src/views/keys.ts): the Generate form, and per key Activate, Retire
 * (with or without moving its files to the active key) and Re-encrypt; what a key's background
 * re-encryption is doing. Each action reports in the page's outcome line and hands the key the
 * server answered back to the page, which redraws and reloads.
 */
import { send } from '../api.js';
import { filterForm, fmtTime, h, type outcome } from '../dom.js';
import { t, tp } from '../i18n.js';

/** A key as GET /api/v1/keys lists it. */
export interface KeyJson {
  fingerprint: string;
  algorithm: string;
  createdAt: string;
  active: boolean;
  retiredAt: string | null;
  files?: number;
  reencrypt: {
    requestedAt: string;
    requestedBy: string;
    finishedAt: string | null;
    error: string | null;
  } | null;
}

type Outcome = ReturnType<typeof outcome>;
/**
 * After an action: the list reloads; a retired key the server answered is shown at once (its
 * re-encryption just asked for, which the reload may already find further along).
 */
type Done = (retired?: KeyJson) => void;

/** A fingerprint as the audit sentences show it: its last 16 hex digits. */
export const shortFp = (fp: string) => fp.slice(-16);

/** Its re-encryption was asked for and is neither finished nor failed (the server is at it). */
export const reencrypting = (k: KeyJson) =>
  Boolean(k.reencrypt && !k.reencrypt.finishedAt && !k.reencrypt.error);

/** What its re-encryption is doing: running (files left), failed (why), done (when); '' if none. */
export function reencryptState(k: KeyJson): string {
  const r = k.reencrypt;
  if (!r) return '';
  if (r.error) return t('failed: {error}', { error: r.error });
  if (r.finishedAt) return t('done ({date})', { date: fmtTime(r.finishedAt) });
  return tp(k.files ?? 0, 're-encrypting: {n} file left', 're-encrypting: {n} files left');
}

/** Generate: the key type (RSA 4096 by default), whether it becomes the active key. */
export function generateForm(msg: Outcome, done: Done): HTMLFormElement {
  const type = h(
    'select',
    { id: 'keys-type' },
    h('option', { value: 'rsa4096', selected: true }, 'RSA 4096'),
    h('option', { value: 'curve25519' }, 'Curve25519'),
  );
  const activate = h('input', { id: 'keys-activate', type: 'checkbox', checked: true });
  const label = t('Generate key');
  const button = h('button', { class: 'primary', type: 'submit', id: 'keys-generate' }, label);
  const generate = (): void => {
    // RSA 4096 takes the server about a second: the button says so meanwhile.
    button.disabled = true;
    button.textContent = t('Generating…');
    send<KeyJson>('POST', '/keys', { type: type.value, activate: activate.checked })
      .then(
        (k) => {
          const p = { fp: shortFp(k.fingerprint), algorithm: k.algorithm };
          msg.ok(
            k.active
              ? t('generated the key {fp} ({algorithm}); it is the active key now', p)
              : t('generated the key {fp} ({algorithm})', p),
          );
          done();
        },
        (e: Error) => msg.fail(e),
      )
      .finally(() => {
        button.disabled = false;
        button.textContent = label;
      });
  };
  const form = filterForm(
    generate,
    h('label', {}, t('Type'), type),
    h('label', {}, activate, ' ', t('Make it the active key')),
    button,
  );
  form.id = 'keys-generate-form';
  return form;
}

/** POST `path` (a key's action), then `said` of the key answered in the outcome line. */
function act(msg: Outcome, done: Done, path: string, body: unknown, said: (k: KeyJson) => string): void {
  send<KeyJson>('POST', path, body).then(
    (k) => {
      msg.ok(said(k));
      done(k.retiredAt ? k : undefined);
    },
    (e: Error) => {
      msg.fail(e);
      // The page may be behind the server (another admin, `srs keys`): show what is there now.
      done();
    },
  );
}

/** The buttons of a key's row: those its state allows. */
export function keyActions(k: KeyJson, msg: Outcome, done: Done): (Node | string)[] {
  const fp = shortFp(k.fingerprint);
  const path = `/keys/${encodeURIComponent(k.fingerprint)}`;
  const files = k.files ?? 0;
  const out: (Node | string)[] = [];
  const button = (cls: string, text: string, onclick: () => void, danger = false) =>
    h('button', { class: danger ? `${cls} danger` : cls, 'data-fingerprint': k.fingerprint, onclick }, text);
  if (!k.active && !k.retiredAt) {
    out.push(
      button('key-activate', t('Activate'), () =>
        act(msg, done, `${path}/activate`, undefined, () => t('{fp} is the active key now', { fp })),
      ),
    );
    const move = h('input', { type: 'checkbox', class: 'key-retire-reencrypt' });
    const retire = () => {
      const reencrypt = move.checked;
      const question = reencrypt
        ? tp(
            files,
            'Retire the key {fp} and re-encrypt its {n} file to the active key? It is never used again.',
            'Retire the key {fp} and re-encrypt its {n} files to the active key? It is never used again.',
            { fp },
          )
        : t('Retire the key {fp}? It is never used again; what is encrypted to it stays readable.', { fp });
      if (!confirm(question)) return;
      act(msg, done, `${path}/retire`, { reencrypt }, (x) =>
        reencrypt
          ? tp(
              x.files ?? 0,
              'retired {fp}; re-encrypting its {n} file to the active key',
              'retired {fp}; re-encrypting its {n} files to the active key',
              { fp },
            )
          : t('retired {fp}', { fp }),
      );
    };
    out.push(' ', button('key-retire', t('Retire'), retire, true));
    if (files > 0)
      out.push(
        ' ',
        h(
          'label',
          {},
          move,
          ' ',
          tp(
            files,
            'also move its {n} recording file to the active key',
            'also move its {n} recording files to the active key',
          ),
        ),
      );
  }
  if (k.retiredAt && files > 0 && !reencrypting(k))
    out.push(
      button('key-reencrypt', t('Re-encrypt'), () => {
        const question = tp(
          files,
          'Re-encrypt the {n} file of the key {fp} to the active key?',
          'Re-encrypt the {n} files of the key {fp} to the active key?',
          { fp },
        );
        if (!confirm(question)) return;
        act(msg, done, `${path}/retire`, { reencrypt: true }, (x) =>
          tp(
            x.files ?? 0,
            're-encrypting the {n} file of {fp} to the active key',
            're-encrypting the {n} files of {fp} to the active key',
            { fp },
          ),
        );
      }),
    );
  return out;
}
