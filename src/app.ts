import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { openDatabase, type Database } from './store/db.js';
import { DatabaseHealth, ownConnection } from './store/health.js';
import { loadMediaEngine } from './media/index.js';
import type { MediaEngine } from './media/types.js';
import {
  backlogFromDatabase,
  finalizeQueueOf,
  PipelineCapacity,
  startPipeline,
  wipeDir,
  type Pipeline,
} from './pipeline/index.js';
import type { RecordingService } from './recording/service.js';
import { recoverInterruptedRecordings } from './recording/recovery.js';
import { discardUnkept } from './recording/control.js';
import type { SiprecApp } from './sip/app/index.js';
import { createArtifactStore, S3ArtifactStore } from './storage/index.js';
import { checkDeliveryConfig, startDelivery } from './delivery/index.js';
import { registerDeliveryMetrics } from './delivery/status.js';
import { restrictDataDir } from './secrets.js';
import { nodesRepository } from './store/nodes.js';
import { ClusterNode, nodeAddresses, nodeAnswers } from './cluster/index.js';
import { loadAdminToken } from './app/admin-token.js';
import { mp3Options, startConsoleApi, type LaterParts } from './app/console.js';
import { startRetentionPolicy } from './app/retention.js';
import { keepGeneratedAdminPassword, recordingKey } from './app/first-start.js';
import { serveHttp } from './app/http.js';
import { reloadTls, tlsPolicy, watchTlsCertificates } from './app/tls.js';
import {
  buildInfoMetric,
  mayDownload,
  overdueAndDatabaseMetrics,
  pipelineMetrics,
  serverSafetyMetrics,
} from './app/metrics.js';
import { VERSION } from './app/version.js';
import { registerProcessMetrics } from './api/process-metrics.js';
import { startMonitor } from './app/monitor.js';
import { shutdownList } from './app/shutdown.js';
import { startEdge, startSiprec, warnUndefinedSipFields } from './app/sip.js';
import { startRecordingSide } from './app/recording.js';

export { adminTokenFile } from './app/admin-token.js';

/**
 * The composition root: builds every part, wires them, and shuts them down in order (stop taking
 * calls, end live calls into the pipeline, drain jobs, close the database). The parts it wires are
 * in src/app/: the recording side, the SIP side, the HTTP server, the monitor, the console API,
 * metrics, the admin token.
 */
export interface RunningServer {
  readonly config: Config;
  readonly adminToken: string;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly recording: RecordingService;
  readonly db: Database;
  readonly pipeline: Pipeline;
  /** This node in the cluster registry; `cluster.drained` resolves when a drain is done. */
  readonly cluster: ClusterNode;
  /** Reads the TLS certificate files again and serves them from the next handshake (SIGHUP). */
  reloadTls(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const t0 = Date.now();
  // Delivery settings that cannot work (templates, destinations) stop the start before anything
  // runs; the passphrase is checked once recordingKey has it (SRS_KEY_PASSPHRASE or the generated one).
  checkDeliveryConfig(config, { passphraseLater: true });
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await restrictDataDir(config.dataDir, log);
  const { defer, stopAll } = shutdownList(log);

  try {
    const db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      log,
      searchTimeoutMs: config.limits.searchTimeoutMs,
    });
    defer(() => db.close());
    const probe = ownConnection(db.connectionString);
    const dbHealth = new DatabaseHealth(probe);
    defer(async () => {
      dbHealth.close();
      await probe.end();
    });

    const key = await recordingKey(config, db, log);

    // Where encrypted recordings live: the data directory (default) or an S3 bucket (docs/storage.md).
    const artifacts = createArtifactStore(config.storage, config.dataDir, tlsPolicy(config));
    if (artifacts instanceof S3ArtifactStore) await artifacts.checkBucket();

    const engine: MediaEngine = loadMediaEngine({ bindAddress: config.media.bindAddress });
    defer(() => engine.close());

    // Post-call capacity: jobs at once from the measured cost and live load, back-pressure on new
    // calls when the backlog would take longer than SRS_MAX_BACKLOG_SECONDS to drain.
    const live = { calls: () => 0 };
    // Finalize jobs run where their spool is: one queue per data directory (docs/cluster.md).
    const finalizeQueue = await finalizeQueueOf(config.dataDir);
    const capacity = new PipelineCapacity({
      cores: availableParallelism(),
      maxConcurrency: config.pipeline.concurrency,
      cpuShare: config.pipeline.cpuShare,
      maxBacklogSeconds: config.pipeline.maxBacklogSeconds,
      liveCalls: () => live.calls(),
      backlog: backlogFromDatabase(db.pool, finalizeQueue, config.dataDir),
    }).start();
    defer(() => capacity.stop());
    // The retention policy: the configured one until an admin saves one (re-read every 10 s).
    const retention = await startRetentionPolicy(config.retention, db, log.child({ part: 'retention' }));
    defer(() => retention.live.close());
    const pipeline = await startPipeline({
      capacity,
      db,
      mixer: engine,
      dataDir: config.dataDir,
      artifacts,
      finalizeQueue,
      log,
      concurrency: config.pipeline.concurrency,
      mp3: mp3Options(config),
      outputs: config.media.outputs,
      pauseMode: config.media.pauseMode,
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
      retryLimit: config.pipeline.retryLimit,
      retryDelaySeconds: config.pipeline.retryDelaySeconds,
      hooks: {
        url: config.pipeline.hookUrl,
        command: config.pipeline.hookCommand,
        env: config.pipeline.hookEnv,
        concurrency: config.pipeline.hookConcurrency,
        timeoutSeconds: config.pipeline.hookTimeoutSeconds,
        tlsPolicy: tlsPolicy(config),
      },
      retention: { ...config.retention, intervalSeconds: config.retention.intervalSeconds },
      retentionNow: () => retention.live.value,
      // Test only (SRS_TEST_CRASH_AFTER_STEP): die as kill -9 would, right after that step.
      afterStep: config.pipeline.testCrashAfterStep
        ? (step) => {
            if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
          }
        : undefined,
    });
    defer(() => pipeline.stop());

    // SFTP offload, MP3 export, email notifications; stopped before the pipeline and database.
    // A notification carries the recording only while its user may download (read at each email).
    const mayAttach = mayDownload(db.users);
    const delivery = await startDelivery({
      config,
      db,
      log,
      artifacts,
      mayAttach,
      passphrase: key.passphrase,
    });
    defer(() => delivery.stop());

    // Recordings left 'recording' by a process that died mid-call: finalize them from their spools
    // (flagged interrupted) before any new call can arrive. Then leftover spools: wiped when their
    // recording is stored, catalogued as interrupted (or moved aside) when it has no catalogue row.
    await recoverInterruptedRecordings({
      store: db.recordings,
      finalize: pipeline,
      dataDir: config.dataDir,
      log,
      wipeDir,
      discardUnkept: (id) => discardUnkept({ db, dataDir: config.dataDir, wipeDir }, id),
      // Another node's call while that node is alive: a fresh heartbeat and its HTTP port taking a
      // connection (a process killed a moment ago still has a fresh heartbeat, and its port is
      // closed). Not held to our TLS policy: a peer we would not exchange data with is still alive.
      liveElsewhere: async (id) => {
        const owner = await nodesRepository(db.pool).liveOwner(id, config.cluster.nodeId);
        return owner && (await nodeAnswers(owner.httpAddress)) ? owner.nodeId : null;
      },
    });

    // Admission guards, the recording service, control and policy (src/app/recording.ts).
    const { recording, control, policy, guards, admission } = await startRecordingSide({
      config,
      db,
      engine,
      pipeline,
      capacity,
      live,
      log,
      defer,
    });

    const token = await loadAdminToken(config, log);
    let sipApp: SiprecApp | null = null;
    // REST API, users and audit, metrics, listen-in.
    const later: LaterParts = {};
    const consoleApi = await startConsoleApi({
      config,
      db,
      engine,
      recording,
      control,
      policy,
      retention: retention.port,
      pipeline,
      delivery,
      artifacts,
      key,
      adminToken: token,
      later,
      log,
      defer,
    });
    pipelineMetrics(consoleApi.ops.metrics, capacity, pipeline);
    buildInfoMetric(consoleApi.ops.metrics);
    defer(registerProcessMetrics(consoleApi.ops.metrics));
    registerDeliveryMetrics(consoleApi.ops.metrics, db.offload, config);
    // Recordings past their retention never stored (retention does not purge them), the database's state.
    defer(overdueAndDatabaseMetrics(consoleApi.ops.metrics, { db, retention, dbHealth, config, log }));
    await keepGeneratedAdminPassword(consoleApi, config.dataDir, log);
    const http = await serveHttp({
      config,
      consoleApi,
      recording,
      capacity,
      guards,
      sipConnected: () => sipApp?.connected ?? false,
      dbHealth,
      keyPassphrase: key.passphraseState,
      log,
      defer,
    });
    // This process in the node registry (ClusterNode), and the audience of peer credentials.
    const nodeInstance = randomBytes(8).toString('hex');
    later.monitor = startMonitor({
      config,
      nodeInstance,
      server: http.server,
      trust: http.trust,
      consoleApi,
      db,
      dbHealth,
      engine,
      recording,
      control,
      log,
      defer,
    });

    const { edge, drachtio } = await startEdge(config, log, defer);
    const certs = await watchTlsCertificates(config, consoleApi.ops.metrics, log, defer);
    later.edge = edge;
    // The node registry and drain: registered once the SIP and HTTP ports are known.
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    const sipPort = edge?.sipPort ?? config.sip.port;
    const cluster = new ClusterNode({
      config: config.cluster,
      instance: nodeInstance,
      nodes: nodesRepository(db.pool),
      pool: db.pool,
      addresses: nodeAddresses(config, sipPort, httpPort),
      maxSessions: config.limits.maxSessions,
      finalizeQueue,
      live: recording,
      log,
    });
    await cluster.start();
    defer(() => cluster.stop());
    await warnUndefinedSipFields(config.sip.fieldsFrom, db.fields, log);
    sipApp = await startSiprec({
      config,
      drachtio,
      edge,
      recording,
      admission,
      fields: db.fields,
      policy: () => policy.current(),
      metrics: consoleApi.ops.metrics,
      log,
      // OPTIONS and new INVITEs answered 503 while draining, full, behind on the post-call backlog,
      // short of disk, without a media worker or a database that answers (load balancer probes
      // move calls elsewhere; the first INVITEs of a stall get 503 at the catalogue deadline).
      refusal: () =>
        cluster.refusal ??
        guards.refusing() ??
        (dbHealth.answering ? null : 'the database is not answering') ??
        capacity.refusal() ??
        (recording.activeCount >= config.limits.maxSessions
          ? `at capacity (${config.limits.maxSessions} sessions)`
          : null),
    });
    // Stop taking calls first on shutdown: the app is closed before live calls are ended.
    defer(() => sipApp?.close());
    // ...but first the live calls end properly while SIP still works: BYE to each SRC, the recording
    // stored with its real duration (reason `shutdown`), not left for recovery as interrupted.
    defer(() => recording.close());
    serverSafetyMetrics(consoleApi.ops.metrics, { engine, admission, edge, guards, recording });

    log.info(
      {
        version: VERSION,
        startupMs: Date.now() - t0,
        sip: edge
          ? `udp+tcp ${config.sip.host}:${sipPort} (embedded edge)`
          : `via drachtio-server ${drachtio.host}:${drachtio.port}${sipApp.connected ? '' : ' (waiting for it)'}`,
        http: `${http.tls ? 'https' : 'http'}://${config.http.host}:${httpPort}`,
        monitor: `${http.tls ? 'wss' : 'ws'}://${config.http.host}:${httpPort}/monitor`,
        rtp: `${config.media.bindAddress} ports ${config.media.portMin}-${config.media.portMax}`,
        dataDir: config.dataDir,
        recordings: join(config.dataDir, 'recordings'),
        spool: join(config.dataDir, 'spool'),
        finalizeQueue,
        database: config.databaseUrl ? 'DATABASE_URL' : `embedded Postgres in ${join(config.dataDir, 'pg')}`,
        keyFingerprint: key.fingerprint,
      },
      'SIPREC recording server ready',
    );

    // Test only (SRS_TEST_ENGINE_FAULT=worker-exit:<ms> or writer-stall:<ms>): the media worker dies,
    // or the spool writer stops writing (a disk that stops answering), that long after start.
    const fault = /^(worker-exit|writer-stall):(\d+)$/.exec(config.security.testEngineFault ?? '');
    if (fault) setTimeout(() => engine.testFault?.(fault[1] as string), Number(fault[2])).unref();

    return {
      config,
      adminToken: token,
      sipPort,
      httpPort,
      recording,
      db,
      pipeline,
      cluster,
      reloadTls: () =>
        reloadTls(
          config,
          { edge, https: http.tls ? (http.server as unknown as TlsServer) : null, certs },
          log,
        ),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
