/**
 * The live monitor on the HTTP server: every node's live calls, listen-in (to another node's call
 * relayed from it) and recording control from the console. The admin token's rotation is watched
 * here too, since it closes the monitor sockets opened with the old token.
 */
import type { Server } from 'node:http';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ConsoleApi } from '../api/index.js';
import { clientIp, type ProxyTrust } from '../api/http.js';
import { ClusterLive, PeerVerifier } from '../cluster/index.js';
import type { MediaEngine } from '../media/types.js';
import { attachMonitor, TapHub, type Monitor } from '../monitor/index.js';
import { ControlError, type RecordingControl } from '../recording/control.js';
import type { RecordingService } from '../recording/service.js';
import type { Database } from '../store/db.js';
import type { Principal } from '../store/users.js';
import type { DatabaseHealth } from '../store/health.js';
import { nodesRepository } from '../store/nodes.js';
import { watchAdminToken } from './admin-token.js';
import type { Defer } from './shutdown.js';

export interface MonitorParts {
  config: Config;
  server: Server;
  trust: ProxyTrust;
  consoleApi: ConsoleApi;
  db: Database;
  /** While the database does not answer, a connection that needs it to authenticate gets 503 at once. */
  dbHealth: Pick<DatabaseHealth, 'answering'>;
  engine: MediaEngine;
  recording: RecordingService;
  control: RecordingControl;
  log: Logger;
  defer: Defer;
}

export function startMonitor(o: MonitorParts): Monitor {
  const { config, consoleApi, engine, log } = o;
  const taps = new TapHub({
    dataDir: config.dataDir,
    engine: config.console.listenSource === 'spool' ? undefined : engine,
  });
  // Every node's live calls in the monitor; listen-in to another node's call relayed from it.
  const clusterLive = new ClusterLive({
    nodeId: config.cluster.nodeId,
    local: o.recording,
    nodes: nodesRepository(o.db.pool),
    intervalMs: Math.min(2, config.cluster.heartbeatSeconds) * 1000,
    secret: config.cluster.secret,
    taps,
    log,
  });
  o.defer(() => clusterLive.close());
  // Peer nodes open one socket per listen-in they relay: the per-user socket cap is not theirs.
  const peers = new WeakSet<object>();
  // A peer credential opens one socket (its nonce is spent): the re-check of that socket's
  // credential is the principal it was opened with.
  const verifier = new PeerVerifier(config.cluster.secret);
  const peerOf = new WeakMap<object, Principal>();
  const monitor: Monitor = attachMonitor({
    server: o.server,
    token: () => consoleApi.auth.o.adminToken,
    source: clusterLive,
    log,
    // A peer node (cluster secret) relaying listen-in, or a user (whose credential is in the
    // database: a stalled one would hold the upgrade without an answer; refused with 503 instead).
    authenticate: async (req) => {
      const known = peerOf.get(req);
      if (known) return known;
      const peer = verifier.principal(req);
      if (peer) {
        peers.add(peer);
        peerOf.set(req, peer);
        return peer;
      }
      if (!o.dbHealth.answering) throw new Error('the database is not answering');
      return consoleApi.auth.authenticate(req, true);
    },
    filterFor: consoleApi.filterFor,
    stats: (id) => engine.sessionStats(id),
    counters: () => engine.liveCounters(),
    taps: clusterLive.taps,
    onAudioLatency: (ms) => consoleApi.ops.audioLatency(ms),
    access: consoleApi.access,
    clientIp: (req) => clientIp(req, o.trust),
    maxSocketsPerPrincipal: config.console.monitorMaxPerUser,
    uncapped: (who) => peers.has(who),
    pingMs: config.console.monitorPingSeconds * 1000,
    // A peer node relays listen-in only: recording control is for the users of the node holding
    // the call.
    control: (who, action, recordingId, ip) =>
      peers.has(who)
        ? Promise.reject(new ControlError(403, 'a peer node may only relay listen-in'))
        : o.control.act({
            who,
            channel: who.via === 'session' ? 'web' : 'api',
            action,
            ip,
            target: { recordingId },
          }),
  });
  // `srs token rotate-admin` rewrites the admin token file: take the new token, drop the old one.
  if (!config.adminToken) {
    const unwatch = watchAdminToken({
      dataDir: config.dataDir,
      current: () => consoleApi.auth.o.adminToken,
      replace: (next) => {
        consoleApi.auth.setAdminToken(next);
        monitor.revoke({ sessionId: 'admin-token', reason: 'admin token rotated' });
      },
      log,
    });
    o.defer(unwatch);
  }
  o.defer(() => taps.close());
  o.defer(() => monitor.close());
  return monitor;
}
