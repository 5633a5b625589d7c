import { api } from '../api.js';
import { dayStart, filterForm, grid, h, outcome } from '../dom.js';
import { t } from '../i18n.js';
import { evaluationSummary, mayEvaluate } from './evaluations.js';

/**
 * Reports: the recordings the principal may see counted and timed per day, user or group, over a
 * range of whole days in the browser's time zone (From at 00:00, To until the next day's 00:00).
 * The form lives in the URL (/reports?by=user&from=2026-11-01&to=2026-11-30), so a reload or a
 * shared link shows the same report; Download CSV asks the API for the same query as CSV.
 */

const BY = ['day', 'user', 'group'] as const;
type By = (typeof BY)[number];
/** What a row is (the first column's heading), in the current language. */
const label = (b: By): string => ({ day: t('Day'), user: t('User'), group: t('Group') })[b];
/** The key of a row without one. */
const none = (b: By): string => ({ day: t('(no day)'), user: t('(no user)'), group: t('(no group)') })[b];

interface Figures {
  calls: number;
  totalSeconds: number;
  averageSeconds: number;
  longestSeconds: number;
}
interface ReportRow extends Figures {
  /** The day (YYYY-MM-DD), username or group; null: no user (no group) took part. */
  key: string | null;
}
interface ReportJson {
  by: By;
  timeZone: string;
  rows: ReportRow[];
  total: Figures;
}

/** Seconds as m:ss, or h:mm:ss from an hour on (3725 -> 1:02:05). */
export function fmtSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  const two = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${minutes}:${two(s % 60)}`;
}

const isBy = (v: string | null): v is By => (BY as readonly (string | null)[]).includes(v);

export function reportsView(app: HTMLElement): void {
  // The zone days are cut in (per-day rows) and From / To are read in: the browser's.
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const by = h('select', { id: 'report-by' }, ...BY.map((b) => h('option', { value: b }, label(b))));
  const from = h('input', { type: 'date', id: 'report-from' });
  const to = h('input', { type: 'date', id: 'report-to' });
  const shown = new URLSearchParams(location.search);
  const askedBy = shown.get('by');
  by.value = isBy(askedBy) ? askedBy : 'day';
  from.value = shown.get('from') ?? '';
  to.value = shown.get('to') ?? '';

  const msg = outcome('report-msg');
  const head = h('tr');
  const tbody = h('tbody');
  const tfoot = h('tfoot');
  const table = grid('report-table', [], tbody);
  table.tHead?.replaceChildren(head);
  table.append(tfoot);
  const csv = h('a', { id: 'report-csv', class: 'button', download: '' }, t('Download CSV'));
  const note = h('p', { class: 'muted', id: 'report-note' });
  const evaluations = mayEvaluate() ? evaluationSummary() : null;

  /** The report as the API takes it. */
  const query = (): URLSearchParams => {
    const q = new URLSearchParams({ by: by.value });
    const start = dayStart(from.value);
    const end = dayStart(to.value, 1);
    if (start) q.set('from', start.toISOString());
    if (end) q.set('to', end.toISOString());
    q.set('tz', timeZone);
    return q;
  };
  /** The form as the page's address shows it. */
  const remember = (): void => {
    const q = new URLSearchParams({ by: by.value });
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    if (location.pathname === '/reports') history.replaceState(null, '', `/reports?${q}`);
  };

  const figures = (f: Figures) => [
    h('td', { class: 'num calls' }, String(f.calls)),
    ...[f.totalSeconds, f.averageSeconds, f.longestSeconds].map((s) =>
      h('td', { class: 'num', title: `${s} s` }, fmtSeconds(s)),
    ),
  ];
  const header = (b: By): void =>
    head.replaceChildren(
      h('th', {}, label(b)),
      ...[t('Calls'), t('Total'), t('Average'), t('Longest')].map((x) => h('th', { class: 'num' }, x)),
      h('th', {}),
    );
  header(by.value as By);
  // Set through the CSSOM: the console's CSP (style-src 'self') refuses style attributes.
  const bar = (share: number): HTMLElement => {
    const el = h('div', { class: 'bar' });
    el.style.width = `${(100 * share).toFixed(1)}%`;
    return el;
  };
  /** A row's key, linked to its recordings (the report's days too): a day, a user (none: of no user), a group. */
  const rowLink = (b: By, key: string | null): HTMLElement | string => {
    const q = new URLSearchParams();
    if (b === 'day' && key) {
      q.set('from', key);
      q.set('to', key);
    } else {
      if (from.value) q.set('from', from.value);
      if (to.value) q.set('to', to.value);
      if (b === 'user') q.set('owner', key ?? 'none');
      else if (key) q.set('group', key);
      else return none(b);
    }
    return h('a', { href: `/recordings?${q}`, class: 'report-link' }, key ?? none(b));
  };
  const draw = (r: ReportJson): void => {
    const most = Math.max(1, ...r.rows.map((x) => x.calls));
    header(r.by);
    tbody.replaceChildren(
      ...r.rows.map((x) =>
        h(
          'tr',
          { class: 'report-row', 'data-key': x.key ?? '' },
          h('td', { class: x.key === null ? 'muted' : '' }, rowLink(r.by, x.key)),
          ...figures(x),
          h('td', { class: 'bar-cell' }, bar(x.calls / most)),
        ),
      ),
    );
    if (!r.rows.length)
      tbody.append(h('tr', { class: 'empty' }, h('td', { colSpan: 6, class: 'muted' }, t('No recordings.'))));
    tfoot.replaceChildren(
      h('tr', { id: 'report-total' }, h('th', {}, t('Total')), ...figures(r.total), h('td')),
    );
    note.textContent =
      r.by === 'day'
        ? ''
        : r.by === 'user'
          ? t('A call in which several users took part counts in each of their rows, and once in the total.')
          : t(
              'A call in which several groups took part counts in each of their rows, and once in the total.',
            );
  };

  // Only the last answer is shown (an earlier one may arrive after it).
  let asked = 0;
  const show = async (): Promise<void> => {
    const mine = ++asked;
    const q = query();
    remember();
    void evaluations?.load(q);
    const file = new URLSearchParams(q);
    file.set('format', 'csv');
    csv.href = `/api/v1/reports?${file}`;
    table.setAttribute('aria-busy', 'true');
    try {
      const r = await api<ReportJson>(`/reports?${q}`);
      if (mine !== asked) return;
      msg.el.className = 'outcome';
      msg.el.textContent = '';
      draw(r);
    } catch (e) {
      if (mine !== asked) return;
      msg.fail(e as Error);
      header(by.value as By);
      tbody.replaceChildren();
      tfoot.replaceChildren();
      note.textContent = '';
    } finally {
      if (mine === asked) table.removeAttribute('aria-busy');
    }
  };

  app.append(
    h('h2', {}, t('Reports')),
    filterForm(
      () => void show(),
      h('label', {}, t('Per'), by),
      h('label', {}, t('From'), from),
      h('label', {}, t('To'), to),
      h('button', { class: 'primary', type: 'submit', id: 'report-show' }, t('Show')),
    ),
    h(
      'p',
      { class: 'muted', id: 'report-zone' },
      t('Days from 00:00 to 24:00 in {zone} (this browser’s time zone); durations as h:mm:ss.', {
        zone: timeZone,
      }),
    ),
    msg.el,
    table,
    note,
    h('p', { class: 'exports' }, csv),
    evaluations?.el ?? '',
  );
  void show();
}
