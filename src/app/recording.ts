/**
 * The recording side of the server: the open-files admission, the recording service, recording
 * control (record modes, pause/resume/start/stop), the live recording policy, the call guards
 * (watchdog, disk, media worker) and the SIP admission built on them. Each part registers its stop
 * with `defer` as it starts, in the order the composition root (src/app.ts) always had.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { PortPool } from '../media/index.js';
import type { MediaEngine } from '../media/types.js';
import { wipeDir, type PipelineCapacity, type Pipeline } from '../pipeline/index.js';
import { RecordingService } from '../recording/service.js';
import { RecordingControl } from '../recording/control.js';
import { LivePolicy } from '../recording/live-policy.js';
import { startCallGuards, type CallGuards } from '../recording/guards.js';
import { startDescriptorGuard, type DescriptorGuard } from '../recording/descriptor-guard.js';
import type { Admission } from '../sip/app/admission.js';
import { checkPattern, compilePolicy, type CompiledPolicy } from '../sip/app/policy.js';
import type { Database } from '../store/db.js';
import type { Defer } from './shutdown.js';
import { callAdmission } from './sip.js';

export interface RecordingSideParts {
  config: Config;
  db: Database;
  engine: MediaEngine;
  pipeline: Pipeline;
  capacity: PipelineCapacity;
  /** The capacity's count of live calls: pointed at the recording service once it exists. */
  live: { calls: () => number };
  log: Logger;
  defer: Defer;
}

export interface RecordingSide {
  descriptors: DescriptorGuard;
  recording: RecordingService;
  control: RecordingControl;
  policy: LivePolicy<CompiledPolicy>;
  guards: CallGuards;
  admission: Admission;
}

export async function startRecordingSide(o: RecordingSideParts): Promise<RecordingSide> {
  const { config, db, engine, pipeline, capacity, log, defer } = o;
  // Open-files admission: a call answered without its descriptors would record nothing.
  const descriptors = await startDescriptorGuard({ perStream: config.media.rtcp ? 3 : 2 });
  defer(() => descriptors.stop());
  const recording = new RecordingService({
    engine,
    ports: new PortPool(config.media.portMin, config.media.portMax),
    store: db.recordings,
    finalize: pipeline,
    dataDir: config.dataDir,
    maxSessions: config.limits.maxSessions,
    log,
    rtcp: config.media.rtcp,
    admit: (streams, live) => {
      const noFiles = descriptors.admit(streams, live);
      return noFiles ? { reason: noFiles, retryAfterSeconds: 5 } : capacity.admission();
    },
    relatchMs: config.security.rtpRelatchMs,
    handoffRetryLimit: config.security.handoffRetryLimit,
    // Test only (SRS_TEST_CRASH_AFTER_STEP=call-ended): die between markEnded and the finalize job.
    afterStep: (step) => {
      if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
    },
    catalogueTimeoutMs: config.security.catalogueTimeoutMs,
    forget: async (id: string) => {
      await wipeDir(join(config.dataDir, 'spool', id));
      await db.recordModes.deleteRecording(id);
    },
  });
  defer(() => recording.close());
  // Record modes, pause/resume/start/stop from the API, the monitor and the phone.
  const control = new RecordingControl({
    engine,
    service: recording,
    db,
    dataDir: config.dataDir,
    wipeDir,
    log: log.child({ part: 'control' }),
  });
  await control.init();
  recording.useControl(control);
  defer(() => control.close());
  // The recording policy: the configured one until an admin saves one (re-read every 10 s).
  const policy = new LivePolicy({
    defaults: config.policy,
    settings: db.users,
    compile: compilePolicy,
    checkPattern,
    log: log.child({ part: 'policy' }),
  });
  await policy.init();
  defer(() => policy.close());
  o.live.calls = () => recording.activeCount;
  const guards = startCallGuards({
    security: config.security,
    dataDir: config.dataDir,
    recording,
    engine,
    log,
    descriptors,
  });
  defer(() => guards.stop());
  const admission = callAdmission(config.security, guards.refusing, log);
  return { descriptors, recording, control, policy, guards, admission };
}
