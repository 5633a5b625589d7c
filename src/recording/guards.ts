/**
 * The call guards of docs/security.md, started together: the watchdog (RTP inactivity, maximum
 * duration), the disk floors, the media worker's health and the open-files limit. Together they
 * say why new calls are refused now, and they count the calls the server ended itself.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/types.js';
import type { DescriptorGuard } from './descriptor-guard.js';
import { startDiskGuard, type DiskGuard } from './disk-guard.js';
import { startEngineHealth, type EngineHealthMonitor } from './engine-health.js';
import type { RecordingService } from './service.js';
import { startWatchdog } from './watchdog.js';

export interface CallGuardsOptions {
  security: Config['security'];
  dataDir: string;
  recording: RecordingService;
  engine: MediaEngine;
  log: Logger;
  /** Open-files admission (src/recording/descriptor-guard.ts). */
  descriptors?: Pick<DescriptorGuard, 'refusing'>;
}

export interface CallGuards {
  readonly disk: DiskGuard;
  readonly engineHealth: EngineHealthMonitor;
  /** Calls the server ended (BYE to the SRC), by reason, for /metrics. */
  readonly endedByServer: ReadonlyMap<string, number>;
  /** Why new calls are refused now (media engine down, disk floor, open files), or null. */
  refusing(): string | null;
  stop(): void;
}

export function startCallGuards(o: CallGuardsOptions): CallGuards {
  const { security, recording, engine, log } = o;
  // Every call ends: RTP inactivity and maximum duration end calls with a BYE.
  const watchdog = startWatchdog({
    target: recording,
    counters: () => engine.liveCounters(),
    rtpTimeoutSeconds: security.rtpTimeoutSeconds,
    maxDurationSeconds: security.maxDurationSeconds,
  });
  const endedByServer = new Map<string, number>();
  recording.on('event', (e) => {
    if (e.type === 'call-end' && e.reason !== 'bye' && e.reason !== 'not-answered')
      endedByServer.set(e.reason, (endedByServer.get(e.reason) ?? 0) + 1);
  });
  // Disk-full admission: 503 to new calls below SRS_MIN_FREE_MB, live calls ended below SRS_HARD_FREE_MB.
  const disk = startDiskGuard({
    dir: o.dataDir,
    minFreeMb: security.minFreeMb,
    hardFreeMb: security.hardFreeMb,
    minFreeInodes: security.minFreeInodes,
    probe: security.testFreeMbFile
      ? async () => Number((await readFile(security.testFreeMbFile as string, 'utf8')).trim())
      : undefined,
    onHardFloor: (freeMb) => {
      log.error({ freeMb, hardFreeMb: security.hardFreeMb }, 'disk below its hard floor: ending live calls');
      void recording.terminateAll('disk-full');
    },
    onChange: (st) =>
      st.refuse
        ? log.error({ freeMb: st.freeMb, reason: st.refuse }, 'refusing new calls')
        : log.warn({ freeMb: st.freeMb }, 'disk space back above SRS_MIN_FREE_MB: taking calls again'),
  });
  // A dead media worker would record silence: refuse calls and end the live ones instead.
  const engineHealth = startEngineHealth({
    health: () => engine.health?.() ?? { workerFailure: null, eventsDropped: 0 },
    onFailure: (reason) => {
      log.fatal({ reason }, 'media engine failed: refusing calls and ending live ones');
      void recording.terminateAll('media-engine-failed');
    },
  });
  return {
    disk,
    engineHealth,
    endedByServer,
    refusing: () =>
      engineHealth.failure ?? disk.state.refuse ?? o.descriptors?.refusing(recording.liveStreams) ?? null,
    stop: () => {
      engineHealth.stop();
      disk.stop();
      watchdog.stop();
    },
  };
}
