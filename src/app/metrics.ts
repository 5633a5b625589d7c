/** The metrics read from the parts at scrape time that app.ts wires (docs/operations.md). */
import type { Metrics } from '../api/metrics.js';
import { registerSafetyMetrics } from '../api/safety-metrics.js';
import type { MediaEngine } from '../media/types.js';
import { capacityMetrics, type Pipeline, type PipelineCapacity } from '../pipeline/index.js';
import type { CallGuards } from '../recording/guards.js';
import type { RecordingService } from '../recording/service.js';
import type { Admission } from '../sip/app/admission.js';
import type { SipEdge } from '../sip/edge/index.js';

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
