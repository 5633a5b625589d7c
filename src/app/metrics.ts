/** The metrics read from the parts at scrape time that app.ts wires (docs/operations.md). */
import type { Metrics } from '../api/metrics.js';
import { registerSafetyMetrics } from '../api/safety-metrics.js';
import type { MediaEngine } from '../media/types.js';
import { capacityMetrics, type Pipeline, type PipelineCapacity } from '../pipeline/index.js';
import type { CallGuards } from '../recording/guards.js';
import type { RecordingService } from '../recording/service.js';
import type { Admission } from '../sip/app/admission.js';
import type { SipEdge } from '../sip/edge/index.js';
import { DEFAULT_SETTINGS, permits, type PermissionLevel } from '../api/kit.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { startOverdueReports } from '../pipeline/retention-overdue.js';
import type { RetentionPolicy } from '../pipeline/retention.js';
import type { Database } from '../store/db.js';
import type { DatabaseHealth } from '../store/health.js';
import type { Role } from '../store/users.js';
import { VERSION } from './version.js';

/** srs_build_info{version} 1: which build a node runs (after an upgrade). */
export function buildInfoMetric(m: Metrics): void {
  m.collect('srs_build_info', 'The version this node runs (label version); always 1.', 'gauge', () => [
    { labels: { version: VERSION }, value: 1 },
  ]);
}

/** The post-call backlog and the artifact store. */
export function pipelineMetrics(m: Metrics, capacity: PipelineCapacity, pipeline: Pipeline): void {
  capacityMetrics(m, capacity);
  m.collect(
    'srs_storage_deletes_refused_total',
    'Deletions of recording files the artifact store refused (Object Lock retention not expired).',
    'counter',
    () => [{ value: pipeline.deletesRefused() }],
  );
  m.collect(
    'srs_retention_removals_failed_total',
    'Attempts to remove a file of a purged recording that failed (the pass went on; tried again later).',
    'counter',
    () => [{ value: pipeline.retentionFaults().removalsFailed }],
  );
  m.collect(
    'srs_retention_clock_skew_skips_total',
    'Retention passes skipped because this node clock differed from the database clock by more than 5 minutes.',
    'counter',
    () => [{ value: pipeline.retentionFaults().clockSkewSkips }],
  );
  m.collect(
    'srs_retention_clock_skew_seconds',
    'This node clock minus the database clock at the last retention pass, when it was skipped for it (0 otherwise).',
    'gauge',
    () => [{ value: pipeline.retentionFaults().clockSkewMs / 1000 }],
  );
  m.collect(
    'srs_storage_deletions_pending',
    'Files the artifact store refused to remove (Object Lock, legal hold, errors) still pending at the last retention pass; tried again until removed.',
    'gauge',
    () => [{ value: pipeline.retentionFaults().pendingDeletions }],
  );
  m.collect(
    'srs_storage_waiting_recordings',
    'Recordings whose attempts all found the artifact store unavailable, waiting for it (spools kept).',
    'gauge',
    async () => [{ value: await pipeline.waitingForStore() }],
  );
}

/** The security and failure metrics (src/api/safety-metrics.ts) from the running parts. */
export function serverSafetyMetrics(
  m: Metrics,
  o: {
    engine: MediaEngine;
    admission: Admission;
    edge: SipEdge | null;
    guards: CallGuards;
    recording: RecordingService;
  },
): void {
  const { engine, guards } = o;
  registerSafetyMetrics(m, {
    media: () => engine.mediaTotals(),
    refused: () => o.admission.refused,
    connections: () => o.edge?.connectionLimits ?? null,
    endedByServer: () => guards.endedByServer,
    disk: () => guards.disk.state,
    handoffRetries: () => o.recording.handoffRetries,
    eventsDropped: () => guards.engineHealth.eventsDropped,
    spoolQueue: () => {
      const h = engine.health?.();
      return {
        bytes: h?.spoolQueueBytes ?? 0,
        peak: h?.spoolQueuePeakBytes ?? 0,
        dropped: h?.spoolBatchesDropped ?? 0,
      };
    },
    refusing: guards.refusing,
  });
  m.collect(
    'srs_sip_bye_fallback_total',
    "BYEs whose remote target (the INVITE's Contact) failed (transport error, timeout, 408), by what followed: resent to the INVITE's source, answered there, unanswered there too, or not resent (no source to try).",
    'counter',
    () => {
      const c = o.edge?.byeFallback;
      if (!c) return [];
      return [
        { labels: { outcome: 'resent' }, value: c.resent },
        { labels: { outcome: 'answered' }, value: c.answered },
        { labels: { outcome: 'unanswered' }, value: c.unanswered },
        { labels: { outcome: 'not-resent' }, value: c.notResent },
      ];
    },
  );
}

/**
 * Recordings past their retention that were never stored (retention does not purge them: reported
 * and audited each pass) and whether the database answers. Returns the reports' stop.
 */
export function overdueAndDatabaseMetrics(
  m: Metrics,
  o: {
    db: Pick<Database, 'pool'>;
    retention: { live: { value: RetentionPolicy } };
    dbHealth: Pick<DatabaseHealth, 'answering'>;
    config: Pick<Config, 'retention'>;
    log: Logger;
  },
): () => void {
  const overdue = startOverdueReports({
    pool: o.db.pool,
    policy: () => o.retention.live.value,
    intervalSeconds: o.config.retention.intervalSeconds,
    log: o.log.child({ part: 'pipeline' }),
  });
  m.collect(
    'srs_retention_overdue_unstored_recordings',
    'Recordings past their retention never stored (still processing, or recording with their call ended): not purged, their plaintext spool is still on disk.',
    'gauge',
    () => [{ value: overdue.count() }],
  );
  m.collect(
    'srs_database_up',
    'Whether the database answers (a select 1 every 2 s, given 2 s): 1 or 0.',
    'gauge',
    () => [{ value: o.dbHealth.answering ? 1 : 0 }],
  );
  return () => overdue.stop();
}

/** Whether a user may download audio now (the `permissions.download` setting, read at each call). */
export function mayDownload(
  users: Pick<Database['users'], 'getSetting'>,
): (u: { role: Role }) => Promise<boolean> {
  return async (u) =>
    permits(
      (await users.getSetting<PermissionLevel>('permissions.download')) ??
        DEFAULT_SETTINGS['permissions.download'],
      u.role,
    );
}
