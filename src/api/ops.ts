import type { SessionStats } from '../media/types.js';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';
import { Metrics } from './metrics.js';

/**
 * The server's Prometheus metrics: read from the parts at scrape time (active calls, media
 * counters, jobs, SIP responses) or counted from their events (calls, calls per second).
 */

export interface OpsSources {
  live: {
    readonly activeCount: number;
    activeCalls(): ActiveCall[];
    on(event: 'event', l: (e: RecordingEvent) => void): unknown;
    off(event: 'event', l: (e: RecordingEvent) => void): unknown;
    /** Packet totals of every recorded stream since the start, in one call (the media engine's). */
    mediaTotals?(): { packetsReceived: number; packetsLost: number };
    /** SRTP packets dropped since the start: failed authentication, replayed. */
    srtpTotals?(): { authFailures: number; replayDrops: number };
  };
  /** A live call's media counters: summed at scrape time when `live.mediaTotals` is absent. */
  stats: (recordingId: string) => SessionStats | undefined;
  /** Job counts by pg-boss state (created, retry, active, completed, failed, ...). */
  jobs?: () => Promise<Record<string, number>>;
  /** SIP responses sent, by status code. */
  sipResponses?: () => ReadonlyMap<number, number>;
  /** Live monitor figures. */
  monitor?: () => { clients: number; listeners: number };
}

export interface Ops {
  readonly metrics: Metrics;
  /** Record one listen-in frame's latency (ms from audio arrival to the frame sent). */
  audioLatency(ms: number): void;
  close(): void;
}

const LATENCY_BUCKETS = [50, 100, 150, 200, 300, 500, 1000];

export function instrument(s: OpsSources): Ops {
  const m = new Metrics();
  const callsTotal = m.counter('srs_calls_total', 'Recording sessions started.');
  const ended = m.counter('srs_calls_ended_total', 'Recording sessions ended.');
  const starts: number[] = [];
  const onEvent = (e: RecordingEvent): void => {
    if (e.type === 'call-start') {
      callsTotal();
      starts.push(Date.now());
      if (starts.length > 100_000) starts.splice(0, starts.length - 100_000);
    } else if (e.type === 'call-end') {
      ended();
    }
  };
  s.live.on('event', onEvent);

  m.collect('srs_active_calls', 'Calls being recorded now.', 'gauge', () => [{ value: s.live.activeCount }]);
  m.collect('srs_calls_per_second', 'Calls started per second, averaged over the last 10 s.', 'gauge', () => {
    const since = Date.now() - 10_000;
    let n = 0;
    for (let i = starts.length - 1; i >= 0 && (starts[i] as number) >= since; i--) n++;
    return [{ value: n / 10 }];
  });
  // Read at scrape time only, never polled per call: the engine keeps totals over every session
  // (ended ones included) and hands them over in one call.
  const media = (): { rx: number; lost: number } => {
    if (s.live.mediaTotals) {
      const t = s.live.mediaTotals();
      return { rx: t.packetsReceived, lost: t.packetsLost };
    }
    let rx = 0;
    let lost = 0;
    for (const c of s.live.activeCalls()) {
      for (const l of s.stats(c.recordingId)?.legs ?? []) {
        rx += l.packetsReceived;
        lost += l.packetsLost;
      }
    }
    return { rx, lost };
  };
  m.collect('srs_rtp_packets_received_total', 'RTP packets received on recorded streams.', 'counter', () => [
    { value: media().rx },
  ]);
  m.collect(
    'srs_rtp_packets_lost_total',
    'RTP packets lost (sequence gaps) on recorded streams.',
    'counter',
    () => [{ value: media().lost }],
  );
  if (s.live.srtpTotals) {
    const srtp = s.live.srtpTotals.bind(s.live);
    m.collect(
      'srs_srtp_auth_failures_total',
      'SRTP/SRTCP packets that failed authentication (wrong key or tampered), dropped.',
      'counter',
      () => [{ value: srtp().authFailures }],
    );
    m.collect('srs_srtp_replay_drops_total', 'SRTP packets dropped as replays.', 'counter', () => [
      { value: srtp().replayDrops },
    ]);
  }
  if (s.jobs) {
    const jobs = s.jobs;
    m.collect(
      'srs_jobs_queued',
      'Post-call jobs waiting (created or waiting for retry).',
      'gauge',
      async () => {
        const j = await jobs();
        return [{ value: (j.created ?? 0) + (j.retry ?? 0) }];
      },
    );
    m.collect('srs_jobs_active', 'Post-call jobs running.', 'gauge', async () => [
      { value: (await jobs()).active ?? 0 },
    ]);
    m.collect(
      'srs_jobs_failed',
      'Post-call jobs that failed for good (kept by pg-boss).',
      'gauge',
      async () => [{ value: (await jobs()).failed ?? 0 }],
    );
  }
  if (s.sipResponses) {
    const sip = s.sipResponses;
    m.collect('srs_sip_responses_total', 'SIP responses sent, by status code.', 'counter', () =>
      [...sip()].map(([code, n]) => ({ labels: { code: String(code) }, value: n })),
    );
  }
  if (s.monitor) {
    const mon = s.monitor;
    m.collect('srs_monitor_clients', 'Live monitor WebSocket clients.', 'gauge', () => [
      { value: mon().clients },
    ]);
    m.collect('srs_monitor_listeners', 'Clients listening to a live call.', 'gauge', () => [
      { value: mon().listeners },
    ]);
  }
  const audioLatency = m.histogram(
    'srs_listen_latency_ms',
    'Listen-in latency: audio arrival to frame sent (ms).',
    LATENCY_BUCKETS,
  );

  return {
    metrics: m,
    audioLatency,
    close() {
      s.live.off('event', onEvent);
    },
  };
}
