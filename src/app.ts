import { randomBytes } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { openDatabase, type Database } from './store/db.js';
import { loadMediaEngine, PortPool } from './media/index.js';
import type { MediaEngine } from './media/types.js';
import { ensureKeyPair } from './pipeline/keys.js';
import {
  backlogFromDatabase,
  capacityMetrics,
  finalizeQueueOf,
  PipelineCapacity,
  startPipeline,
  wipeDir,
  type Pipeline,
} from './pipeline/index.js';
import { RecordingService } from './recording/service.js';
import { recoverInterruptedRecordings } from './recording/recovery.js';
import { RecordingControl, discardUnkept } from './recording/control.js';
import { startHttpServer } from './api/server.js';
import { clientIp } from './api/http.js';
import { buildConsoleApi, WEB_DIST } from './api/index.js';
import { attachMonitor, TapHub, type Monitor } from './monitor/index.js';
import { loadPrivateKey } from './pipeline/keys.js';
import { startSipEdge, type SipEdge } from './sip/edge/index.js';
import { startSiprecApp, type SiprecApp } from './sip/app/index.js';
import { createArtifactStore, S3ArtifactStore } from './storage/index.js';
import { checkDeliveryConfig, deliveryStatus, startDelivery } from './delivery/index.js';
import { createAdmission } from './sip/app/admission.js';
import { startWatchdog } from './recording/watchdog.js';
import { startDiskGuard } from './recording/disk-guard.js';
import { registerSafetyMetrics } from './api/safety-metrics.js';
import { startEngineHealth } from './recording/engine-health.js';
import { restrictDataDir, sameSecret, writeSecretFile } from './secrets.js';
import { nodesRepository } from './store/nodes.js';
import { ClusterLive, ClusterNode, nodeAddresses, peerPrincipal } from './cluster/index.js';

/**
 * The composition root: builds every part, wires them, and shuts them down in order (stop taking
 * calls, end live calls into the pipeline, drain jobs, close the database).
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
  stop(): Promise<void>;
}

/** Where the admin token lives when SRS_ADMIN_TOKEN is not set (`srs token rotate-admin` rewrites it). */
export const adminTokenFile = (dataDir: string): string => join(dataDir, 'admin-token');

async function adminToken(config: Config, log: Logger): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = adminTokenFile(config.dataDir);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('base64url');
    await writeSecretFile(file, token);
    log.warn({ file }, 'generated an admin token (mode 0600 file; set SRS_ADMIN_TOKEN to choose one)');
    return token;
  }
}

async function waitForApp(p: Promise<SiprecApp>, log: Logger, where: string): Promise<SiprecApp | null> {
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 5000).unref());
  const app = await Promise.race([p, timeout]);
  if (!app)
    log.warn({ drachtio: where }, 'drachtio server not reachable yet; the application keeps retrying');
  return app;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const t0 = Date.now();
  // Delivery settings that cannot work (template, passphrase) stop the start before anything runs.
  checkDeliveryConfig(config);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await restrictDataDir(config.dataDir, log);
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, 'error during shutdown');
      }
    }
    cleanups.length = 0;
  };

  try {
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
    cleanups.push(() => db.close());

    const key = await ensureKeyPair({
      keysDir: join(config.dataDir, 'keys'),
      passphrase: config.keys.passphrase,
      log,
      db,
      type: config.keys.firstKeyType,
    });
    if (key.generatedPassphrase) {
      const file = join(config.dataDir, 'secrets', 'recording-key-passphrase');
      await writeSecretFile(file, key.generatedPassphrase);
      log.warn(
        { file },
        'generated a passphrase for the recording key, written to this mode 0600 file: keep it somewhere safe, remove the file, and set SRS_KEY_PASSPHRASE',
      );
    }

    // Where encrypted recordings live: the data directory (default) or an S3 bucket (docs/storage.md).
    const artifacts = createArtifactStore(config.storage, config.dataDir);
    if (artifacts instanceof S3ArtifactStore) await artifacts.checkBucket();

    const engine: MediaEngine = loadMediaEngine({ bindAddress: config.media.bindAddress });
    cleanups.push(() => engine.close());

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
      backlog: backlogFromDatabase(db.pool, finalizeQueue),
    }).start();
    cleanups.push(() => capacity.stop());
    const pipeline = await startPipeline({
      capacity,
      db,
      mixer: engine,
      dataDir: config.dataDir,
      artifacts,
      finalizeQueue,
      log,
      concurrency: config.pipeline.concurrency,
      mp3: {
        bitrateKbps: config.pipeline.mp3Bitrate,
        sampleRate: config.pipeline.mp3SampleRate,
        quality: config.pipeline.mp3Quality,
        encoder: config.pipeline.mp3Encoder,
        ffmpegPath: config.pipeline.ffmpegPath,
      },
      outputs: config.media.outputs,
      pauseMode: config.media.pauseMode,
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
      retryLimit: config.pipeline.retryLimit,
      retryDelaySeconds: config.pipeline.retryDelaySeconds,
      hooks: {
        url: config.pipeline.hookUrl,
        command: config.pipeline.hookCommand,
        env: config.pipeline.hookEnv,
      },
      retention: { ...config.retention, intervalSeconds: config.retention.intervalSeconds },
      // Test only (SRS_TEST_CRASH_AFTER_STEP): die as kill -9 would, right after that step.
      afterStep: config.pipeline.testCrashAfterStep
        ? (step) => {
            if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
          }
        : undefined,
    });
    cleanups.push(() => pipeline.stop());

    // SFTP offload, MP3 export, email notifications; stopped before the pipeline and database.
    const delivery = await startDelivery({ config, db, log, artifacts });
    cleanups.push(() => delivery.stop());

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
    });

    const recording = new RecordingService({
      engine,
      ports: new PortPool(config.media.portMin, config.media.portMax),
      store: db.recordings,
      finalize: pipeline,
      dataDir: config.dataDir,
      maxSessions: config.limits.maxSessions,
      log,
      rtcp: config.media.rtcp,
      admit: () => capacity.admission(),
      relatchMs: config.security.rtpRelatchMs,
      handoffRetryLimit: config.security.handoffRetryLimit,
    });
    cleanups.push(() => recording.close());
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
    cleanups.push(() => control.close());
    live.calls = () => recording.activeCount;
    // Every call ends (docs/security.md): RTP inactivity and maximum duration end calls with a BYE.
    const watchdog = startWatchdog({
      target: recording,
      counters: () => engine.liveCounters(),
      rtpTimeoutSeconds: config.security.rtpTimeoutSeconds,
      maxDurationSeconds: config.security.maxDurationSeconds,
    });
    cleanups.push(() => watchdog.stop());
    const endedByServer = new Map<string, number>();
    recording.on('event', (e) => {
      if (e.type === 'call-end' && e.reason !== 'bye' && e.reason !== 'not-answered')
        endedByServer.set(e.reason, (endedByServer.get(e.reason) ?? 0) + 1);
    });
    // Disk-full admission: 503 to new calls below SRS_MIN_FREE_MB, live calls ended below SRS_HARD_FREE_MB.
    const disk = startDiskGuard({
      dir: config.dataDir,
      minFreeMb: config.security.minFreeMb,
      hardFreeMb: config.security.hardFreeMb,
      probe: config.security.testFreeMbFile
        ? async () => Number((await readFile(config.security.testFreeMbFile as string, 'utf8')).trim())
        : undefined,
      onHardFloor: (freeMb) => {
        log.error(
          { freeMb, hardFreeMb: config.security.hardFreeMb },
          'disk below its hard floor: ending live calls',
        );
        void recording.terminateAll('disk-full');
      },
      onChange: (st) =>
        st.refuse
          ? log.error({ freeMb: st.freeMb, reason: st.refuse }, 'refusing new calls')
          : log.warn({ freeMb: st.freeMb }, 'disk space back above SRS_MIN_FREE_MB: taking calls again'),
    });
    cleanups.push(() => disk.stop());
    // A dead media worker would record silence: refuse calls and end the live ones instead.
    const engineHealth = startEngineHealth({
      health: () => engine.health?.() ?? { workerFailure: null, eventsDropped: 0 },
      onFailure: (reason) => {
        log.fatal({ reason }, 'media engine failed: refusing calls and ending live ones');
        void recording.terminateAll('media-engine-failed');
      },
    });
    cleanups.push(() => engineHealth.stop());
    const refusing = (): string | null => engineHealth.failure ?? disk.state.refuse;
    const admission = createAdmission({
      srcAllow: config.security.srcAllow,
      maxStreamsPerSession: config.security.maxStreamsPerSession,
      maxSessionsPerSource: config.security.maxSessionsPerSource,
      maxCallsPerSecondPerSource: config.security.maxCallsPerSecondPerSource,
      refuseAll: refusing,
    });
    if (admission.open) {
      log.warn('SRS_SRC_ALLOW=any: every source address may open recordings');
    } else if (!config.security.srcAllow) {
      log.warn(
        { allow: admission.allow },
        'SRS_SRC_ALLOW is not set: only loopback and private addresses may record; set it to your SRCs',
      );
      process.stderr.write(
        `
  WARNING: SRS_SRC_ALLOW is not set. Recording is open to every loopback and private
` +
          `  address (${admission.allow.join(', ')}).
  Set SRS_SRC_ALLOW to your SRCs' addresses.

`,
      );
    }

    const token = await adminToken(config, log);
    let sipApp: SiprecApp | null = null;
    // REST API, users and audit, metrics, listen-in.
    const liveRefs: { monitor?: Monitor; edge?: SipEdge | null } = {};
    const keyPassphrase = config.keys.passphrase ?? key.generatedPassphrase;
    const consoleApi = await buildConsoleApi({
      db,
      live: recording,
      stats: (id) => engine.sessionStats(id),
      dataDir: config.dataDir,
      artifacts,
      adminToken: token,
      adminPassword: config.console.adminPassword,
      sessionTtlMinutes: config.console.sessionTtlMinutes,
      sessionMaxHours: config.console.sessionMaxHours,
      wsQueryToken: config.http.wsQueryToken,
      revoke: (m) => liveRefs.monitor?.revoke(m),
      usersChanged: () => void liveRefs.monitor?.refreshFilters(),
      loadKey:
        keyPassphrase === undefined
          ? null
          : (fp) => loadPrivateKey(join(config.dataDir, 'keys'), fp, keyPassphrase),
      jobs: () => pipeline.jobCounts(),
      sipResponses: () => liveRefs.edge?.responsesSent ?? new Map<number, number>(),
      monitor: () => ({
        clients: liveRefs.monitor?.clients ?? 0,
        listeners: liveRefs.monitor?.listeners ?? 0,
      }),
      // The console's Delivery page; retry only when a delivery service runs (503 otherwise).
      deliveryStatus: () => deliveryStatus(db.offload),
      delivery: delivery.offload || delivery.export || delivery.notify ? delivery : undefined,
      control,
      cluster: { nodes: nodesRepository(db.pool), nodeId: config.cluster.nodeId },
      log,
    });
    cleanups.push(() => consoleApi.ops.close());
    capacityMetrics(consoleApi.ops.metrics, capacity);
    consoleApi.ops.metrics.collect(
      'srs_storage_deletes_refused_total',
      'Deletions of recording files the artifact store refused (Object Lock retention not expired).',
      'counter',
      () => [{ value: pipeline.deletesRefused() }],
    );
    consoleApi.ops.metrics.collect(
      'srs_storage_waiting_recordings',
      'Recordings whose attempts all found the artifact store unavailable, waiting for it (spools kept).',
      'gauge',
      async () => [{ value: await pipeline.waitingForStore() }],
    );
    if (consoleApi.generatedAdminPassword) {
      const file = join(config.dataDir, 'secrets', 'admin-password');
      await writeSecretFile(file, consoleApi.generatedAdminPassword);
      log.warn(
        { file, username: 'admin' },
        'generated the web console admin password, written to this mode 0600 file (change it after the first login; set SRS_ADMIN_PASSWORD to choose one)',
      );
    }
    const trust = { proxies: config.http.trustProxy, header: config.http.clientIpHeader };
    const httpTls =
      config.http.tlsCertFile && config.http.tlsKeyFile
        ? {
            cert: await readFile(config.http.tlsCertFile, 'utf8'),
            key: await readFile(config.http.tlsKeyFile, 'utf8'),
          }
        : undefined;
    const http: Server = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      log,
      ...(httpTls ? { tls: httpTls } : {}),
      trust,
      // /metrics: public only when SRS_METRICS_PUBLIC=true; else the metrics token or an admin.
      ...(config.http.metricsPublic
        ? {}
        : {
            metricsAllowed: async (req) => {
              const h = req.headers.authorization ?? '';
              if (config.http.metricsToken && sameSecret(h, `Bearer ${config.http.metricsToken}`))
                return true;
              const who = await consoleApi.auth.authenticate(req);
              return who?.role === 'admin';
            },
          }),
      health: async () => {
        const dbOk = await db.pool.query('select 1').then(
          () => true,
          () => false,
        );
        const sipOk = sipApp?.connected ?? false;
        // Ready to take calls: SIP connected, database reachable, below the session limit, the
        // post-call backlog within its bound, the disk above its floor and the media worker alive.
        const pipeline = capacity.snapshot();
        const room = recording.activeCount < config.limits.maxSessions && pipeline.admitting;
        const refuse = refusing();
        return {
          ok: dbOk && sipOk && room && refuse === null,
          details: {
            ...(refuse !== null ? { refusingCalls: refuse } : {}),
            diskFreeMb: disk.state.freeMb === null ? null : Math.floor(disk.state.freeMb),
            database: dbOk,
            sip: sipOk,
            capacity: room,
            activeCalls: recording.activeCount,
            maxSessions: config.limits.maxSessions,
            pipeline,
          },
        };
      },
      api: consoleApi.api,
      metrics: consoleApi.ops.metrics,
      webDir: WEB_DIST,
    });
    cleanups.push(() => new Promise<void>((r) => http.close(() => r())));
    const taps = new TapHub({
      dataDir: config.dataDir,
      engine: config.console.listenSource === 'spool' ? undefined : engine,
    });
    // Every node's live calls in the monitor; listen-in to another node's call relayed from it.
    const clusterLive = new ClusterLive({
      nodeId: config.cluster.nodeId,
      local: recording,
      nodes: nodesRepository(db.pool),
      intervalMs: Math.min(2, config.cluster.heartbeatSeconds) * 1000,
      secret: config.cluster.secret,
      taps,
      log,
    });
    cleanups.push(() => clusterLive.close());
    const monitor: Monitor = attachMonitor({
      server: http,
      token: () => consoleApi.auth.o.adminToken,
      source: clusterLive,
      log,
      // A peer node (cluster secret) relaying listen-in, or a user.
      authenticate: async (req) =>
        peerPrincipal(config.cluster.secret, req) ?? consoleApi.auth.authenticate(req, true),
      filterFor: consoleApi.filterFor,
      stats: (id) => engine.sessionStats(id),
      counters: () => engine.liveCounters(),
      taps: clusterLive.taps,
      onAudioLatency: (ms) => consoleApi.ops.audioLatency(ms),
      access: consoleApi.access,
      clientIp: (req) => clientIp(req, trust),
      control: (who, action, recordingId) =>
        control.act({ who, channel: 'web', action, ip: '', target: { recordingId } }),
    });
    liveRefs.monitor = monitor;
    // `srs token rotate-admin` rewrites the admin token file: take the new token, drop the old one.
    if (!config.adminToken) {
      const file = adminTokenFile(config.dataDir);
      const reload = (): void => {
        readFile(file, 'utf8').then(
          (t) => {
            const next = t.trim();
            if (next && next !== consoleApi.auth.o.adminToken) {
              consoleApi.auth.setAdminToken(next);
              monitor.revoke({ sessionId: 'admin-token', reason: 'admin token rotated' });
              log.warn({ file }, 'admin token rotated: the previous one no longer works');
            }
          },
          (err: Error) => log.error({ file, err: err.message }, 'cannot read the admin token file'),
        );
      };
      watchFile(file, { interval: 2000 }, reload);
      cleanups.push(() => unwatchFile(file));
    }
    cleanups.push(() => taps.close());
    cleanups.push(() => monitor.close());

    let edge: SipEdge | null = null;
    let drachtio = config.drachtio.host
      ? { host: config.drachtio.host, port: config.drachtio.port, secret: config.drachtio.secret ?? '' }
      : null;
    if (!drachtio) {
      const secret = randomBytes(16).toString('hex');
      const pem = (file: string, what: string): Promise<string> =>
        readFile(file, 'utf8').catch((err: Error) => {
          throw new Error(`cannot read the SIP TLS ${what} ${file}: ${err.message}`);
        });
      const tls =
        config.sip.tlsCertFile && config.sip.tlsKeyFile
          ? {
              port: config.sip.tlsPort,
              cert: await pem(config.sip.tlsCertFile, 'certificate'),
              key: await pem(config.sip.tlsKeyFile, 'key'),
              ca: config.sip.tlsCaFile ? await pem(config.sip.tlsCaFile, 'client CA') : undefined,
            }
          : undefined;
      edge = await startSipEdge({
        sip: {
          host: config.sip.host,
          port: config.sip.port,
          publicAddress: config.sip.publicAddress,
          ...(tls ? { tls } : {}),
          limits: {
            maxConnections: config.security.maxConnections,
            maxPerAddress: config.security.maxConnectionsPerAddress,
            maxHeaderBytes: config.security.maxHeaderBytes,
            headerTimeoutMs: config.security.headerTimeoutMs,
          },
        },
        control: { host: '127.0.0.1', port: 0, secret },
        log: log.child({ part: 'edge' }),
      });
      cleanups.push(() => edge?.close());
      liveRefs.edge = edge;
      drachtio = { host: '127.0.0.1', port: edge.controlPort, secret };
    }
    // The node registry and drain: registered once the SIP and HTTP ports are known.
    const httpAt = http.address();
    const cluster = new ClusterNode({
      config: config.cluster,
      nodes: nodesRepository(db.pool),
      pool: db.pool,
      addresses: nodeAddresses(
        config,
        edge?.sipPort ?? config.sip.port,
        typeof httpAt === 'object' && httpAt ? httpAt.port : config.http.port,
      ),
      maxSessions: config.limits.maxSessions,
      live: recording,
      log,
    });
    await cluster.start();
    cleanups.push(() => cluster.stop());
    sipApp = await waitForApp(
      startSiprecApp({
        drachtio,
        recording,
        log,
        mediaAddress: config.media.advertiseAddress,
        publicAddress: config.sip.publicAddress,
        policy: config.policy,
        maxCallsPerSecond: config.limits.maxCallsPerSecond,
        srtp: config.sip.srtp,
        admission,
        sessionTimer: {
          expires: config.security.sessionExpiresSeconds,
          minSE: config.security.minSessionExpiresSeconds,
        },
        tlsSubjectOf: edge ? (a, p) => edge?.tlsSubject(a, p) : undefined,
        // OPTIONS and new INVITEs answered 503 while draining, full, behind on the post-call backlog,
        // short of disk or without a media worker (load balancer probes move calls elsewhere).
        refusal: () =>
          cluster.refusal ??
          refusing() ??
          capacity.refusal() ??
          (recording.activeCount >= config.limits.maxSessions
            ? `at capacity (${config.limits.maxSessions} sessions)`
            : null),
      }),
      log,
      `${drachtio.host}:${drachtio.port}`,
    );
    // Stop taking calls first on shutdown: the app is closed before live calls are ended.
    cleanups.push(() => sipApp?.close());
    // ...but first the live calls end properly while SIP still works: BYE to each SRC, the recording
    // stored with its real duration (reason `shutdown`), not left for recovery as interrupted.
    cleanups.push(() => recording.close());
    registerSafetyMetrics(consoleApi.ops.metrics, {
      media: () => engine.mediaTotals(),
      refused: () => admission.refused,
      connections: () => edge?.connectionLimits ?? null,
      endedByServer: () => endedByServer,
      disk: () => disk.state,
      handoffRetries: () => recording.handoffRetries,
      eventsDropped: () => engineHealth.eventsDropped,
      spoolQueue: () => {
        const h = engine.health?.();
        return {
          bytes: h?.spoolQueueBytes ?? 0,
          peak: h?.spoolQueuePeakBytes ?? 0,
          dropped: h?.spoolBatchesDropped ?? 0,
        };
      },
      refusing,
    });

    const address = http.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    const sipPort = edge?.sipPort ?? config.sip.port;
    log.info(
      {
        startupMs: Date.now() - t0,
        sip: edge
          ? `udp+tcp ${config.sip.host}:${sipPort} (embedded edge)`
          : `via drachtio-server ${drachtio.host}:${drachtio.port}`,
        http: `${httpTls ? 'https' : 'http'}://${config.http.host}:${httpPort}`,
        monitor: `${httpTls ? 'wss' : 'ws'}://${config.http.host}:${httpPort}/monitor`,
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

    // Test only (SRS_TEST_ENGINE_FAULT=worker-exit:<ms>): the media worker dies that long after start.
    const fault = /^worker-exit:(\d+)$/.exec(config.security.testEngineFault ?? '');
    if (fault) setTimeout(() => engine.testFault?.('worker-exit'), Number(fault[1])).unref();

    return {
      config,
      adminToken: token,
      sipPort,
      httpPort,
      recording,
      db,
      pipeline,
      cluster,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
