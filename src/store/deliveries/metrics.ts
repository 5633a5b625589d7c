import type pg from 'pg';
import type { DeliveryMetrics, OffloadBatch, OffloadRepository } from './types.js';

/**
 * The delivery figures /metrics shows (src/delivery/status.ts), read in one statement per scrape:
 * counts by state, the oldest batch not done, the last successes, the health of the configured
 * targets and the export backlog. A feature that is off costs nothing (its part is skipped).
 *
 * Cost: offload_batches has one row per interval (a few thousand a year); delivery_targets a row
 * per destination; notifications, journal_messages and export_items a row per recording, counted by state as the
 * console's status does, from delivery_counts (kept by triggers, migration 044), not over the
 * tables. The export backlog is its pending items plus the recordings stored since its scan's
 * position (migration 043) without an item: the exporter's own view of its work.
 */

export type MetricsRepository = Pick<OffloadRepository, 'deliveryMetrics'>;

const SQL = `
WITH b AS (
  SELECT state, count(*)::int AS n, min(created_at) AS oldest, max(finished_at) AS last_done,
         sum(attempts - (state = 'transferring')::int)::int AS tries
  FROM offload_batches WHERE $1::boolean GROUP BY state
), n AS (
  SELECT state, n::int AS n FROM delivery_counts WHERE $4::boolean AND kind = 'notifications'
), j AS (
  SELECT state, n::int AS n FROM delivery_counts WHERE $5::boolean AND kind = 'journal'
), x AS (
  SELECT d.dest AS destination,
         coalesce((SELECT c.n FROM delivery_counts c WHERE c.kind = 'export:' || d.dest AND c.state = 'failed'), 0)::int
           AS failed,
         (SELECT count(*) FROM export_items e
          WHERE e.destination = d.dest AND e.state = 'pending' AND e.last_error IS NOT NULL)::int AS retrying,
         extract(epoch FROM (SELECT max(e.exported_at) FROM export_items e
                             WHERE e.destination = d.dest AND e.state = 'done'))::float8 AS last_done
  FROM unnest($3::text[]) AS d (dest)
)
SELECT
  $1::boolean AS offload,
  (SELECT coalesce(json_object_agg(state, n), '{}') FROM b) AS batches,
  (SELECT coalesce(extract(epoch FROM now() - min(oldest)), 0)::float8 FROM b WHERE state <> 'done') AS oldest_age,
  (SELECT extract(epoch FROM max(last_done))::float8 FROM b WHERE state = 'done') AS last_done,
  (SELECT coalesce(sum(tries), 0)::int FROM b WHERE state <> 'done') AS failed_attempts,
  (SELECT coalesce(json_agg(json_build_object('name', t.name, 'ok', t.ok, 'failures', t.failures)
            ORDER BY t.name), '[]')
     FROM delivery_targets t WHERE t.name = ANY($2::text[])) AS targets,
  (SELECT coalesce(json_agg(json_build_object(
            'destination', d.dest,
            'failed', coalesce(x.failed, 0),
            'retrying', coalesce(x.retrying, 0),
            'lastDoneAt', x.last_done,
            'backlog', (SELECT count(*) FROM export_items e JOIN recordings r ON r.id = e.recording_id
                        JOIN delivery_cursors c ON c.name = 'export' AND r.stored_at >= c.since
                        WHERE e.destination = d.dest AND e.state = 'pending' AND r.state = 'stored')
                     + (SELECT count(*) FROM recordings r
                        WHERE r.state = 'stored'
                          -- A value, not a join: the range is read through the stored_at index.
                          AND r.stored_at >= (SELECT greatest(c.since, s.scanned_to) FROM delivery_cursors c
                                              LEFT JOIN delivery_scans s ON s.name = 'export:' || d.dest
                                              WHERE c.name = 'export')
                          AND NOT EXISTS (SELECT 1 FROM export_items e WHERE e.recording_id = r.id
                                            AND e.destination = d.dest)))
            ORDER BY d.ord), '[]')
     FROM unnest($3::text[]) WITH ORDINALITY AS d (dest, ord) LEFT JOIN x ON x.destination = d.dest) AS export,
  $4::boolean AS notify,
  (SELECT coalesce(json_object_agg(state, n), '{}') FROM n) AS notifications,
  $5::boolean AS journal_on,
  (SELECT coalesce(json_object_agg(state, n), '{}') FROM j) AS journal`;

interface Row {
  offload: boolean;
  batches: Record<string, number>;
  oldest_age: number;
  last_done: number | null;
  failed_attempts: number;
  targets: DeliveryMetrics['targets'];
  export: DeliveryMetrics['export'];
  notify: boolean;
  notifications: Record<string, number>;
  journal_on: boolean;
  journal: Record<string, number>;
}

const BATCH_STATES: OffloadBatch['state'][] = ['queued', 'transferring', 'done', 'failed'];

export function metricsRepository(pool: pg.Pool): MetricsRepository {
  return {
    async deliveryMetrics(o) {
      const r = (
        await pool.query<Row>(SQL, [o.offload, o.targets, o.exportTo, o.notifications, o.journal ?? false])
      ).rows[0] as Row;
      const count = (m: Record<string, number>, s: string) => Number(m[s] ?? 0);
      return {
        offload: r.offload
          ? {
              batches: Object.fromEntries(BATCH_STATES.map((s) => [s, count(r.batches, s)])) as Record<
                OffloadBatch['state'],
                number
              >,
              oldestPendingAgeSeconds: r.oldest_age,
              lastDoneAt: r.last_done,
              failedAttempts: r.failed_attempts,
            }
          : null,
        targets: r.targets,
        export: r.export.map((e) => ({ ...e, backlog: Number(e.backlog) })),
        notifications: r.notify
          ? {
              pending: count(r.notifications, 'pending'),
              sent: count(r.notifications, 'sent'),
              failed: count(r.notifications, 'failed'),
            }
          : null,
        journal: r.journal_on
          ? {
              pending: count(r.journal, 'pending'),
              sent: count(r.journal, 'sent'),
              failed: count(r.journal, 'failed'),
            }
          : null,
      };
    },
  };
}
