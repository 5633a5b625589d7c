/**
 * The security and failure metrics: each source gives its series (names, labels, values as the
 * exposition shows them), a source the server does not have registers nothing, and a source that
 * has nothing to say yet (no edge, no disk reading) gives a family without samples.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/api/metrics.js';
import { registerSafetyMetrics, type SafetySources } from '../../src/api/safety-metrics.js';

const render = async (s: SafetySources): Promise<string[]> => {
  const m = new Metrics();
  registerSafetyMetrics(m, s);
  return (await m.render()).split('\n').filter((l) => l && !l.startsWith('# HELP'));
};

describe('safety metrics', () => {
  it('reads every source at scrape time, in exposition order', async () => {
    let retries = 1;
    const lines = await render({
      media: () => ({ packetsRejected: 3, spoolDamagedMs: 12.6 }),
      refused: () => new Map([['source-not-allowed', 2]]),
      connections: () => ({
        refusedTotal: 1,
        refusedPerAddress: 2,
        refusedNotAllowed: 6,
        oversizedHeaders: 3,
        headerTimeouts: 4,
        messageTimeouts: 7,
        open: 5,
      }),
      endedByServer: () => new Map([['rtp-timeout', 7]]),
      disk: () => ({ freeMb: 1234.7, refuse: null }),
      refusing: () => 'disk below SRS_MIN_FREE_MB',
      eventsDropped: () => 11,
      spoolQueue: () => ({ bytes: 100, peak: 200, dropped: 1 }),
      handoffRetries: () => retries++,
    });
    assert.deepEqual(lines, [
      '# TYPE srs_rtp_packets_rejected_total counter',
      'srs_rtp_packets_rejected_total 3',
      '# TYPE srs_spool_write_errors_total counter',
      'srs_spool_write_errors_total 0',
      '# TYPE srs_spool_damaged_ms_total counter',
      'srs_spool_damaged_ms_total 13',
      '# TYPE srs_sip_refused_total counter',
      'srs_sip_refused_total{reason="source-not-allowed"} 2',
      '# TYPE srs_sip_connections_refused_total counter',
      'srs_sip_connections_refused_total{reason="total-limit"} 1',
      'srs_sip_connections_refused_total{reason="per-address-limit"} 2',
      'srs_sip_connections_refused_total{reason="source-not-allowed"} 6',
      'srs_sip_connections_refused_total{reason="oversized-headers"} 3',
      'srs_sip_connections_refused_total{reason="header-timeout"} 4',
      'srs_sip_connections_refused_total{reason="message-timeout"} 7',
      '# TYPE srs_sip_connections_open gauge',
      'srs_sip_connections_open 5',
      '# TYPE srs_calls_ended_by_server_total counter',
      'srs_calls_ended_by_server_total{reason="rtp-timeout"} 7',
      '# TYPE srs_disk_free_mb gauge',
      'srs_disk_free_mb 1234',
      '# TYPE srs_refusing_calls gauge',
      'srs_refusing_calls 1',
      '# TYPE srs_media_events_dropped_total counter',
      'srs_media_events_dropped_total 11',
      '# TYPE srs_spool_queue_bytes gauge',
      'srs_spool_queue_bytes 100',
      '# TYPE srs_spool_queue_peak_bytes gauge',
      'srs_spool_queue_peak_bytes 200',
      '# TYPE srs_spool_batches_dropped_total counter',
      'srs_spool_batches_dropped_total 1',
      '# TYPE srs_handoff_retries_total counter',
      'srs_handoff_retries_total 1',
    ]);
  });

  it('registers only the sources given; an empty reading gives no sample', async () => {
    assert.deepEqual(await render({}), []);
    assert.deepEqual(
      await render({
        connections: () => null,
        disk: () => ({ freeMb: null, refuse: null }),
        refusing: () => null,
      }),
      [
        '# TYPE srs_sip_connections_refused_total counter',
        '# TYPE srs_sip_connections_open gauge',
        '# TYPE srs_disk_free_mb gauge',
        '# TYPE srs_refusing_calls gauge',
        'srs_refusing_calls 0',
      ],
    );
  });
});

describe('metrics: a collector that does not answer', () => {
  it('is left out of the scrape after 2 s; the other families are rendered', async () => {
    const m = new Metrics();
    m.collect(
      'srs_stuck',
      'Waits on a stalled database.',
      'gauge',
      () => new Promise<never>(() => undefined),
    );
    m.collect('srs_fine', 'Answers.', 'gauge', () => [{ value: 7 }]);
    const started = Date.now();
    const text = await m.render();
    const took = Date.now() - started;
    assert.ok(took >= 1900 && took < 4000, `rendered after ${took} ms`);
    assert.match(text, /^srs_fine 7$/m);
    assert.match(text, /^# TYPE srs_stuck gauge$/m);
    assert.doesNotMatch(text, /^srs_stuck /m);
  });
});
