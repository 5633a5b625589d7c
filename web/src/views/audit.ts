import { api } from '../api.js';
import { auditSentence, type AuditEntry } from '../audit-text.js';
import { filterForm, fmtTime, grid, h } from '../dom.js';
import { t, tp } from '../i18n.js';

/** The audit trail (admins): search it, read each entry as a sentence, verify the hash chain. */
export function auditView(app: HTMLElement): void {
  const actor = h('input', { id: 'a-actor', placeholder: t('user') });
  const action = h('input', { id: 'a-action', placeholder: t('action (playback, login…)') });
  const q = h('input', { id: 'a-q', placeholder: t('text in details') });
  const tbody = h('tbody');
  const verify = h('span', { id: 'verify-result' });
  const search = async (): Promise<void> => {
    const p = new URLSearchParams({ limit: '100' });
    if (actor.value) p.set('actor', actor.value);
    if (action.value) p.set('action', action.value);
    if (q.value) p.set('q', q.value);
    const r = await api<{ items: AuditEntry[] }>(`/audit?${p}`);
    tbody.replaceChildren(
      ...r.items.map((e) => {
        const { userAgent: _ua, ...details } = e.details ?? {};
        return h(
          'tr',
          { class: 'audit-row' },
          h('td', {}, String(e.id)),
          h('td', {}, fmtTime(e.at)),
          h('td', { class: 'audit-line' }, auditSentence(e)),
          h('td', {}, h('code', {}, e.action)),
          h('td', {}, h('code', {}, JSON.stringify(details))),
        );
      }),
    );
  };
  const checkChain = () =>
    api<{ ok: boolean; rows: number; firstBadId: number | null }>('/audit/verify').then(
      (v) =>
        (verify.textContent = v.ok
          ? tp(v.rows, 'chain intact ({n} entries)', 'chain intact ({n} entries)')
          : t('chain BROKEN at entry {id}', { id: String(v.firstBadId) })),
    );
  app.append(
    h('h2', {}, t('Audit trail')),
    filterForm(
      () => void search(),
      actor,
      action,
      q,
      h('button', { class: 'primary', type: 'submit', id: 'a-search' }, t('Search')),
      h('button', { type: 'button', id: 'verify', onclick: checkChain }, t('Verify chain')),
      verify,
    ),
    grid('audit', ['#', t('When'), t('What happened'), t('Action'), t('Details')], tbody),
  );
  void search();
}
