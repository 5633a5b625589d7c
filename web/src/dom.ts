/** DOM helpers shared by the views: an element builder, tables, an outcome line, formats. */
import { fmtDate, t } from './i18n.js';

export type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;
export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (k in el && k !== 'list') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export const td = (...c: (Node | string)[]) => h('td', {}, ...c);

/** A table with a header row; `body` rows, or a tbody the view fills later. */
export function grid(
  id: string,
  headers: string[],
  body: HTMLTableRowElement[] | HTMLTableSectionElement,
): HTMLTableElement {
  return h(
    'table',
    { id },
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))),
    Array.isArray(body) ? h('tbody', {}, ...body) : body,
  );
}

/** A search form: Enter or its submit button runs `submit`. */
export function filterForm(submit: () => void, ...children: Child[]): HTMLFormElement {
  const onsubmit = (e: Event) => {
    e.preventDefault();
    submit();
  };
  return h('form', { class: 'filters', onsubmit }, ...children);
}

/** A message line that shows the last action's outcome. */
export function outcome(id: string): { el: HTMLElement; ok(m: string): void; fail(e: Error): void } {
  const el = h('div', { id, class: 'outcome' });
  return {
    el,
    ok: (m) => {
      el.className = 'outcome ok';
      el.textContent = m;
    },
    fail: (e) => {
      el.className = 'outcome error';
      el.textContent = e.message;
    },
  };
}

/** 'a, b,,c ' -> ['a', 'b', 'c'] */
export const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export const fmtDur = (ms: number | null | undefined) => {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
/** A time in the console's language (its date order, month names and clock). */
export const fmtTime = (iso: string) => fmtDate(new Date(iso));

export interface Participant {
  aor: string | null;
  name: string | null;
  sendsLabels?: string[];
  sends?: string[];
}
export const who = (p: Participant) => (p.name ? `${p.name} <${p.aor ?? ''}>` : (p.aor ?? '?'));
export const parties = (ps: Participant[]) => ps.map(who).join(' ↔ ');

/** 00:00 of a date input's day (YYYY-MM-DD) in the browser's time zone, `plus` days later. */
export function dayStart(day: string, plus = 0): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const d = new Date(0);
  d.setFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plus);
  d.setHours(0, 0, 0, 0);
  return d;
}

/** A role's name in the console's language (any other value as it is). */
export function roleLabel(role: string): string {
  if (role === 'admin') return t('admin');
  if (role === 'supervisor') return t('supervisor');
  if (role === 'user') return t('user');
  if (role === 'record-only') return t('record-only');
  return role;
}
