import { api, send } from '../api.js';
import { fmtTime, grid, h, outcome, td } from '../dom.js';

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

const t = (iso: string | null | undefined) => (iso ? fmtTime(iso) : '–');
const next = (iso: string | null | undefined) => (iso ? t(iso) : 'gave up (retry above)');
const muted = (text: string) => h('p', { class: 'muted' }, text);

function render(d: DeliveryJson): (Node | string)[] {
  const exp = d.export;
  const notes = d.notifications;
  return [
    h(
      'p',
      { id: 'delivery-state' },
      d.enabled
        ? 'Delivery is on.'
        : 'Delivery is off on this server (no offload, export or notifications configured).',
    ),
    h('h3', {}, 'Destinations'),
    d.targets?.length
      ? grid(
          'delivery-targets',
          ['Destination', 'Health', 'Last success', 'Last error', 'Next try'],
          d.targets.map((x) =>
            h(
              'tr',
              { class: 'target-row' },
              td(x.name),
              h(
                'td',
                { class: x.ok ? 'ok' : 'loss-bad' },
                x.ok ? 'ok' : `failing${x.failures ? ` (${x.failures}×)` : ''}`,
              ),
              td(t(x.lastOkAt)),
              td(x.lastError ? `${t(x.lastErrorAt)}: ${x.lastError}` : '–'),
              td(x.ok ? '–' : t(x.nextAttemptAt)),
            ),
          ),
        )
      : muted('No destination has been contacted yet.'),
    h('h3', {}, `Offload batches (${d.offload?.queued ?? 0} queued, ${d.offload?.failed ?? 0} failed)`),
    d.offload?.batches.length
      ? grid(
          'delivery-batches',
          ['#', 'CSV', 'Recordings', 'State', 'Attempts', 'Cut', 'Finished / next try', 'Error'],
          d.offload.batches.map((b) =>
            h(
              'tr',
              { class: `batch-row ${b.state}` },
              td(String(b.seq)),
              td(b.csv),
              td(String(b.count)),
              td(b.state),
              td(String(b.attempts)),
              td(t(b.cutAt)),
              td(b.state === 'done' ? t(b.finishedAt) : next(b.nextAttemptAt)),
              h('td', { class: b.lastError ? 'error' : '' }, b.lastError ?? ''),
            ),
          ),
        )
      : muted('No offload batch yet.'),
    h('h3', {}, 'MP3 export'),
    h(
      'p',
      { id: 'delivery-export' },
      `${exp?.done ?? 0} exported · ${exp?.pending ?? 0} pending · ${exp?.failed ?? 0} failed`,
    ),
    failures('delivery-export-failures', ['Destination'], exp?.recentFailures, (x) => [td(x.destination)]),
    h('h3', {}, 'Email notifications'),
    h(
      'p',
      { id: 'delivery-notifications' },
      `${notes?.sent ?? 0} sent · ${notes?.pending ?? 0} pending · ${notes?.failed ?? 0} failed`,
    ),
    failures('delivery-notification-failures', ['To', 'State'], notes?.recentFailures, (x) => [
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
    ['Recording', ...extra, 'Attempts', 'Error', 'Next try'],
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
  const box = h('div', { id: 'delivery-status' }, 'Loading…');
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
        msg.ok(`re-queued now: ${what}`);
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  const button = h('button', { id: 'delivery-retry', onclick: retry }, 'Retry failed deliveries now');
  app.append(h('h2', {}, 'Delivery'), h('p', {}, button), msg.el, box);
  load().catch((e: Error) => msg.fail(e));
  const timer = setInterval(() => void load().catch(() => undefined), 5000);
  return () => clearInterval(timer);
}
