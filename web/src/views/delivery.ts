import { api, send } from '../api.js';
import { fmtTime, grid, h, outcome, td } from '../dom.js';
import { t, tp } from '../i18n.js';

/**
 * Delivery (admins): destinations' health (SFTP, FTP, S3, local, SMTP) with a "Test access" button
 * each, offload batches, MP3 export, email notification and SMTP journal counters with their recent
 * failures (each linking to its recording), and "Retry failed deliveries now".
 */

interface Failure {
  recordingId: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt?: string | null;
}
interface Target {
  name: string;
  ok: boolean;
  lastOkAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  failures?: number;
  nextAttemptAt?: string | null;
}
interface DeliveryJson {
  enabled: boolean;
  /** The destinations the running services write to (each can be tested). */
  destinations?: { name: string; kind: string; settings: string[] }[];
  targets?: Target[];
  offload?: {
    queued: number;
    failed?: number;
    batches: {
      seq: number;
      csv: string;
      count: number;
      state: string;
      attempts: number;
      lastError: string | null;
      cutAt: string | null;
      finishedAt: string | null;
      nextAttemptAt: string | null;
    }[];
  };
  export?: {
    done: number;
    pending: number;
    failed: number;
    recentFailures: (Failure & { destination: string })[];
  };
  notifications?: {
    sent: number;
    pending: number;
    failed: number;
    recentFailures?: (Failure & { email: string; state: string })[];
  };
  /** SMTP journaling: a message per stored recording to the journaling mailbox. */
  journal?: {
    sent: number;
    pending: number;
    failed: number;
    recentFailures?: (Failure & { state: string })[];
  };
}

const when = (iso: string | null | undefined) => (iso ? fmtTime(iso) : '–');
const next = (iso: string | null | undefined) => (iso ? when(iso) : t('gave up (retry above)'));
const muted = (text: string) => h('p', { class: 'muted' }, text);

/** A destination's access test: running, or its answer (POST /delivery/destinations/{name}/test). */
type AccessTest =
  'running' | { ok: boolean; steps: { step: string; ok: boolean; ms: number; error?: string }[] } | Error;

/** The access tests of this page (kept across the refreshes) and how to start one. */
interface Tests {
  results: Map<string, AccessTest>;
  run(name: string): void;
}

const stepName = (step: string): string =>
  ({
    login: t('connect and log in'),
    directory: t('check the directory'),
    write: t('write a probe file'),
    read: t('read it back'),
    delete: t('delete it'),
  })[step] ?? step;

/** The "Test access" button of a destination and what its last test said, step by step. */
function accessCell(name: string, tests: Tests): HTMLTableCellElement {
  const r = tests.results.get(name);
  const button = h(
    'button',
    { class: 'test-access', disabled: r === 'running', onclick: () => tests.run(name) },
    t('Test access'),
  );
  if (r === undefined) return td(button);
  if (r === 'running') return td(button, h('p', { class: 'muted' }, t('Testing access…')));
  if (r instanceof Error) return td(button, h('p', { class: 'error' }, r.message));
  return td(
    button,
    h('p', { class: r.ok ? 'ok' : 'loss-bad' }, r.ok ? t('Access works.') : t('Access failed.')),
    h(
      'ul',
      { class: 'access-steps' },
      ...r.steps.map((x) =>
        h(
          'li',
          { class: x.ok ? 'ok' : 'error', 'data-step': x.step },
          x.ok
            ? t('{step}: ok ({ms} ms)', { step: stepName(x.step), ms: x.ms })
            : t('{step}: failed ({ms} ms): {error}', {
                step: stepName(x.step),
                ms: x.ms,
                error: x.error ?? '',
              }),
        ),
      ),
    ),
  );
}

/** The configured destinations (testable), then any other target with a health record. */
function destinationRows(d: DeliveryJson, tests: Tests): HTMLTableRowElement[] {
  const configured = d.destinations ?? [];
  const names = [...configured.map((x) => x.name)];
  for (const x of d.targets ?? []) if (!names.includes(x.name)) names.push(x.name);
  return names.map((name) => {
    const x = d.targets?.find((y) => y.name === name);
    const health = !x
      ? h('td', { class: 'muted' }, t('not contacted yet'))
      : h(
          'td',
          { class: x.ok ? 'ok' : 'loss-bad' },
          x.ok ? t('ok') : x.failures ? t('failing ({n}×)', { n: x.failures }) : t('failing'),
        );
    return h(
      'tr',
      { class: 'target-row', 'data-name': name },
      td(name),
      health,
      td(when(x?.lastOkAt)),
      td(x?.lastError ? `${when(x.lastErrorAt)}: ${x.lastError}` : '–'),
      td(!x || x.ok ? '–' : when(x.nextAttemptAt)),
      configured.some((c) => c.name === name) ? accessCell(name, tests) : td(''),
    );
  });
}

function render(d: DeliveryJson, tests: Tests): (Node | string)[] {
  const exp = d.export;
  const notes = d.notifications;
  const journal = d.journal;
  const rows = destinationRows(d, tests);
  return [
    h(
      'p',
      { id: 'delivery-state' },
      d.enabled
        ? t('Delivery is on.')
        : t('Delivery is off on this server (no offload, export, notifications or journal configured).'),
    ),
    h('h3', {}, t('Destinations')),
    rows.length
      ? grid(
          'delivery-targets',
          [t('Destination'), t('Health'), t('Last success'), t('Last error'), t('Next try'), t('Access')],
          rows,
        )
      : muted(t('No destination has been contacted yet.')),
    h(
      'h3',
      {},
      t('Offload batches ({queued} queued, {failed} failed)', {
        queued: d.offload?.queued ?? 0,
        failed: d.offload?.failed ?? 0,
      }),
    ),
    d.offload?.batches.length
      ? grid(
          'delivery-batches',
          [
            '#',
            'CSV',
            t('Recordings'),
            t('State'),
            t('Attempts'),
            t('Cut'),
            t('Finished / next try'),
            t('Error'),
          ],
          d.offload.batches.map((b) =>
            h(
              'tr',
              { class: `batch-row ${b.state}` },
              td(String(b.seq)),
              td(b.csv),
              td(String(b.count)),
              td(b.state),
              td(String(b.attempts)),
              td(when(b.cutAt)),
              td(b.state === 'done' ? when(b.finishedAt) : next(b.nextAttemptAt)),
              h('td', { class: b.lastError ? 'error' : '' }, b.lastError ?? ''),
            ),
          ),
        )
      : muted(t('No offload batch yet.')),
    h('h3', {}, t('MP3 export')),
    h(
      'p',
      { id: 'delivery-export' },
      t('{done} exported · {pending} pending · {failed} failed', {
        done: exp?.done ?? 0,
        pending: exp?.pending ?? 0,
        failed: exp?.failed ?? 0,
      }),
    ),
    failures('delivery-export-failures', [t('Destination')], exp?.recentFailures, (x) => [td(x.destination)]),
    h('h3', {}, t('Email notifications')),
    h(
      'p',
      { id: 'delivery-notifications' },
      t('{sent} sent · {pending} pending · {failed} failed', {
        sent: notes?.sent ?? 0,
        pending: notes?.pending ?? 0,
        failed: notes?.failed ?? 0,
      }),
    ),
    failures('delivery-notification-failures', [t('Recipients'), t('State')], notes?.recentFailures, (x) => [
      td(x.email),
      td(x.state),
    ]),
    h('h3', {}, t('Journal (SMTP)')),
    h(
      'p',
      { id: 'delivery-journal' },
      t('Messages: {sent} sent · {pending} pending · {failed} failed', {
        sent: journal?.sent ?? 0,
        pending: journal?.pending ?? 0,
        failed: journal?.failed ?? 0,
      }),
    ),
    failures('delivery-journal-failures', [t('State')], journal?.recentFailures, (x) => [td(x.state)]),
  ];
}

/** Recent failures of one kind: recording (linked), where to (`extra` columns), attempts, error, next try. */
function failures<F extends Failure>(
  id: string,
  extra: string[],
  items: F[] | undefined,
  cells: (x: F) => HTMLTableCellElement[],
): Node | string {
  if (!items?.length) return '';
  return grid(
    id,
    [t('Recording'), ...extra, t('Attempts'), t('Error'), t('Next try')],
    items.map((x) =>
      h(
        'tr',
        { 'data-recording': x.recordingId },
        td(h('a', { href: `/recordings/${encodeURIComponent(x.recordingId)}` }, x.recordingId)),
        ...cells(x),
        td(String(x.attempts)),
        td(x.lastError ?? ''),
        td(next(x.nextAttemptAt)),
      ),
    ),
  );
}

/** What POST /delivery/retry re-queued, by feature: "2 offload batches", "1 journal message". */
const RETRIED: Record<string, (n: number) => string> = {
  offload: (n) => tp(n, '{n} offload batch', '{n} offload batches'),
  export: (n) => tp(n, '{n} MP3 export', '{n} MP3 exports'),
  notifications: (n) => tp(n, '{n} email notification', '{n} email notifications'),
  journal: (n) => tp(n, '{n} journal message', '{n} journal messages'),
};

export function deliveryView(app: HTMLElement): () => void {
  const msg = outcome('delivery-msg');
  const box = h('div', { id: 'delivery-status' }, t('Loading…'));
  let last: DeliveryJson | undefined;
  const show = () => {
    if (last) box.replaceChildren(...render(last, tests));
  };
  const tests: Tests = {
    results: new Map(),
    run(name) {
      tests.results.set(name, 'running');
      show();
      send<Exclude<AccessTest, 'running' | Error>>(
        'POST',
        `/delivery/destinations/${encodeURIComponent(name)}/test`,
      )
        .then(
          (r) => tests.results.set(name, r),
          (e: Error) => tests.results.set(name, e),
        )
        .finally(show);
    },
  };
  const load = async (): Promise<void> => {
    const d = await api<DeliveryJson>('/delivery');
    box.dataset.enabled = String(d.enabled);
    last = d;
    show();
  };
  const retry = () =>
    send<{ retried: Record<string, number> | number }>('POST', '/delivery/retry').then(
      (r) => {
        const what =
          typeof r.retried === 'object'
            ? Object.entries(r.retried)
                .map(([k, n]) => RETRIED[k]?.(n) ?? `${n} ${k}`)
                .join(', ')
            : String(r.retried);
        msg.ok(t('re-queued now: {what}', { what }));
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  const button = h('button', { id: 'delivery-retry', onclick: retry }, t('Retry failed deliveries now'));
  app.append(h('h2', {}, t('Delivery')), h('p', {}, button), msg.el, box);
  load().catch((e: Error) => msg.fail(e));
  const timer = setInterval(() => void load().catch(() => undefined), 5000);
  return () => clearInterval(timer);
}
