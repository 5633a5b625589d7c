/**
 * The security and failure metrics (docs/security.md, "Metrics to alert on"), read from the parts
 * at scrape time: media ingress rejections, SIP refusals by reason, TCP/TLS limits, calls the
 * server ended itself, disk space, and the end-of-call hand-off retries.
 */
import type { Metrics } from './metrics.js';

export interface SafetySources {
  media?: () => { packetsRejected?: number; spoolErrors?: number; spoolDamagedMs?: number };
  refused?: () => ReadonlyMap<string, number>;
  connections?: () => {
    refusedTotal: number;
    refusedPerAddress: number;
    oversizedHeaders: number;
    headerTimeouts: number;
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

export function registerSafetyMetrics(m: Metrics, s: SafetySources): void {
  if (s.media) {
    const media = s.media;
    m.collect(
      'srs_rtp_packets_rejected_total',
      'RTP/RTCP datagrams dropped because they came from a source other than the latched SRC.',
      'counter',
      () => [{ value: media().packetsRejected ?? 0 }],
    );
    m.collect(
      'srs_spool_write_errors_total',
      'Spool batches that could not be written (disk full, I/O error): audio lost, cut back, never torn.',
      'counter',
      () => [{ value: media().spoolErrors ?? 0 }],
    );
    m.collect(
      'srs_spool_damaged_ms_total',
      'Audio (ms) lost to spool write failures, marked as damaged spans on the recordings.',
      'counter',
      () => [{ value: Math.round(media().spoolDamagedMs ?? 0) }],
    );
  }
  if (s.refused) {
    const refused = s.refused;
    m.collect('srs_sip_refused_total', 'SIPREC INVITEs refused by admission, by reason.', 'counter', () =>
      [...refused()].map(([reason, value]) => ({ labels: { reason }, value })),
    );
  }
  if (s.connections) {
    const c = s.connections;
    m.collect(
      'srs_sip_connections_refused_total',
      'SIP TCP/TLS connections refused or closed by a limit, by reason.',
      'counter',
      () => {
        const x = c();
        if (!x) return [];
        return [
          { labels: { reason: 'total-limit' }, value: x.refusedTotal },
          { labels: { reason: 'per-address-limit' }, value: x.refusedPerAddress },
          { labels: { reason: 'oversized-headers' }, value: x.oversizedHeaders },
          { labels: { reason: 'header-timeout' }, value: x.headerTimeouts },
        ];
      },
    );
    m.collect('srs_sip_connections_open', 'Inbound SIP TCP/TLS connections open.', 'gauge', () => {
      const x = c();
      return x ? [{ value: x.open }] : [];
    });
  }
  if (s.endedByServer) {
    const e = s.endedByServer;
    m.collect(
      'srs_calls_ended_by_server_total',
      'Calls the server ended itself (BYE to the SRC), by reason.',
      'counter',
      () => [...e()].map(([reason, value]) => ({ labels: { reason }, value })),
    );
  }
  if (s.disk) {
    const d = s.disk;
    m.collect('srs_disk_free_mb', 'Free space on the data directory filesystem (MiB).', 'gauge', () => {
      const x = d();
      return x.freeMb === null ? [] : [{ value: Math.floor(x.freeMb) }];
    });
  }
  if (s.refusing) {
    const r = s.refusing;
    m.collect(
      'srs_refusing_calls',
      '1 while new calls are refused (disk floor, media engine down).',
      'gauge',
      () => [{ value: r() === null ? 0 : 1 }],
    );
  }
  if (s.eventsDropped) {
    const e = s.eventsDropped;
    m.collect(
      'srs_media_events_dropped_total',
      'Media events (first packet, SSRC change, DTMF) dropped by the bounded event queues.',
      'counter',
      () => [{ value: e() }],
    );
  }
  if (s.spoolQueue) {
    const q = s.spoolQueue;
    m.collect(
      'srs_spool_queue_bytes',
      'Spool bytes waiting for the writer thread (a slow disk shows here).',
      'gauge',
      () => [{ value: q().bytes }],
    );
    m.collect(
      'srs_spool_queue_peak_bytes',
      'Most spool bytes ever waiting for the writer thread.',
      'gauge',
      () => [{ value: q().peak }],
    );
    m.collect(
      'srs_spool_batches_dropped_total',
      'Spool batches dropped because the writer queue was full (legs marked damaged).',
      'counter',
      () => [{ value: q().dropped }],
    );
  }
  if (s.handoffRetries) {
    const h = s.handoffRetries;
    m.collect(
      'srs_handoff_retries_total',
      'End-of-call hand-offs retried because the database was unavailable.',
      'counter',
      () => [{ value: h() }],
    );
  }
}
