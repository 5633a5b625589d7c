import type { Database } from '../store/db.js';
import { finalizeBacklog } from '../store/jobs.js';
import type { Backlog, PipelineCapacity } from './capacity.js';
import { BYE_TO_STORED_BUCKETS } from './capacity.js';
import { lameAddon } from './mp3.js';
import { spoolIsHere } from './routing.js';

/** The capacity's database side and its Prometheus metrics. */

/**
 * The finalize jobs of `queue` queued, waiting for a retry or running, their audio, and the start
 * of the oldest recording whose plaintext spool is still on disk (src/store/jobs.ts, BACKLOG_SQL):
 * a recording still recording or processing, or a failed one (its finalize gave up) whose spool is
 * in `dataDir` (a failed recording's spool stays until retention or a deletion wipes it).
 */
export function backlogFromDatabase(
  pool: Pick<Database['pool'], 'query'>,
  queue: string,
  dataDir?: string,
): () => Promise<Backlog> {
  return async () => {
    const b = await finalizeBacklog(pool, queue);
    let oldest = b.oldestSpoolStartedAt;
    if (dataDir)
      for (const f of b.failed) {
        if (oldest && oldest <= f.startedAt) break; // oldest first: none older is left
        if (await spoolIsHere(dataDir, f.id)) {
          oldest = f.startedAt;
          break;
        }
      }
    return { jobs: b.jobs, audioSeconds: b.audioSeconds, oldestSpoolStartedAt: oldest };
  };
}

interface MetricsLike {
  collect(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    fn: () => Array<{ labels?: Record<string, string>; value: number }>,
  ): void;
}

/** Backlog, spool age, capacity in use and the BYE-to-stored histogram (`_bucket`, `_sum`, `_count`). */
export function capacityMetrics(m: MetricsLike, c: PipelineCapacity): void {
  const g = (name: string, help: string, value: () => number) =>
    m.collect(name, help, 'gauge', () => [{ value: value() }]);
  g('srs_backlog_jobs', 'Post-call jobs queued or running.', () => c.snapshot().backlogJobs);
  g(
    'srs_backlog_audio_minutes',
    'Audio minutes of the post-call jobs queued or running.',
    () => c.snapshot().backlogAudioMinutes,
  );
  g(
    'srs_backlog_seconds',
    'Seconds the backlog needs to drain at the measured rate.',
    () => c.snapshot().backlogSeconds,
  );
  g(
    'srs_capacity_in_use',
    'Backlog drain time / SRS_MAX_BACKLOG_SECONDS (1 = new calls refused).',
    () => c.snapshot().inUse,
  );
  g(
    'srs_pipeline_concurrency',
    'Post-call jobs allowed at once (follows the live load).',
    () => c.snapshot().concurrency,
  );
  g(
    'srs_pipeline_borrowable_encodes',
    'MP3 encodes allowed beyond the concurrency, in the background on idle CPU (SCHED_IDLE).',
    () => c.snapshot().borrowable,
  );
  g(
    'srs_pipeline_cpu_seconds_per_audio_minute',
    'Measured CPU cost of the post-call pipeline.',
    () => c.snapshot().costPerAudioMinute,
  );
  g(
    'srs_oldest_plaintext_spool_seconds',
    'Age of the oldest plaintext spool on disk (live or waiting calls, and failed ones whose spool is on this node).',
    () => c.snapshot().oldestSpoolAgeSeconds,
  );
  const lame = lameAddon();
  if (lame)
    m.collect(
      'srs_mp3_encode_cpu_seconds_total',
      'CPU seconds spent encoding MP3 in-process (libmp3lame).',
      'counter',
      () => [{ value: lame.mp3CpuSeconds() }],
    );
  if (lame)
    m.collect(
      'srs_mp3_background_encodes_total',
      'MP3 encodes run in the background (SCHED_IDLE); result="refused": the kernel refused the policy.',
      'counter',
      () => {
        const b = lame.mp3BackgroundEncodes();
        return [
          { labels: { result: 'idle' }, value: b.idle },
          { labels: { result: 'refused' }, value: b.refused },
        ];
      },
    );
  const l = c.latency;
  m.collect(
    'srs_bye_to_stored_seconds_bucket',
    'Seconds from BYE to recording stored, cumulative buckets.',
    'counter',
    () => [
      ...BYE_TO_STORED_BUCKETS.map((b, i) => ({ labels: { le: String(b) }, value: l.buckets[i] as number })),
      { labels: { le: '+Inf' }, value: l.count },
    ],
  );
  m.collect('srs_bye_to_stored_seconds_sum', 'Sum of BYE-to-stored seconds.', 'counter', () => [
    { value: l.sum },
  ]);
  m.collect('srs_bye_to_stored_seconds_count', 'Recordings stored (with a BYE time).', 'counter', () => [
    { value: l.count },
  ]);
}
