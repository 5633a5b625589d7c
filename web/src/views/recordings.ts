import { api, session } from '../api.js';
import { filterForm, fmtDur, fmtTime, grid, h, parties, type Participant } from '../dom.js';
import { navigate } from '../router.js';

/**
 * The recordings search. Its filters live in the URL (/recordings?callId=...&offset=25), so Back
 * from a recording returns to the same results. Rows link to /recordings/<id>.
 */

interface Summary {
  id: string;
  callId: string;
  startedAt: string;
  durationMs: number | null;
  state: string;
  participants: Participant[];
  categories: string[];
  preserved: boolean;
}

const FIELDS = ['from', 'to', 'participant', 'callId', 'state', 'category'] as const;
const LIMIT = 25;
let lastList = '/recordings';

/** Where "back to the list" goes: the last search shown. */
export const listUrl = () => lastList;

export function recordingsView(app: HTMLElement): void {
  const f = {
    from: h('input', { type: 'date', id: 'f-from' }),
    to: h('input', { type: 'date', id: 'f-to' }),
    participant: h('input', { id: 'f-participant', placeholder: 'number or name' }),
    callId: h('input', { id: 'f-callid', placeholder: 'Call-ID' }),
    state: h(
      'select',
      { id: 'f-state' },
      ...['', 'stored', 'processing', 'recording', 'failed'].map((s) =>
        h('option', { value: s }, s || 'any'),
      ),
    ),
    category: h('input', { id: 'f-category', placeholder: 'category' }),
  };
  const shown = new URLSearchParams(location.search);
  for (const k of FIELDS) f[k].value = shown.get(k) ?? '';
  let offset = Math.max(0, Number(shown.get('offset')) || 0);
  const tbody = h('tbody');
  const status = h('span', { class: 'muted', id: 'rec-count' });
  // Exports (when downloads are allowed): the search results as CSV, the selected recordings' audio as tar.
  const selected = new Set<string>();
  const exportCsv = h('a', { id: 'export-csv', class: 'button', download: '' }, 'Export CSV');
  const exportAudio = h('a', { id: 'export-audio', class: 'button', download: '' }, 'Export audio');
  /** The search as the API takes it. */
  const filterQuery = (): URLSearchParams => {
    const q = new URLSearchParams();
    if (f.from.value) q.set('from', new Date(f.from.value).toISOString());
    if (f.to.value) q.set('to', new Date(Date.parse(f.to.value) + 86400_000).toISOString());
    for (const k of ['participant', 'callId', 'state', 'category'] as const)
      if (f[k].value) q.set(k, f[k].value);
    return q;
  };
  const updateExports = (): void => {
    const csv = filterQuery();
    csv.set('format', 'csv');
    exportCsv.href = `/api/v1/recordings/export?${csv}`;
    const tar = new URLSearchParams({ format: 'tar', audio: 'mp3' });
    if (selected.size) tar.set('ids', [...selected].join(','));
    else for (const [k, v] of filterQuery()) tar.set(k, v);
    exportAudio.href = `/api/v1/recordings/export?${tar}`;
    exportAudio.textContent = selected.size
      ? `Export audio (${selected.size} selected)`
      : 'Export audio (all results)';
  };
  /** The search as the page's address shows it. */
  const remember = (): void => {
    const q = new URLSearchParams();
    for (const k of FIELDS) if (f[k].value) q.set(k, f[k].value);
    if (offset) q.set('offset', String(offset));
    lastList = `/recordings${q.toString() ? `?${q}` : ''}`;
    if (location.pathname === '/recordings') history.replaceState(null, '', lastList);
  };
  const checkbox = (id: string) =>
    h('input', {
      type: 'checkbox',
      class: 'select-recording',
      checked: selected.has(id),
      onchange: (e: Event) => {
        if ((e.target as HTMLInputElement).checked) selected.add(id);
        else selected.delete(id);
        updateExports();
      },
    });
  const row = (x: Summary) => {
    const href = `/recordings/${encodeURIComponent(x.id)}`;
    return h(
      'tr',
      {
        class: 'clickable recording-row',
        'data-id': x.id,
        // The link in the row is followed by the router; a click elsewhere in the row goes there too.
        onclick: (e: Event) => (e.target as Element).closest('a') || navigate(href),
      },
      h('td', { onclick: (e: Event) => e.stopPropagation() }, checkbox(x.id)),
      h('td', {}, h('a', { href }, fmtTime(x.startedAt))),
      h('td', {}, fmtDur(x.durationMs)),
      h('td', {}, parties(x.participants)),
      h('td', {}, x.callId),
      h('td', {}, x.state, x.preserved ? ' · preserved' : ''),
      h('td', {}, ...x.categories.map((c) => h('span', { class: 'tag' }, c))),
    );
  };
  const search = async (): Promise<void> => {
    const q = filterQuery();
    q.set('limit', String(LIMIT));
    q.set('offset', String(offset));
    remember();
    updateExports();
    try {
      const r = await api<{ total: number; items: Summary[] }>(`/recordings?${q}`);
      tbody.replaceChildren(...r.items.map(row));
      status.textContent = `${r.total === 0 ? 0 : offset + 1}–${offset + r.items.length} of ${r.total}`;
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  };
  const page = (by: number) => () => {
    offset = Math.max(0, offset + by);
    void search();
  };
  const labels = { From: f.from, To: f.to, Participant: f.participant, 'Call-ID': f.callId };
  app.append(
    h('h2', {}, 'Recordings'),
    filterForm(
      () => {
        offset = 0;
        void search();
      },
      ...Object.entries({ ...labels, State: f.state, Category: f.category }).map(([label, el]) =>
        h('label', {}, label, el),
      ),
      h('button', { class: 'primary', type: 'submit', id: 'search' }, 'Search'),
    ),
    grid(
      'recordings',
      ['', 'Started', 'Call length', 'Participants', 'Call-ID', 'State', 'Categories'],
      tbody,
    ),
    h(
      'p',
      {},
      h('button', { onclick: page(-LIMIT) }, '‹ Prev'),
      ' ',
      h('button', { onclick: page(LIMIT) }, 'Next ›'),
      ' ',
      status,
    ),
    session.me?.can.download
      ? h(
          'p',
          { class: 'exports' },
          exportCsv,
          ' ',
          exportAudio,
          ' ',
          h('span', { class: 'muted' }, 'Exports are written to the audit trail.'),
        )
      : '',
  );
  void search();
}
