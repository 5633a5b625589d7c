import { api } from '../api.js';
import { auditSentence, type AuditEntry } from '../audit-text.js';
import { filterForm, fmtTime, grid, h } from '../dom.js';

/** The audit trail (admins): search it, read each entry as a sentence, verify the hash chain. */
export function auditView(app: HTMLElement): void {
  const actor = h('input', { id: 'a-actor', placeholder: 'user' });
  const action = h('input', { id: 'a-action', placeholder: 'action (playback, login…)' });
  const q = h('input', { id: 'a-q', placeholder: 'text in details' });
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
          ? `chain intact (${v.rows} entries)`
          : `chain BROKEN at entry ${v.firstBadId}`),
    );
  app.append(
    h('h2', {}, 'Audit trail'),
    filterForm(
      () => void search(),
      actor,
      action,
      q,
      h('button', { class: 'primary', type: 'submit', id: 'a-search' }, 'Search'),
      h('button', { type: 'button', id: 'verify', onclick: checkChain }, 'Verify chain'),
      verify,
    ),
    grid('audit', ['#', 'When', 'What happened', 'Action', 'Details'], tbody),
  );
  void search();
}
