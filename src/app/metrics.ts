/** The metrics read from the parts at scrape time that app.ts wires (docs/operations.md). */
import type { Metrics } from '../api/metrics.js';
import { registerSafetyMetrics } from '../api/safety-metrics.js';
import type { MediaEngine } from '../media/types.js';
import { capacityMetrics, type Pipeline, type PipelineCapacity } from '../pipeline/index.js';
import type { CallGuards } from '../recording/guards.js';
import type { RecordingService } from '../recording/service.js';
import type { Admission } from '../sip/app/admission.js';
import type { SipEdge } from '../sip/edge/index.js';
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
}
