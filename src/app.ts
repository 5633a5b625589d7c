import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { openDatabase, type Database } from './store/db.js';
import { loadMediaEngine, PortPool } from './media/index.js';
import type { MediaEngine } from './media/types.js';
import { ensureKeyPair } from './pipeline/keys.js';
import { startPipeline, wipeDir, type Pipeline } from './pipeline/index.js';
import { RecordingService } from './recording/service.js';
import { recoverInterruptedRecordings } from './recording/recovery.js';
import { startHttpServer } from './api/server.js';
import { buildConsoleApi, WEB_DIST } from './api/index.js';
import { attachMonitor, TapHub, type Monitor } from './monitor/index.js';
import { loadPrivateKey } from './pipeline/keys.js';
import { jobStateCounts } from './store/audit.js';
import { startSipEdge, type SipEdge } from './sip/edge/index.js';
import { startSiprecApp, type SiprecApp } from './sip/app/index.js';
import { checkDeliveryConfig, deliveryStatus, startDelivery } from './delivery/index.js';
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
  /** This node in the cluster registry (issue 17); `cluster.drained` resolves when a drain is done. */
  readonly cluster: ClusterNode;
  stop(): Promise<void>;
}

async function adminToken(config: Config, log: Logger): Promise<string> {
  if (config.adminToken) return config.adminToken;
  const file = join(config.dataDir, 'admin-token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('base64url');
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    log.warn({ file }, 'generated an admin token for the live monitor (set SRS_ADMIN_TOKEN to choose one)');
    process.stderr.write(`\n  Admin token (live monitor, API): ${token}\n  Stored in ${file}\n\n`);
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
  await mkdir(config.dataDir, { recursive: true });
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
      log.warn('generated a passphrase for the recording key; it is shown once and never stored');
      process.stderr.write(
        `\n  WARNING: recording key passphrase (shown once, not stored; keep it safe,\n` +
          `  set SRS_KEY_PASSPHRASE to use your own): ${key.generatedPassphrase}\n\n`,
      );
    }

    const engine: MediaEngine = loadMediaEngine({ bindAddress: config.media.bindAddress });
    cleanups.push(() => engine.close());

    // New calls per second (this second or the last), so post-call jobs yield to live calls.
    const arrivals = { second: 0, count: 0, last: 0 };
    const callRate = (): number => {
      const now = Math.floor(Date.now() / 1000);
      if (now === arrivals.second) return Math.max(arrivals.last, arrivals.count);
      return now === arrivals.second + 1 ? arrivals.count : 0;
    };
    const yieldAbove = config.pipeline.yieldAboveCps;
    const pipeline = await startPipeline({
      yieldWhile: yieldAbove > 0 ? () => callRate() >= yieldAbove : undefined,
      db,
      mixer: engine,
      dataDir: config.dataDir,
      log,
      concurrency: config.pipeline.concurrency,
      mp3: { bitrateKbps: config.pipeline.mp3Bitrate, sampleRate: config.pipeline.mp3SampleRate },
      outputs: config.media.outputs,
      pauseMode: config.media.pauseMode,
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
      retryLimit: config.pipeline.retryLimit,
      retryDelaySeconds: config.pipeline.retryDelaySeconds,
      hooks: { url: config.pipeline.hookUrl, command: config.pipeline.hookCommand },
      retention: { ...config.retention, intervalSeconds: config.retention.intervalSeconds },
      // Test only (SRS_TEST_CRASH_AFTER_STEP): die as kill -9 would, right after that step.
      afterStep: config.pipeline.testCrashAfterStep
        ? (step) => {
            if (step === config.pipeline.testCrashAfterStep) process.kill(process.pid, 'SIGKILL');
          }
        : undefined,
    });
    cleanups.push(() => pipeline.stop());

    // SFTP offload, MP3 export, email notifications (issue 7); stopped before the pipeline and database.
    const delivery = await startDelivery({ config, db, log });
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
    });
    cleanups.push(() => recording.close());
    recording.on('event', (e) => {
      if (e.type !== 'call-start') return;
      const now = Math.floor(Date.now() / 1000);
      if (now !== arrivals.second) {
        arrivals.last = now === arrivals.second + 1 ? arrivals.count : 0;
        arrivals.second = now;
        arrivals.count = 0;
      }
      arrivals.count++;
    });

    const token = await adminToken(config, log);
    let sipApp: SiprecApp | null = null;
    // REST API, users and audit, metrics, listen-in (issue 6).
    const liveRefs: { monitor?: Monitor; edge?: SipEdge | null } = {};
    const keyPassphrase = config.keys.passphrase ?? key.generatedPassphrase;
    const consoleApi = await buildConsoleApi({
      db,
      live: recording,
      stats: (id) => engine.sessionStats(id),
      dataDir: config.dataDir,
      adminToken: token,
      adminPassword: config.console.adminPassword,
      sessionTtlMinutes: config.console.sessionTtlMinutes,
      loadKey:
        keyPassphrase === undefined
          ? null
          : (fp) => loadPrivateKey(join(config.dataDir, 'keys'), fp, keyPassphrase),
      jobs: () => jobStateCounts(db.pool),
      sipResponses: () => liveRefs.edge?.responsesSent ?? new Map<number, number>(),
      monitor: () => ({
        clients: liveRefs.monitor?.clients ?? 0,
        listeners: liveRefs.monitor?.listeners ?? 0,
      }),
      // The console's Delivery page; retry only when a delivery service runs (503 otherwise).
      deliveryStatus: () => deliveryStatus(db.offload),
      delivery: delivery.offload || delivery.export || delivery.notify ? delivery : undefined,
      cluster: { nodes: nodesRepository(db.pool), nodeId: config.cluster.nodeId },
      log,
    });
    cleanups.push(() => consoleApi.ops.close());
    if (consoleApi.generatedAdminPassword)
      process.stderr.write(
        `\n  Web console: user "admin", password (shown once; set SRS_ADMIN_PASSWORD to choose one): ${consoleApi.generatedAdminPassword}\n\n`,
      );
    const http: Server = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      log,
      health: async () => {
        const dbOk = await db.pool.query('select 1').then(
          () => true,
          () => false,
        );
        const sipOk = sipApp?.connected ?? false;
        // Ready to take calls: SIP connected, database reachable, below the session limit.
        const capacity = recording.activeCount < config.limits.maxSessions;
        return {
          ok: dbOk && sipOk && capacity,
          details: {
            database: dbOk,
            sip: sipOk,
            capacity,
            activeCalls: recording.activeCount,
            maxSessions: config.limits.maxSessions,
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
      token,
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
    });
    liveRefs.monitor = monitor;
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
            }
          : undefined;
      edge = await startSipEdge({
        sip: {
          host: config.sip.host,
          port: config.sip.port,
          publicAddress: config.sip.publicAddress,
          ...(tls ? { tls } : {}),
        },
        control: { host: '127.0.0.1', port: 0, secret },
        log: log.child({ part: 'edge' }),
      });
      cleanups.push(() => edge?.close());
      liveRefs.edge = edge;
      drachtio = { host: '127.0.0.1', port: edge.controlPort, secret };
    }
    // The node registry and drain (issue 17): registered once the SIP and HTTP ports are known.
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
        // OPTIONS and new INVITEs answered 503 while draining or full (load balancer probes).
        refusal: () =>
          cluster.refusal ??
          (recording.activeCount >= config.limits.maxSessions
            ? `at capacity (${config.limits.maxSessions} sessions)`
            : null),
      }),
      log,
      `${drachtio.host}:${drachtio.port}`,
    );
    // Stop taking calls first on shutdown: the app is closed before live calls are ended.
    cleanups.push(() => sipApp?.close());

    const address = http.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    const sipPort = edge?.sipPort ?? config.sip.port;
    log.info(
      {
        startupMs: Date.now() - t0,
        sip: edge
          ? `udp+tcp ${config.sip.host}:${sipPort} (embedded edge)`
          : `via drachtio-server ${drachtio.host}:${drachtio.port}`,
        http: `http://${config.http.host}:${httpPort}`,
        monitor: `ws://${config.http.host}:${httpPort}/monitor`,
        rtp: `${config.media.bindAddress} ports ${config.media.portMin}-${config.media.portMax}`,
        dataDir: config.dataDir,
        recordings: join(config.dataDir, 'recordings'),
        spool: join(config.dataDir, 'spool'),
        database: config.databaseUrl ? 'DATABASE_URL' : `embedded Postgres in ${join(config.dataDir, 'pg')}`,
        keyFingerprint: key.fingerprint,
      },
      'SIPREC recording server ready',
    );

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
