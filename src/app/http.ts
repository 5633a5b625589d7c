/**
 * The HTTP(S) server: REST API, console, /metrics (public only when SRS_METRICS_PUBLIC=true) and
 * /healthz, which says whether this node is ready to take calls and, when not, why.
 */
import type { Server } from 'node:http';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { WEB_DIST, type ConsoleApi } from '../api/index.js';
import type { ProxyTrust } from '../api/http.js';
import { startHttpServer } from '../api/server.js';
import type { PipelineCapacity } from '../pipeline/index.js';
import type { CallGuards } from '../recording/guards.js';
import type { RecordingService } from '../recording/service.js';
import { sameSecret } from '../secrets.js';
import type { DatabaseHealth } from '../store/health.js';
import type { PassphraseState } from './first-start.js';
import { listenError } from './listen-errors.js';
import type { Defer } from './shutdown.js';
import { readHttpTls, tlsPolicy } from './tls.js';

export interface HttpParts {
  config: Config;
  consoleApi: ConsoleApi;
  recording: RecordingService;
  capacity: PipelineCapacity;
  guards: CallGuards;
  /** Whether the SIP application is connected to its drachtio server (the edge). */
  sipConnected: () => boolean;
  /** Whether the database answers (probed on its own, never waited on for long). */
  dbHealth: DatabaseHealth;
  /** Whether the server's passphrase opens the active key (playback, export, key rotation). */
  keyPassphrase?: PassphraseState;
  log: Logger;
  defer: Defer;
}

export interface HttpServing {
  server: Server;
  /** The proxies whose client address header is believed. */
  trust: ProxyTrust;
  tls: boolean;
}

export async function serveHttp(o: HttpParts): Promise<HttpServing> {
  const { config, consoleApi, recording, capacity, guards } = o;
  const trust = { proxies: config.http.trustProxy, header: config.http.clientIpHeader };
  const httpFiles = await readHttpTls(config);
  const httpTls = httpFiles ? { cert: httpFiles.cert, key: httpFiles.key, ...tlsPolicy(config) } : undefined;
  const server: Server = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    log: o.log,
    ...(httpTls ? { tls: httpTls } : {}),
    trust,
    maxConnections: config.http.maxConnections,
    maxConnectionsPerAddress: config.http.maxConnectionsPerAddress,
    healthReserve: config.http.healthReserve,
    // /metrics: public only when SRS_METRICS_PUBLIC=true; else the metrics token or an admin.
    ...(config.http.metricsPublic
      ? {}
      : {
          metricsAllowed: async (req) => {
            const h = req.headers.authorization ?? '';
            if (config.http.metricsToken && sameSecret(h, `Bearer ${config.http.metricsToken}`)) return true;
            const who = await consoleApi.auth.authenticate(req);
            return who?.role === 'admin';
          },
        }),
    health: async () => {
      // Within 2 s even when the database hangs: a load balancer must hear that this node is out.
      const dbOk = await o.dbHealth.probe();
      const sipOk = o.sipConnected();
      // Ready to take calls: SIP connected, database reachable, below the session limit, the
      // post-call backlog within its bound, the disk above its floor and the media worker alive.
      const pipeline = capacity.snapshot();
      const room = recording.activeCount < config.limits.maxSessions && pipeline.admitting;
      const refuse = guards.refusing();
      const freeMb = guards.disk.state.freeMb;
      return {
        ok: dbOk && sipOk && room && refuse === null,
        details: {
          ...(refuse !== null ? { refusingCalls: refuse } : {}),
          diskFreeMb: freeMb === null ? null : Math.floor(freeMb),
          database: dbOk,
          sip: sipOk,
          capacity: room,
          activeCalls: recording.activeCount,
          maxSessions: config.limits.maxSessions,
          pipeline,
          // Not part of `ok`: calls are recorded with the public key alone.
          ...(o.keyPassphrase ? { keyPassphrase: o.keyPassphrase } : {}),
        },
      };
    },
    api: consoleApi.api,
    databaseAnswering: () => o.dbHealth.answering,
    metrics: consoleApi.ops.metrics,
    webDir: WEB_DIST,
  }).catch((err: unknown) => {
    throw listenError(err, [['HTTP_PORT', config.http.port, config.http.tlsCertFile ? 'https' : 'http']]);
  });
  o.defer(() => new Promise<void>((r) => server.close(() => r())));
  return { server, trust, tls: httpTls !== undefined };
}
