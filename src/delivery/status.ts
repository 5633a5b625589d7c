import type { Config } from '../config.js';
import type {
  DeliveryMetrics,
  DeliveryStatus,
  ExportDestination,
  OffloadRepository,
} from '../store/offload.js';
import { destinationLabels } from './destination.js';
import { exportLabels } from './export.js';
import { smtpLabel } from './smtp.js';

/**
 * The read side for the console (`GET /api/v1/delivery`, admin): per-target health (last success,
 * last error, consecutive failures, next attempt), the last offload batches (state — 'failed'
 * after the configured attempts —, count, attempts, error, next attempt, manifest), export and
 * notification counters with recent failures (attempts, last error, next attempt). Everything comes from the store, so the API can
 * also call `db.offload.status()` directly; this adds the JSON shape (ISO dates, no CSV bodies).
 */

export type DeliveryStatusView = ReturnType<typeof toView>;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function toView(s: DeliveryStatus) {
  return {
    targets: s.targets.map((t) => ({
      ...t,
      lastOkAt: iso(t.lastOkAt),
      lastErrorAt: iso(t.lastErrorAt),
      nextAttemptAt: iso(t.nextAttemptAt),
    })),
    offload: {
      queued: s.offload.queued,
      failed: s.offload.failed,
      batches: s.offload.batches.map((b) => ({
        id: b.id,
        seq: b.seq,
        csv: b.csvName,
        count: b.count,
        state: b.state,
        attempts: b.attempts,
        lastError: b.lastError,
        cutAt: iso(b.cutAt),
        startedAt: iso(b.startedAt),
        finishedAt: iso(b.finishedAt),
        nextAttemptAt: b.state === 'done' || b.state === 'failed' ? null : iso(b.nextAttemptAt),
        manifest: b.manifest,
      })),
    },
    export: {
      ...s.export,
      recentFailures: s.export.recentFailures.map((f) => ({
        ...f,
        exportedAt: iso(f.exportedAt),
        nextAttemptAt: iso(f.nextAttemptAt),
      })),
    },
    notifications: {
      ...s.notifications,
      recentFailures: s.notifications.recentFailures.map((f) => ({
        ...f,
        nextAttemptAt: iso(f.nextAttemptAt),
      })),
    },
    journal: {
      ...s.journal,
      recentFailures: s.journal.recentFailures.map((f) => ({ ...f, nextAttemptAt: iso(f.nextAttemptAt) })),
    },
  };
}

export async function deliveryStatus(repo: Pick<OffloadRepository, 'status'>) {
  return toView(await repo.status());
}

/** One sample of a metric family: labels and value (src/api/metrics.ts `Sample`). */
export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

/**
 * Where the delivery metrics are registered: the server's Prometheus registry
 * (src/api/metrics.ts `Metrics`, which delivery does not import) has this method.
 */
export interface MetricsRegistry {
  collect(
    name: string,
    help: string,
    type: 'gauge',
    fn: () => Promise<MetricSample[]> | MetricSample[],
  ): void;
}

/**
 * One read shared by the families it feeds: the collectors of a scrape all call it before it
 * settles (the registry starts them together), so the statement behind every delivery series runs
 * once per scrape. A later scrape joins a read still pending (a stalled database gets no pile of
 * queries) unless it has been pending for `staleMs`; a settled read is never reused.
 */
export function sharedRead<T>(read: () => Promise<T>, staleMs = 60_000): () => Promise<T> {
  let pending: { at: number; p: Promise<T> } | undefined;
  return () => {
    if (pending && Date.now() - pending.at < staleMs) return pending.p;
    const mine = { at: Date.now(), p: read() };
    pending = mine;
    const done = () => {
      if (pending === mine) pending = undefined;
    };
    mine.p.then(done, done);
    return mine.p;
  };
}

/** The delivery settings the metrics read: which features run, and where they deliver. */
export type DeliveryMetricsConfig = Pick<Config, 'offload' | 'export' | 'notifications'> &
  Partial<Pick<Config, 'journal'>>;

/**
 * A target's health name as metric labels: its kind (sftp, ftp, s3, local, smtp) and where it is,
 * without the user (`user[:password]@`) of any URL in it nor a query string.
 */
export function targetLabels(name: string): { kind: string; destination: string } {
  const i = name.indexOf(':');
  return {
    kind: i > 0 ? name.slice(0, i) : 'unknown',
    destination: name
      .slice(i + 1)
      .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1')
      .replace(/\?\S*/g, ''),
  };
}

/** The health names (delivery_targets) of the features that run, by feature; no duplicate pair. */
function configuredTargets(c: DeliveryMetricsConfig): { feature: string; name: string }[] {
  const out: { feature: string; name: string }[] = [];
  const add = (feature: string, names: string[]) => {
    for (const name of names)
      if (!out.some((t) => t.feature === feature && t.name === name)) out.push({ feature, name });
  };
  if (c.offload.enabled && c.offload.audio) {
    add('offload', destinationLabels(c.offload.audio));
    if (c.offload.metadata) add('offload', destinationLabels(c.offload.metadata));
  }
  if (c.export.enabled && c.export.primary) {
    add('export', exportLabels(c.export.primary));
    if (c.export.secondary) add('export', exportLabels(c.export.secondary));
  }
  const smtp = c.notifications.smtp;
  if (c.notifications.enabled && smtp) add('notifications', [smtpLabel(smtp)]);
  if (c.journal?.enabled && c.journal.smtp) add('journal', [smtpLabel(c.journal.smtp)]);
  return out;
}

/**
 * The delivery metrics (docs/operations.md, "Delivery metrics"): `srs_delivery_enabled{feature}`
 * always; the series of a feature only while it runs (as startDelivery decides), all read from one
 * statement per scrape. When that statement fails or stalls, the scrape leaves these series out
 * and serves the others (Metrics.render).
 */
export function registerDeliveryMetrics(
  m: MetricsRegistry,
  repo: Pick<OffloadRepository, 'deliveryMetrics'>,
  config: DeliveryMetricsConfig,
): void {
  const on = {
    offload: config.offload.enabled && Boolean(config.offload.audio),
    export: config.export.enabled && Boolean(config.export.primary),
    notifications: config.notifications.enabled && Boolean(config.notifications.smtp),
    journal: Boolean(config.journal?.enabled && config.journal.smtp && config.journal.to),
  };
  m.collect(
    'srs_delivery_enabled',
    'Whether a delivery feature (offload, export, notifications, journal) is configured and running: 1 or 0.',
    'gauge',
    () => Object.entries(on).map(([feature, v]) => ({ labels: { feature }, value: v ? 1 : 0 })),
  );
  if (!on.offload && !on.export && !on.notifications && !on.journal) return;
  const targets = configuredTargets(config);
  const exportTo: ExportDestination[] = !on.export
    ? []
    : config.export.secondary
      ? ['primary', 'secondary']
      : ['primary'];
  const read = sharedRead(() =>
    repo.deliveryMetrics({
      offload: on.offload,
      targets: targets.map((t) => t.name),
      exportTo,
      notifications: on.notifications,
      journal: on.journal,
    }),
  );
  const gauge = (name: string, help: string, f: (d: DeliveryMetrics) => MetricSample[]) =>
    m.collect(name, help, 'gauge', async () => f(await read()));
  if (on.offload) {
    type Offload = NonNullable<DeliveryMetrics['offload']>;
    const offload = (name: string, help: string, f: (o: Offload) => MetricSample[]) =>
      gauge(name, help, (d) => (d.offload ? f(d.offload) : []));
    offload('srs_offload_batches', 'Offload batches by state (queued, transferring, done, failed).', (o) =>
      Object.entries(o.batches).map(([state, value]) => ({ labels: { state }, value })),
    );
    offload(
      'srs_offload_oldest_pending_age_seconds',
      'Seconds since the oldest offload batch not done (queued, transferring, failed) was cut; 0 when none.',
      (o) => [{ value: Math.round(o.oldestPendingAgeSeconds * 1000) / 1000 }],
    );
    offload(
      'srs_offload_last_success_timestamp_seconds',
      'When the last offload batch was confirmed done (unix seconds); 0 when none ever was.',
      (o) => [{ value: Math.floor(o.lastDoneAt ?? 0) }],
    );
    offload(
      'srs_offload_failed_attempts',
      'Failed transfer attempts of the offload batches not done (from the table; a manual retry resets them).',
      (o) => [{ value: o.failedAttempts }],
    );
  }
  // The configured targets that have a health row, in configuration order; two names that differ
  // only in what the labels leave out (the user) make one series, the worse of the two.
  type Target = DeliveryMetrics['targets'][number];
  const health =
    (f: (t: Target) => number, worse: (a: number, b: number) => number) => (d: DeliveryMetrics) => {
      const out = new Map<string, MetricSample>();
      for (const { feature, name } of targets) {
        const t = d.targets.find((x) => x.name === name);
        if (!t) continue;
        const labels = { feature, ...targetLabels(name) };
        const key = JSON.stringify(labels);
        const prev = out.get(key);
        out.set(key, { labels, value: prev ? worse(prev.value, f(t)) : f(t) });
      }
      return [...out.values()];
    };
  gauge(
    'srs_delivery_destination_up',
    'Health of a delivery destination once tried: 1 ok, 0 failing (by feature, kind, destination).',
    health((t) => (t.ok ? 1 : 0), Math.min),
  );
  gauge(
    'srs_delivery_destination_failures',
    'Consecutive failures of a delivery destination (0 when ok).',
    health((t) => (t.ok ? 0 : t.failures), Math.max),
  );
  if (on.export) {
    const perDest = (f: (e: DeliveryMetrics['export'][number]) => number) => (d: DeliveryMetrics) =>
      d.export.map((e) => ({ labels: { destination: e.destination }, value: f(e) }));
    gauge(
      'srs_export_backlog',
      'Stored recordings waiting to be exported to a destination (not yet tried, or waiting for a retry).',
      perDest((e) => e.backlog),
    );
    gauge(
      'srs_export_last_success_timestamp_seconds',
      'When the last recording was exported to a destination (unix seconds); 0 when none ever was.',
      perDest((e) => Math.floor(e.lastDoneAt ?? 0)),
    );
    gauge(
      'srs_export_failed',
      'Export items failed for good (after maxAttempts), waiting for a manual retry.',
      perDest((e) => e.failed),
    );
    gauge(
      'srs_export_retrying',
      'Export items that failed at least once and wait for their next attempt.',
      perDest((e) => e.retrying),
    );
  }
  if (on.notifications)
    gauge('srs_notifications', 'Email notifications by state (pending, sent, failed).', (d) =>
      Object.entries(d.notifications ?? {}).map(([state, value]) => ({ labels: { state }, value })),
    );
  if (on.journal)
    gauge('srs_journal_messages', 'SMTP journal messages by state (pending, sent, failed).', (d) =>
      Object.entries(d.journal ?? {}).map(([state, value]) => ({ labels: { state }, value })),
    );
}
