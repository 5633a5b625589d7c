import { api } from '../api.js';
import type { IntegrityCheck, IntegrityReport } from '../../../src/api/resources/integrity.js';
import { fmtTime, h, outcome } from '../dom.js';
import { t, tp } from '../i18n.js';

/**
 * A recording's "Integrity" card: "Check now" asks GET /api/v1/recordings/<id>/integrity (the
 * checks of `srs recordings verify <id>`, audited) and lists each check with its outcome, the
 * server's technical detail beside it, the time of the check and what it does not cover. Made
 * once per details page, so that a reload of the details keeps the last result.
 */

function label(c: IntegrityCheck): string {
  switch (c.name) {
    case 'chain.entry':
      return t('Chain entry holds what the catalogue says now');
    case 'chain.link':
      return t('Link to the previous entry (hash recomputed)');
    case 'chain.anchor':
      return t('Anchored in the audit trail');
    case 'chain.day':
      return t('The rest of the day’s chain');
    case 'file':
      return t('Encrypted file {kind} read back and hashed', { kind: c.kind ?? '' });
  }
}

function status(ok: boolean | null): HTMLElement {
  const s = h(
    'strong',
    { class: 'integrity-status' },
    ok === true ? t('passed') : ok === false ? t('FAILED') : t('not checked'),
  );
  if (ok === true) s.style.color = 'var(--ok)';
  if (ok === false) s.classList.add('error');
  if (ok === null) s.classList.add('muted');
  return s;
}

/** The server's technical detail of a check, as it wrote it. */
function detail(text: string): HTMLElement {
  const d = h('div', { class: 'integrity-detail' }, text);
  d.classList.add('muted');
  return d;
}

function notCovered(name: string): string {
  return name === 'plaintext'
    ? t(
        'Not checked: the audio itself is not decrypted; its plaintext hashes are covered by the chain entry.',
      )
    : t(
        'Not checked here: the audit trail’s own hash chain (an administrator verifies it on the Audit page).',
      );
}

function summary(r: IntegrityReport): HTMLElement {
  const failed = r.checks.filter((c) => c.ok === false).length;
  const text = r.intact
    ? t('Intact: every check passed ({time}).', { time: fmtTime(r.checkedAt) })
    : failed
      ? tp(failed, 'NOT intact: {n} check failed ({time}).', 'NOT intact: {n} checks failed ({time}).', {
          time: fmtTime(r.checkedAt),
        })
      : t('Not confirmed: some checks could not be made ({time}).', { time: fmtTime(r.checkedAt) });
  const p = h('p', { id: 'integrity-summary', class: r.intact ? 'outcome ok' : 'outcome error' }, text);
  p.dataset.intact = String(r.intact);
  return p;
}

export function integrityCard(recordingId: string): HTMLElement {
  const msg = outcome('integrity-msg');
  const result = h('div', { id: 'integrity-result' });
  const button = h('button', { id: 'integrity-check', type: 'button' }, t('Check now'));
  button.addEventListener('click', () => {
    button.disabled = true;
    button.textContent = t('Checking…');
    msg.el.textContent = '';
    msg.el.className = 'outcome';
    api<IntegrityReport>(`/recordings/${encodeURIComponent(recordingId)}/integrity`)
      .then(
        (r) =>
          result.replaceChildren(
            summary(r),
            h(
              'ul',
              { id: 'integrity-checks' },
              ...r.checks.map((c) =>
                h(
                  'li',
                  {
                    class: 'integrity-check',
                    'data-name': c.name,
                    'data-kind': c.kind ?? '',
                    'data-ok': String(c.ok),
                  },
                  status(c.ok),
                  ' ',
                  label(c),
                  detail(c.detail),
                ),
              ),
            ),
            h('ul', { class: 'muted' }, ...r.notChecked.map((n) => h('li', {}, notCovered(n.name)))),
          ),
        (e: Error) => msg.fail(e),
      )
      .finally(() => {
        button.disabled = false;
        button.textContent = t('Check now');
      });
  });
  return h(
    'div',
    { class: 'card', id: 'integrity' },
    h('h3', {}, t('Integrity')),
    h(
      'p',
      { class: 'muted' },
      t(
        'Reads this recording’s encrypted files back from storage and checks them and its entry in the day’s hash chain against the catalogue. Each check is written to the audit trail.',
      ),
    ),
    button,
    msg.el,
    result,
  );
}
