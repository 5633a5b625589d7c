import { api, session } from '../api.js';
import { dayStart, grid, h, outcome } from '../dom.js';
import { fmtDate, fmtNumber, t, tp } from '../i18n.js';
import { fmtSeconds } from './reports.js';

/**
 * Dashboard (every role that sees recordings): the calls live now (refreshed every 10 s while the
 * page is open), today's calls and durations, a bar chart of the calls of the last 14 days (days
 * cut in the browser's time zone, as Reports cuts them), for supervisors and admins the busiest
 * users and groups of those days, and for admins the post-call capacity in use and the delivery
 * state, a line each. Everything within the viewer's scope: the APIs read (/calls, /reports) scope it.
 */

const DAYS = 14;
const TOP = 5;
const ACTIVE_EVERY_MS = 10_000;
const SVG = 'http://www.w3.org/2000/svg';

interface Figures {
  calls: number;
  totalSeconds: number;
  averageSeconds: number;
}
interface ReportJson {
  rows: (Figures & { key: string | null })[];
  total: Figures;
}
interface PipelineHealth {
  backlogJobs: number;
  maxBacklogSeconds: number;
  inUse: number;
  admitting: boolean;
}
interface DeliveryJson {
  enabled: boolean;
  targets?: { ok: boolean }[];
  offload?: { queued: number; failed?: number };
  export?: { pending: number; failed: number };
  notifications?: { pending: number; failed: number };
  journal?: { pending: number; failed: number };
}

/** A day's key as the report writes it (YYYY-MM-DD), in the browser's time zone. */
const dayKey = (d: Date): string =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

const num = (n: number): string => fmtNumber(n);

/** An SVG element with attributes and children (h() makes HTML elements). */
function svg(
  tag: string,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** A round step for `top` split in about four (1, 2, 5, 10, 20, ...), whole calls at least. */
function step(top: number): number {
  const rough = Math.max(1, top / 4);
  const p = 10 ** Math.floor(Math.log10(rough));
  return ([1, 2, 5, 10].map((m) => m * p).find((s) => s >= rough) ?? 10 * p) || 1;
}

/** The bar chart of calls per day, the average duration of each day under its date. */
function chart(days: Date[], byDay: Map<string, Figures>): SVGElement {
  const W = 760;
  const left = 56;
  const top = 16;
  const plotH = 180;
  const bottom = top + plotH;
  const col = (W - left - 8) / days.length;
  const most = Math.max(0, ...days.map((d) => byDay.get(dayKey(d))?.calls ?? 0));
  const s = step(most);
  const yMax = Math.max(s, Math.ceil(most / s) * s);
  const y = (n: number) => bottom - (plotH * n) / yMax;
  const parts: SVGElement[] = [];
  // The y axis: a labelled line per step, the axis title turned along it.
  for (let v = 0; v <= yMax; v += s)
    parts.push(
      svg('line', { class: 'grid', x1: left, x2: W - 8, y1: y(v), y2: y(v) }),
      svg('text', { class: 'tick', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(v)),
    );
  parts.push(
    svg(
      'text',
      {
        class: 'axis',
        x: 14,
        y: top + plotH / 2,
        'text-anchor': 'middle',
        transform: `rotate(-90 14 ${top + plotH / 2})`,
      },
      t('Calls'),
    ),
    svg('text', { class: 'tick', x: left - 6, y: bottom + 46, 'text-anchor': 'end' }, t('Average')),
  );
  days.forEach((d, i) => {
    const key = dayKey(d);
    const f = byDay.get(key) ?? { calls: 0, totalSeconds: 0, averageSeconds: 0 };
    const x = left + i * col;
    const mid = x + col / 2;
    const day = fmtDate(d, { weekday: 'long', day: 'numeric', month: 'long' });
    const average = f.calls ? fmtSeconds(f.averageSeconds) : '–';
    const title =
      f.calls > 0
        ? tp(f.calls, '{day}: {n} call, average {average}', '{day}: {n} calls, average {average}', {
            day,
            average,
          })
        : t('{day}: no calls', { day });
    parts.push(
      svg(
        'g',
        { class: 'day', 'data-day': key },
        svg('title', {}, title),
        // The whole column answers the pointer (a day of no calls has no bar to point at).
        svg('rect', { class: 'hit', x, y: top, width: col, height: plotH }),
        svg('rect', {
          class: 'bar',
          'data-day': key,
          'data-calls': f.calls,
          x: x + col * 0.15,
          y: y(f.calls),
          width: col * 0.7,
          height: bottom - y(f.calls),
        }),
        svg('text', { class: 'count', x: mid, y: y(f.calls) - 3, 'text-anchor': 'middle' }, num(f.calls)),
        svg(
          'text',
          { class: 'tick', x: mid, y: bottom + 14, 'text-anchor': 'middle' },
          fmtDate(d, { weekday: 'short' }),
        ),
        svg(
          'text',
          { class: 'tick', x: mid, y: bottom + 28, 'text-anchor': 'middle' },
          fmtDate(d, { day: 'numeric', month: 'numeric' }),
        ),
        svg('text', { class: 'tick', x: mid, y: bottom + 46, 'text-anchor': 'middle' }, average),
      ),
    );
  });
  parts.push(svg('line', { class: 'axis-line', x1: left, x2: left, y1: top, y2: bottom }));
  return svg(
    'svg',
    {
      id: 'dash-chart',
      viewBox: `0 0 ${W} ${bottom + 56}`,
      role: 'img',
      'aria-label': t('Calls per day, last 14 days'),
    },
    ...parts,
  );
}

/** A figure with its label; `id` on the value. */
const stat = (label: string, id: string, value: string, attrs: Record<string, string> = {}) =>
  h(
    'div',
    { class: 'dash-stat' },
    h('div', { class: 'muted' }, label),
    h('div', { id, class: 'dash-big', ...attrs }, value),
  );

export function dashboardView(app: HTMLElement): () => void {
  const me = session.me;
  const overseer = me?.role === 'supervisor' || me?.can.admin === true;
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const today = new Date();
  const todayKey = dayKey(today);
  const days = Array.from({ length: DAYS }, (_, i) => dayStart(todayKey, i - (DAYS - 1)) as Date);
  const from = days[0] as Date;
  const fromKey = dayKey(from);
  const msg = outcome('dash-msg');

  const activeCount = h('div', { id: 'dash-active-count', class: 'dash-big' }, '…');
  const todayCard = h(
    'div',
    { class: 'card', id: 'dash-today' },
    h('h3', {}, t('Today')),
    h('div', { class: 'dash-stats' }, h('span', { class: 'muted' }, t('Loading…'))),
  );
  const chartBox = h('div', { id: 'dash-chart-box' }, h('span', { class: 'muted' }, t('Loading…')));
  const range = new URLSearchParams({ by: 'day', from: fromKey, to: todayKey });

  // The calls live now, again every 10 s until the view is left.
  const countActive = async (): Promise<void> => {
    try {
      const r = await api<{ items: unknown[] }>('/calls');
      activeCount.textContent = num(r.items.length);
      activeCount.dataset.count = String(r.items.length);
    } catch {
      // the next poll tries again
    }
  };
  void countActive();
  const timer = setInterval(() => void countActive(), ACTIVE_EVERY_MS);

  const report = (by: string) =>
    api<ReportJson>(`/reports?${new URLSearchParams({ by, from: from.toISOString(), tz: timeZone })}`);

  void report('day').then(
    (r) => {
      const byDay = new Map<string, Figures>();
      for (const row of r.rows) if (row.key) byDay.set(row.key, row);
      const f = byDay.get(todayKey) ?? { calls: 0, totalSeconds: 0, averageSeconds: 0 };
      todayCard.replaceChildren(
        h('h3', {}, t('Today')),
        h(
          'div',
          { class: 'dash-stats' },
          stat(t('Calls'), 'dash-today-calls', num(f.calls), { 'data-count': String(f.calls) }),
          stat(t('Total'), 'dash-today-total', fmtSeconds(f.totalSeconds), {
            'data-seconds': String(f.totalSeconds),
          }),
          stat(t('Average'), 'dash-today-average', fmtSeconds(f.averageSeconds), {
            'data-seconds': String(f.averageSeconds),
          }),
        ),
      );
      chartBox.replaceChildren(chart(days, byDay));
    },
    (e: Error) => {
      msg.fail(e);
      todayCard.replaceChildren(h('h3', {}, t('Today')));
      chartBox.replaceChildren();
    },
  );

  /** The busiest users (groups) of the 14 days, each linked to their recordings. */
  const topList = (by: 'user' | 'group', heading: string): HTMLElement => {
    const box = h('div', { class: 'card', id: `dash-top-${by}s` }, h('h3', {}, heading), t('Loading…'));
    void report(by).then(
      (r) => {
        const rows = r.rows.filter((x) => x.key !== null).slice(0, TOP);
        const link = (key: string) => {
          const q = new URLSearchParams({
            from: fromKey,
            to: todayKey,
            [by === 'user' ? 'owner' : 'group']: key,
          });
          return h('a', { href: `/recordings?${q}` }, key);
        };
        box.replaceChildren(
          h('h3', {}, heading),
          rows.length
            ? grid(
                `dash-top-${by}-table`,
                [by === 'user' ? t('User') : t('Group'), t('Calls'), t('Average')],
                rows.map((x) =>
                  h(
                    'tr',
                    { class: 'dash-top-row', 'data-key': x.key ?? '' },
                    h('td', {}, link(x.key ?? '')),
                    h('td', { class: 'num' }, num(x.calls)),
                    h('td', { class: 'num' }, fmtSeconds(x.averageSeconds)),
                  ),
                ),
              )
            : h('p', { class: 'muted' }, t('No recordings.')),
        );
      },
      (e: Error) => box.replaceChildren(h('h3', {}, heading), h('p', { class: 'error' }, e.message)),
    );
    return box;
  };

  /** Admins: how much of the post-call backlog bound is in use (from /healthz, as Live shows it). */
  const capacityLine = (): HTMLElement => {
    const text = h('span', {}, t('Loading…'));
    const line = h('p', { id: 'dash-capacity' }, text, ' ', h('a', { href: '/live' }, t('Live')));
    void fetch('/healthz')
      .then((r) => r.json() as Promise<{ details?: { pipeline?: PipelineHealth } }>)
      .then((j) => {
        const p = j.details?.pipeline;
        if (!p) {
          text.textContent = t('Post-call processing: not reported by this server.');
          return;
        }
        const admission = p.admitting
          ? t('taking new calls.')
          : t('refusing new calls (503) until it drains.');
        text.textContent =
          p.maxBacklogSeconds > 0
            ? tp(
                p.backlogJobs,
                'Post-call processing: {pct} % of capacity in use, {n} recording waiting; {admission}',
                'Post-call processing: {pct} % of capacity in use, {n} recordings waiting; {admission}',
                { pct: num(Math.round(100 * p.inUse)), admission },
              )
            : tp(
                p.backlogJobs,
                'Post-call processing: no backlog limit, {n} recording waiting; {admission}',
                'Post-call processing: no backlog limit, {n} recordings waiting; {admission}',
                { admission },
              );
        line.dataset.inUse = String(p.inUse);
        text.className = p.admitting ? '' : 'error';
      })
      .catch(() => (text.textContent = t('Post-call processing: not reported by this server.')));
    return line;
  };

  /** Admins: the delivery state summed up (what the Delivery page details). */
  const deliveryLine = (): HTMLElement => {
    const text = h('span', {}, t('Loading…'));
    const line = h('p', { id: 'dash-delivery' }, text, ' ', h('a', { href: '/delivery' }, t('Delivery')));
    void api<DeliveryJson>('/delivery').then(
      (d) => {
        line.dataset.enabled = String(d.enabled);
        if (!d.enabled) {
          text.textContent = t(
            'Delivery is off on this server (no offload, export, notifications or journal configured).',
          );
          return;
        }
        const targets = d.targets ?? [];
        const healthy = targets.filter((x) => x.ok).length;
        const pending =
          (d.offload?.queued ?? 0) +
          (d.export?.pending ?? 0) +
          (d.notifications?.pending ?? 0) +
          (d.journal?.pending ?? 0);
        const failed =
          (d.offload?.failed ?? 0) +
          (d.export?.failed ?? 0) +
          (d.notifications?.failed ?? 0) +
          (d.journal?.failed ?? 0);
        const counts = { pending: num(pending), failed: num(failed) };
        text.textContent = targets.length
          ? t(
              'Delivery: {healthy} of {destinations} destinations healthy; {pending} pending, {failed} failed.',
              {
                ...counts,
                healthy: num(healthy),
                destinations: num(targets.length),
              },
            )
          : t('Delivery: no destination contacted yet; {pending} pending, {failed} failed.', counts);
        text.className = failed > 0 || healthy < targets.length ? 'error' : '';
      },
      (e: Error) => (text.textContent = e.message),
    );
    return line;
  };

  app.append(
    h('h2', {}, t('Dashboard')),
    msg.el,
    h(
      'div',
      { class: 'dash-cards' },
      h(
        'div',
        { class: 'card', id: 'dash-active' },
        h('h3', {}, t('Active calls now')),
        activeCount,
        h('a', { href: '/live', id: 'dash-live' }, t('Live')),
      ),
      todayCard,
    ),
    h(
      'div',
      { class: 'card' },
      h(
        'h3',
        {},
        t('Calls per day, last 14 days'),
        ' ',
        h('a', { href: `/reports?${range}`, id: 'dash-reports' }, t('Reports')),
      ),
      chartBox,
      h(
        'p',
        { class: 'muted', id: 'dash-zone' },
        t('Days from 00:00 to 24:00 in {zone} (this browser’s time zone); durations as h:mm:ss.', {
          zone: timeZone,
        }),
      ),
    ),
    overseer
      ? h(
          'div',
          { class: 'dash-cards' },
          topList('user', t('Top users, last 14 days')),
          topList('group', t('Top groups, last 14 days')),
        )
      : '',
    me?.can.admin ? h('div', { class: 'card', id: 'dash-server' }, capacityLine(), deliveryLine()) : '',
  );
  return () => clearInterval(timer);
}
