import type { Pool } from 'pg';
import type { Backlog, PipelineCapacity } from './capacity.js';
import { BYE_TO_STORED_BUCKETS } from './capacity.js';
import { lameAddon } from './mp3.js';

/** The capacity's database side and its Prometheus metrics. */

/**
 * The finalize jobs queued, waiting for a retry or running (pg-boss's job id is the recording id),
 * their audio, and the start of the oldest recording whose plaintext spool is still on disk.
 */
/**
 * Every 2 s: read through indexes of the unfinished jobs (srs_job_unfinished_idx, src/pipeline/boss.ts)
 * and recordings (migration 045), never the completed ones (test/unit/catalogue-timer-queries.test.ts).
 */
export const BACKLOG_SQL = `SELECT (SELECT count(*)::int FROM pgboss.job j
                WHERE j.name = $1 AND j.state IN ('created', 'retry', 'active')) AS jobs,
              (SELECT coalesce(sum(r.duration_ms), 0)::float8 FROM pgboss.job j JOIN recordings r ON r.id = j.id
                WHERE j.name = $1 AND j.state IN ('created', 'retry', 'active')) AS ms,
              (SELECT min(started_at) FROM recordings WHERE state IN ('recording', 'processing')) AS oldest`;

export function backlogFromDatabase(pool: Pick<Pool, 'query'>, queue: string): () => Promise<Backlog> {
  return async () => {
    const r = await pool.query<{ jobs: number; ms: number; oldest: Date | null }>(BACKLOG_SQL, [queue]);
    const row = r.rows[0];
    return {
      jobs: row?.jobs ?? 0,
      audioSeconds: (row?.ms ?? 0) / 1000,
      oldestSpoolStartedAt: row?.oldest ?? null,
    };
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
    'Age of the oldest plaintext spool on disk (live or waiting calls).',
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
