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
import { ClusterLive, ControlRelay, PeerVerifier, peerAudience, type ActingFor } from '../cluster/index.js';
import type { MediaEngine } from '../media/types.js';
import { attachMonitor, TapHub, type Monitor } from '../monitor/index.js';
import { ControlError, type RecordingControl } from '../recording/control.js';
import type { RecordingService } from '../recording/service.js';
import type { Database } from '../store/db.js';
import type { Principal } from '../store/users.js';
import type { DatabaseHealth } from '../store/health.js';
import { nodesRepository } from '../store/nodes.js';
import { watchAdminToken } from './admin-token.js';
import { tlsPolicy } from './tls.js';
import type { Defer } from './shutdown.js';

export interface MonitorParts {
  config: Config;
  /** This process's instance token in the node registry: peer credentials are made out to it. */
  nodeInstance: string;
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
    tls: tlsPolicy(config),
    log,
  });
  o.defer(() => clusterLive.close());
  // Control of another node's call is relayed to that node (it applies and audits it).
  o.control.setRemote(
    new ControlRelay({
      nodeId: config.cluster.nodeId,
      secret: config.cluster.secret,
      // As the monitor lists them (read every second or two): a miss costs no database query.
      remoteCalls: () => Promise.resolve(clusterLive.remoteCalls()),
      tls: tlsPolicy(config),
      log,
    }),
  );
  o.defer(() => o.control.setRemote(undefined));
  // The user a peer relays for is authenticated here by the secret they used on the peer (their
  // session's, API token or the admin token), never taken on the peer's word: the cluster secret
  // alone cannot act for anyone. An admin token is this node's only if SRS_ADMIN_TOKEN is the same.
  const relayedUser = async (a: ActingFor): Promise<Principal> => {
    const p = await consoleApi.auth.ofSecret(a.credential);
    if (!p || p.userId !== a.userId || p.via !== a.via) {
      log.warn(
        { user: a.username, via: a.via },
        'relayed control refused: the user’s credential is not valid here',
      );
      throw new ControlError(
        403,
        `the credential relayed for ${a.username} is not valid on this node` +
          (a.via === 'admin-token' ? ' (an admin token needs the same SRS_ADMIN_TOKEN on every node)' : ''),
      );
    }
    return p;
  };
  // Peer nodes open one socket per listen-in they relay: the per-user socket cap is not theirs.
  const peers = new WeakSet<object>();
  // A peer credential opens one socket (its nonce is spent): the re-check of that socket's
  // credential is the principal it was opened with.
  const verifier = new PeerVerifier(
    config.cluster.secret,
    peerAudience(config.cluster.nodeId, o.nodeInstance),
  );
  const peerOf = new WeakMap<object, Principal>();
  // The user a peer's socket relays recording control for (its credential names them).
  const actingFor = new WeakMap<object, ActingFor>();
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
      const p = verifier.peer(req);
      if (p) {
        const peer = p.principal;
        peers.add(peer);
        peerOf.set(req, peer);
        if (p.actingFor) actingFor.set(peer, p.actingFor);
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
    // A peer node relays listen-in, and recording control for the user its credential names (the
    // user read again and checked here, the entry audited as theirs, relayed by the peer).
    control: async (who, action, recordingId, ip, req) => {
      if (!peers.has(who))
        return o.control.act({
          who,
          channel: who.via === 'session' ? 'web' : 'api',
          action,
          ip,
          target: { recordingId },
          credential: consoleApi.auth.credentialOf(req, 'ws')?.secret,
        });
      const a = actingFor.get(who);
      if (!a) throw new ControlError(403, 'a peer node may only relay listen-in, or control for a user');
      return o.control.act({
        who: await relayedUser(a),
        channel: a.channel,
        action,
        ip: a.ip,
        target: { recordingId },
        relayedBy: who.username,
      });
    },
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
