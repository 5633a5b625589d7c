/**
 * The security and failure metrics (docs/security.md, "Metrics to alert on"), read from the parts
 * at scrape time: media ingress rejections, SIP refusals by reason, TCP/TLS limits, calls the
 * server ended itself, disk space, and the end-of-call hand-off retries.
 */
import type { Metrics, Sample } from './metrics.js';

export interface SafetySources {
  media?: () => { packetsRejected?: number; spoolErrors?: number; spoolDamagedMs?: number };
  refused?: () => ReadonlyMap<string, number>;
  connections?: () => {
    refusedTotal: number;
    refusedPerAddress: number;
    refusedNotAllowed: number;
    oversizedHeaders: number;
    headerTimeouts: number;
    messageTimeouts: number;
    open: number;
  } | null;
  endedByServer?: () => ReadonlyMap<string, number>;
  disk?: () => { freeMb: number | null; refuse: string | null };
  handoffRetries?: () => number;
  /** Media events dropped by the engine's bounded queues. */
  eventsDropped?: () => number;
  /** The spool writer thread's queue (bytes now, peak) and batches dropped at its bound. */
  spoolQueue?: () => { bytes: number; peak: number; dropped: number };
  /** Why new calls are refused now (disk, media engine), or null. */
  refusing?: () => string | null;
}

type Source = keyof SafetySources;
/** What a source reads. */
type Reading<K extends Source> = ReturnType<NonNullable<SafetySources[K]>>;

/** One metric read from one source; registered only when the server has that source. */
interface SafetyMetric {
  source: Source;
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: (s: Required<SafetySources>) => Sample[];
}

function metric<K extends Source>(
  source: K,
  name: string,
  type: SafetyMetric['type'],
  help: string,
  samples: (x: Reading<K>) => Sample[],
): SafetyMetric {
  return { source, name, type, help, samples: (s) => samples((s[source] as () => Reading<K>)()) };
}

const one = (value: number): Sample[] => [{ value }];
const byReason = (counts: ReadonlyMap<string, number>): Sample[] =>
  [...counts].map(([reason, value]) => ({ labels: { reason }, value }));

/** The `reason` label of each connection limit counter. */
const CONNECTION_LIMITS = [
  ['total-limit', 'refusedTotal'],
  ['per-address-limit', 'refusedPerAddress'],
  ['source-not-allowed', 'refusedNotAllowed'],
  ['oversized-headers', 'oversizedHeaders'],
  ['header-timeout', 'headerTimeouts'],
  ['message-timeout', 'messageTimeouts'],
] as const;

/** In exposition order. */
const SAFETY_METRICS: readonly SafetyMetric[] = [
  metric(
    'media',
    'srs_rtp_packets_rejected_total',
    'counter',
    'RTP/RTCP datagrams dropped because they came from a source other than the latched SRC.',
    (x) => one(x.packetsRejected ?? 0),
  ),
  metric(
    'media',
    'srs_spool_write_errors_total',
    'counter',
    'Spool batches that could not be written (disk full, I/O error): audio lost, cut back, never torn.',
    (x) => one(x.spoolErrors ?? 0),
  ),
  metric(
    'media',
    'srs_spool_damaged_ms_total',
    'counter',
    'Audio (ms) lost to spool write failures, marked as damaged spans on the recordings.',
    (x) => one(Math.round(x.spoolDamagedMs ?? 0)),
  ),
  metric(
    'refused',
    'srs_sip_refused_total',
    'counter',
    'SIPREC INVITEs refused by admission, by reason.',
    byReason,
  ),
  metric(
    'connections',
    'srs_sip_connections_refused_total',
    'counter',
    'SIP TCP/TLS connections refused or closed by a limit, by reason.',
    (x) => (x ? CONNECTION_LIMITS.map(([reason, key]) => ({ labels: { reason }, value: x[key] })) : []),
  ),
  metric('connections', 'srs_sip_connections_open', 'gauge', 'Inbound SIP TCP/TLS connections open.', (x) =>
    x ? one(x.open) : [],
  ),
  metric(
    'endedByServer',
    'srs_calls_ended_by_server_total',
    'counter',
    'Calls the server ended itself (BYE to the SRC), by reason.',
    byReason,
  ),
  metric('disk', 'srs_disk_free_mb', 'gauge', 'Free space on the data directory filesystem (MiB).', (x) =>
    x.freeMb === null ? [] : one(Math.floor(x.freeMb)),
  ),
  metric(
    'refusing',
    'srs_refusing_calls',
    'gauge',
    '1 while new calls are refused (disk floor, media engine down).',
    (x) => one(x === null ? 0 : 1),
  ),
  metric(
    'eventsDropped',
    'srs_media_events_dropped_total',
    'counter',
    'Media events (first packet, SSRC change, DTMF) dropped by the bounded event queues.',
    one,
  ),
  metric(
    'spoolQueue',
    'srs_spool_queue_bytes',
    'gauge',
    'Spool bytes waiting for the writer thread (a slow disk shows here).',
    (x) => one(x.bytes),
  ),
  metric(
    'spoolQueue',
    'srs_spool_queue_peak_bytes',
    'gauge',
    'Most spool bytes ever waiting for the writer thread.',
    (x) => one(x.peak),
  ),
  metric(
    'spoolQueue',
    'srs_spool_batches_dropped_total',
    'counter',
    'Spool batches dropped because the writer queue was full (legs marked damaged).',
    (x) => one(x.dropped),
  ),
  metric(
    'handoffRetries',
    'srs_handoff_retries_total',
    'counter',
    'End-of-call hand-offs retried because the database was unavailable.',
    one,
  ),
];

export function registerSafetyMetrics(m: Metrics, s: SafetySources): void {
  const sources = s as Required<SafetySources>;
  for (const d of SAFETY_METRICS)
    if (s[d.source]) m.collect(d.name, d.help, d.type, () => d.samples(sources));
}
