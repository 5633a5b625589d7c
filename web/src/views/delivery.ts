import { api, send } from '../api.js';
import { fmtTime, grid, h, outcome, td } from '../dom.js';
import { t } from '../i18n.js';

/** Delivery (admins): destinations' health (SFTP, S3, local), offload batches, MP3 export and email counters. */

interface Failure {
  recordingId: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt?: string | null;
}
interface DeliveryJson {
  enabled: boolean;
  targets?: {
    name: string;
    ok: boolean;
    lastOkAt: string | null;
    lastError: string | null;
    lastErrorAt: string | null;
    failures?: number;
    nextAttemptAt?: string | null;
  }[];
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
}

const when = (iso: string | null | undefined) => (iso ? fmtTime(iso) : '–');
const next = (iso: string | null | undefined) => (iso ? when(iso) : t('gave up (retry above)'));
const muted = (text: string) => h('p', { class: 'muted' }, text);

function render(d: DeliveryJson): (Node | string)[] {
  const exp = d.export;
  const notes = d.notifications;
  return [
    h(
      'p',
      { id: 'delivery-state' },
      d.enabled
        ? t('Delivery is on.')
        : t('Delivery is off on this server (no offload, export or notifications configured).'),
    ),
    h('h3', {}, t('Destinations')),
    d.targets?.length
      ? grid(
          'delivery-targets',
          [t('Destination'), t('Health'), t('Last success'), t('Last error'), t('Next try')],
          d.targets.map((x) =>
            h(
              'tr',
              { class: 'target-row' },
              td(x.name),
              h(
                'td',
                { class: x.ok ? 'ok' : 'loss-bad' },
                x.ok ? t('ok') : x.failures ? t('failing ({n}×)', { n: x.failures }) : t('failing'),
              ),
              td(when(x.lastOkAt)),
              td(x.lastError ? `${when(x.lastErrorAt)}: ${x.lastError}` : '–'),
              td(x.ok ? '–' : when(x.nextAttemptAt)),
            ),
          ),
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
  ];
}

/** Recent failures of one kind: recording, where to (`extra` columns), attempts, error, next try. */
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
        {},
        td(x.recordingId),
        ...cells(x),
        td(String(x.attempts)),
        td(x.lastError ?? ''),
        td(next(x.nextAttemptAt)),
      ),
    ),
  );
}

export function deliveryView(app: HTMLElement): () => void {
  const msg = outcome('delivery-msg');
  const box = h('div', { id: 'delivery-status' }, t('Loading…'));
  const load = async (): Promise<void> => {
    const d = await api<DeliveryJson>('/delivery');
    box.dataset.enabled = String(d.enabled);
    box.replaceChildren(...render(d));
  };
  const retry = () =>
    send<{ retried: Record<string, number> | number }>('POST', '/delivery/retry').then(
      (r) => {
        const what =
          typeof r.retried === 'object'
            ? Object.entries(r.retried)
                .map(([k, n]) => `${n} ${k}`)
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
