/**
 * The REST API, users and audit, metrics and the console's pages, wired to the running parts. The
 * monitor and the SIP edge start after it: `live` holds them once they run.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/types.js';
import type { Monitor } from '../monitor/index.js';
import { encodeMp3, wipeDir, type Mp3Options, type Pipeline } from '../pipeline/index.js';
import { generateKeyPair, loadPrivateKey } from '../pipeline/keys.js';
import { startReencryptService } from '../pipeline/reencrypt.js';
import type { RecordingControl } from '../recording/control.js';
import type { LivePolicy } from '../recording/live-policy.js';
import type { RetentionPort } from '../api/resources/retention.js';
import type { RecordingService } from '../recording/service.js';
import type { SipEdge } from '../sip/edge/index.js';
import type { ArtifactStore } from '../storage/index.js';
import type { Database } from '../store/db.js';
import { nodesRepository } from '../store/nodes.js';
import { buildConsoleApi, type ConsoleApi } from '../api/index.js';
import { deliveryStatus, type Delivery } from '../delivery/index.js';
import { directoryMetrics, startDirectory } from './directory.js';
import type { RecordingKey } from './first-start.js';
import type { Defer } from './shutdown.js';
import { tlsPolicy } from './tls.js';

/** Parts started after the console API that it reads from. */
export interface LaterParts {
  monitor?: Monitor;
  edge?: SipEdge | null;
}

export interface ConsoleParts {
  config: Config;
  db: Database;
  engine: MediaEngine;
  recording: RecordingService;
  control: RecordingControl;
  policy: LivePolicy<unknown>;
  retention: RetentionPort;
  pipeline: Pipeline;
  delivery: Delivery;
  artifacts: ArtifactStore;
  key: RecordingKey;
  adminToken: string;
  later: LaterParts;
  log: Logger;
  defer: Defer;
}

/** The pipeline's MP3 settings (also the console's joined interactions). */
export function mp3Options(config: Config): Mp3Options {
  return {
    bitrateKbps: config.pipeline.mp3Bitrate,
    sampleRate: config.pipeline.mp3SampleRate,
    quality: config.pipeline.mp3Quality,
    encoder: config.pipeline.mp3Encoder,
    ffmpegPath: config.pipeline.ffmpegPath,
  };
}

export async function startConsoleApi(o: ConsoleParts): Promise<ConsoleApi> {
  const { config, db, engine, later, log } = o;
  // SRS_KEY_PASSPHRASE, else the generated one (kept in <data>/secrets/, read at each start).
  const keyPassphrase = o.key.passphrase;
  const revoke = (m: { userId?: string; sessionId?: string; reason: string }) => later.monitor?.revoke(m);
  const accessChanged = () => void later.monitor?.refreshFilters();
  const directory = startDirectory(
    config.directory,
    db,
    { revoke, accessChanged },
    log,
    o.defer,
    tlsPolicy(config),
  );
  const keysDir = join(config.dataDir, 'keys');
  // Key generation and re-encryption from the API need the passphrase the server holds; one that
  // does not open the active key would lock new keys under another passphrase: refused (503).
  const keys =
    keyPassphrase === undefined || o.key.passphraseState === 'wrong'
      ? undefined
      : {
          passphrase: keyPassphrase,
          service: startReencryptService({
            db,
            dataDir: config.dataDir,
            store: o.artifacts,
            passphrase: keyPassphrase,
            inCatalogue: config.keys.inCatalogue,
            log,
            // Test only: die as kill -9 would at a chosen point, to prove the run resumes.
            afterStep: (step) => {
              if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
            },
          }),
        };
  if (keys) o.defer(() => keys.service.stop());
  const consoleApi = await buildConsoleApi({
    db,
    live: o.recording,
    stats: (id) => engine.sessionStats(id),
    dataDir: config.dataDir,
    wipeDir,
    artifacts: o.artifacts,
    adminToken: o.adminToken,
    adminPassword: config.console.adminPassword,
    sessionTtlMinutes: config.console.sessionTtlMinutes,
    sessionMaxHours: config.console.sessionMaxHours,
    wsQueryToken: config.http.wsQueryToken,
    revoke,
    accessChanged,
    directory: directory?.directory,
    directoryDisableMissing: config.directory.disableMissing,
    loadKey:
      keyPassphrase === undefined
        ? null
        : (fp) => loadPrivateKey(keysDir, fp, keyPassphrase, config.keys.inCatalogue ? db.keys : undefined),
    jobs: () => o.pipeline.jobCounts(),
    sipResponses: () => later.edge?.responsesSent ?? new Map<number, number>(),
    monitor: () => ({
      clients: later.monitor?.clients ?? 0,
      listeners: later.monitor?.listeners ?? 0,
    }),
    // The console's Delivery page; retry only when a delivery service runs (503 otherwise).
    deliveryStatus: () => deliveryStatus(db.offload),
    delivery:
      o.delivery.offload || o.delivery.export || o.delivery.notify || o.delivery.journal
        ? o.delivery
        : undefined,
    control: o.control,
    policy: o.policy,
    retention: o.retention,
    cluster: { nodes: nodesRepository(db.pool), nodeId: config.cluster.nodeId },
    encodeMp3: (wav) => encodeMp3(wav, mp3Options(config)),
    keys: keys && {
      generate: (type, activate) =>
        generateKeyPair({
          keysDir,
          passphrase: keys.passphrase,
          type,
          db,
          activate,
          inCatalogue: config.keys.inCatalogue,
        }),
      reencrypt: () => keys.service.kick(),
    },
    log,
  });
  o.defer(() => consoleApi.ops.close());
  if (directory?.sync) directoryMetrics(consoleApi.ops.metrics, directory.sync);
  return consoleApi;
}
