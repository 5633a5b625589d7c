import { api, session } from '../api.js';
import { dayStart, filterForm, fmtDur, fmtTime, grid, h, parties, type Participant } from '../dom.js';
import { t, tp } from '../i18n.js';
import { navigate } from '../router.js';
import { recordingsBulkBar } from './recordings-bulk.js';
import { fieldControl, loadCustomFields, type CustomField, type FieldValues } from './custom-fields.js';
import { savedSearchesBar } from './saved-searches.js';

/**
 * The recordings search. Its filters live in the URL (/recordings?callId=...&offset=25), so Back
 * from a recording returns to the same results. Rows link to /recordings/<id>. Each custom field
 * is a column (after the others), and one of them can be searched (field=<name>:<value>).
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
  /** Custom field values (only those set); absent from a server without custom fields. */
  fields?: FieldValues;
  /** The interaction (SIPREC session group) it is part of, if any. */
  interactionId?: string | null;
}

const FIELDS = [
  'q',
  'from',
  'to',
  'participant',
  'caller',
  'callee',
  'direction',
  'callId',
  'owner',
  'group',
  'state',
  'category',
  'interaction',
  'preserved',
] as const;
/** The call length bounds: seconds on the form, milliseconds in the API's filters and the address. */
const DURATIONS = ['minDurationMs', 'maxDurationMs'] as const;
const LIMIT = 25;
let lastList = '/recordings';

/** Where "back to the list" goes: the last search shown. */
export const listUrl = () => lastList;

/** A recording's state as people read it (the API's value when it is not one of these). */
export function stateLabel(state: string): string {
  const labels: Record<string, string> = {
    stored: t('stored'),
    processing: t('processing'),
    recording: t('recording'),
    failed: t('failed'),
  };
  return labels[state] ?? state;
}

/** A call's direction as people read it (recordings.direction). */
function directionLabel(direction: string): string {
  const labels: Record<string, string> = {
    inbound: t('inbound'),
    outbound: t('outbound'),
    internal: t('internal'),
    unknown: t('unknown'),
  };
  return labels[direction] ?? direction;
}

export function recordingsView(app: HTMLElement): void {
  const f = {
    q: h('input', { id: 'f-q', placeholder: t('number, name, note, field value or Call-ID') }),
    from: h('input', { type: 'date', id: 'f-from' }),
    to: h('input', { type: 'date', id: 'f-to' }),
    participant: h('input', { id: 'f-participant', placeholder: t('number or name, 1001*, /regex/') }),
    caller: h('input', { id: 'f-caller', placeholder: t('number, 1001*, /regex/') }),
    callee: h('input', { id: 'f-callee', placeholder: t('number, 1001*, /regex/') }),
    direction: h(
      'select',
      { id: 'f-direction' },
      ...['', 'inbound', 'outbound', 'internal', 'unknown'].map((d) =>
        h('option', { value: d }, d ? directionLabel(d) : t('any')),
      ),
    ),
    callId: h('input', { id: 'f-callid', placeholder: t('Call-ID') }),
    owner: h('input', { id: 'f-owner', placeholder: t('username, or none') }),
    group: h('input', { id: 'f-group', placeholder: t('group') }),
    interaction: h('input', { id: 'f-interaction', placeholder: t('interaction id') }),
    state: h(
      'select',
      { id: 'f-state' },
      ...['', 'stored', 'processing', 'recording', 'failed'].map((s) =>
        h('option', { value: s }, s ? stateLabel(s) : t('any')),
      ),
    ),
    category: h('input', { id: 'f-category', placeholder: t('category') }),
    preserved: h(
      'select',
      { id: 'f-preserved' },
      h('option', { value: '' }, t('any')),
      h('option', { value: 'true' }, t('yes')),
      h('option', { value: 'false' }, t('no')),
    ),
  };
  const dur = {
    minDurationMs: h('input', { type: 'number', min: 0, step: 'any', id: 'f-min-duration' }),
    maxDurationMs: h('input', { type: 'number', min: 0, step: 'any', id: 'f-max-duration' }),
  };
  const shown = new URLSearchParams(location.search);
  for (const k of FIELDS) f[k].value = shown.get(k) ?? '';
  for (const k of DURATIONS) {
    const ms = Number(shown.get(k) ?? '');
    dur[k].value = shown.get(k) && ms >= 0 ? String(ms / 1000) : '';
  }
  /** The call length bounds given, in milliseconds (a value that is no number of seconds: none). */
  const durations = (q: URLSearchParams): void => {
    for (const k of DURATIONS) {
      const s = Number(dur[k].value);
      if (dur[k].value.trim() !== '' && Number.isFinite(s) && s >= 0) q.set(k, String(Math.round(s * 1000)));
    }
  };
  // The custom fields: a column each, and a filter on one (a select of them, then its value).
  let defs: CustomField[] = [];
  const fieldSelect = h('select', { id: 'f-field' }, h('option', { value: '' }, t('any')));
  let fieldValue: HTMLInputElement | HTMLSelectElement = h('input', { id: 'f-field-value', disabled: true });
  const fieldLabels = [h('label', {}, t('Field'), fieldSelect), h('label', {}, t('Value'), fieldValue)];
  // Shown once there are fields to search.
  for (const l of fieldLabels) l.style.display = 'none';
  const showFieldValue = (value = ''): void => {
    const def = defs.find((d) => d.name === fieldSelect.value);
    const next = def
      ? fieldControl(def, 'f-field-value', value, t('any'))
      : h('input', { id: 'f-field-value', disabled: true });
    fieldValue.replaceWith(next);
    fieldValue = next;
  };
  fieldSelect.addEventListener('change', () => showFieldValue());
  /** 'order_no:1000' when a field and a value are chosen. */
  const fieldFilter = (): string =>
    fieldSelect.value && fieldValue.value.trim() ? `${fieldSelect.value}:${fieldValue.value.trim()}` : '';
  let offset = Math.max(0, Number(shown.get('offset')) || 0);
  const tbody = h('tbody');
  const status = h('span', { class: 'muted', id: 'rec-count' });
  // Exports (when downloads are allowed): the search results as CSV, the selected recordings' audio as tar.
  const selected = new Set<string>();
  const exportCsv = h('a', { id: 'export-csv', class: 'button', download: '' }, t('Export CSV'));
  const exportAudio = h('a', { id: 'export-audio', class: 'button', download: '' }, t('Export audio'));
  /** The search as the API takes it. */
  const filterQuery = (): URLSearchParams => {
    const q = new URLSearchParams();
    // Whole days in the browser's time zone (as the times in the list are shown, and as Reports cuts them).
    const start = dayStart(f.from.value);
    const end = dayStart(f.to.value, 1);
    if (start) q.set('from', start.toISOString());
    if (end) q.set('to', end.toISOString());
    // Every other filter as it is (the dates are whole local days, above).
    for (const k of FIELDS) if (k !== 'from' && k !== 'to' && f[k].value) q.set(k, f[k].value);
    durations(q);
    if (fieldFilter()) q.set('field', fieldFilter());
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
      ? tp(selected.size, 'Export audio ({n} selected)', 'Export audio ({n} selected)')
      : t('Export audio (all results)');
  };
  /** The search as the page's address shows it (without the page). */
  const addressQuery = (): URLSearchParams => {
    const q = new URLSearchParams();
    for (const k of FIELDS) if (f[k].value) q.set(k, f[k].value);
    durations(q);
    if (fieldFilter()) q.set('field', fieldFilter());
    return q;
  };
  const saved = savedSearchesBar(addressQuery);
  // Acting on the ticked rows at once; then they are unticked and the page reloaded.
  const bulk = recordingsBulkBar(selected, () => {
    selected.clear();
    bulk.update();
    void search();
  });
  const remember = (): void => {
    const q = addressQuery();
    saved.refresh();
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
        bulk.update();
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
      h(
        'td',
        {},
        stateLabel(x.state),
        x.preserved ? ` · ${t('preserved')}` : '',
        x.interactionId
          ? h(
              'a',
              {
                class: 'tag interaction-link',
                href: `/recordings?interaction=${encodeURIComponent(x.interactionId)}`,
                title: t('part of an interaction: its recordings'),
              },
              t('interaction'),
            )
          : '',
      ),
      h('td', {}, ...x.categories.map((c) => h('span', { class: 'tag' }, c))),
      ...defs.map((d) => h('td', { class: 'field-value', 'data-field': d.name }, x.fields?.[d.name] ?? '')),
    );
  };
  // Only the last search's answer is shown (an earlier one may arrive after it).
  let searches = 0;
  const search = async (): Promise<void> => {
    const mine = ++searches;
    const q = filterQuery();
    q.set('limit', String(LIMIT));
    q.set('offset', String(offset));
    remember();
    updateExports();
    try {
      const r = await api<{ total: number; totalExact?: boolean; items: Summary[] }>(`/recordings?${q}`);
      if (mine !== searches) return;
      tbody.replaceChildren(...r.items.map(row));
      const range = { first: r.total === 0 ? 0 : offset + 1, last: offset + r.items.length, total: r.total };
      // Past 10,000 matches the API stops counting (count=exact would read them all).
      status.textContent =
        r.totalExact === false
          ? t('{first}–{last} of more than {total}', range)
          : t('{first}–{last} of {total}', range);
    } catch (e) {
      if (mine !== searches) return;
      status.textContent = (e as Error).message;
    }
  };
  const table = grid(
    'recordings',
    ['', t('Started'), t('Call length'), t('Participants'), t('Call-ID'), t('State'), t('Categories')],
    tbody,
  );
  const page = (by: number) => () => {
    offset = Math.max(0, offset + by);
    void search();
  };
  const labels: [string, HTMLElement][] = [
    [t('Text'), f.q],
    [t('From'), f.from],
    [t('To'), f.to],
    [t('Participant'), f.participant],
    [t('Caller'), f.caller],
    [t('Callee'), f.callee],
    [t('Direction'), f.direction],
    [t('Min. call length (s)'), dur.minDurationMs],
    [t('Max. call length (s)'), dur.maxDurationMs],
    [t('Call-ID'), f.callId],
    [t('User'), f.owner],
    [t('Group'), f.group],
    [t('Interaction'), f.interaction],
    [t('State'), f.state],
    [t('Category'), f.category],
    [t('Preserved'), f.preserved],
  ];
  app.append(
    h('h2', {}, t('Recordings')),
    saved,
    filterForm(
      () => {
        offset = 0;
        void search();
      },
      ...labels.map(([label, el]) => h('label', {}, label, el)),
      ...fieldLabels,
      h('button', { class: 'primary', type: 'submit', id: 'search' }, t('Search')),
    ),
    bulk.el,
    table,
    h(
      'p',
      {},
      h('button', { onclick: page(-LIMIT) }, t('‹ Prev')),
      ' ',
      h('button', { onclick: page(LIMIT) }, t('Next ›')),
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
          h('span', { class: 'muted' }, t('Exports are written to the audit trail.')),
        )
      : '',
  );
  // The fields first (their columns, and a field filter the address may hold), then the search.
  void loadCustomFields().then((list) => {
    defs = list;
    table.tHead?.rows[0]?.append(
      ...defs.map((d) => h('th', { class: 'field-column', 'data-field': d.name }, d.label)),
    );
    fieldSelect.append(...defs.map((d) => h('option', { value: d.name }, d.label)));
    if (defs.length) for (const l of fieldLabels) l.style.display = '';
    const [name = '', ...rest] = (shown.get('field') ?? '').split(':');
    if (defs.some((d) => d.name === name)) {
      fieldSelect.value = name;
      showFieldValue(rest.join(':'));
    }
    void search();
  });
}
