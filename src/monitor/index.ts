import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';
import { ADMIN_TOKEN_PRINCIPAL, type Principal } from '../store/users.js';
import { healthOf, startHealthPoll } from './health.js';
import { ListenIn } from './listen.js';
import {
  CLOSE_ABUSE,
  CLOSE_TOO_MANY_SOCKETS,
  DEFAULT_MAX_SOCKETS_PER_PRINCIPAL,
  DEFAULT_PING_MS,
  OperationGate,
  SocketCounts,
  startHeartbeat,
} from './limits.js';
import { startRecheck } from './recheck.js';
import type { Client, Monitor, MonitorOptions } from './types.js';
import { databaseUnavailable, SrsError } from '../errors.js';
import { rateLimited, type Logger } from '../log.js';
import { sameSecret } from '../secrets.js';

export { TapHub, LiveMixer } from './tap.js';
export { AUDIO_HEADER, MIX_CHANNEL, encodeAudioFrame } from './audio.js';
export type { CallFilter, ListenAccess, LiveCallSource, Monitor, MonitorOptions } from './types.js';

/**
 * What a client is told of a control that failed: the project's own errors (a refusal, a call not
 * found: SrsError) with their status and message; anything else (a database error, a bug) with a
 * generic message, its details in the log only.
 */
function controlFailure(err: unknown, log: Logger): { status: number; error: string } {
  if (err instanceof SrsError)
    return { status: (err as { status?: number }).status ?? 400, error: err.message };
  log.error({ err }, 'monitor: recording control failed');
  return databaseUnavailable(err)
    ? { status: 503, error: 'the database is not answering; try again' }
    : { status: 500, error: 'recording control failed (the server log has the details)' };
}

function reject(socket: Duplex, status: number, reason: string): void {
  // Destroyed once the answer is out: a client that keeps its half open must not hold the socket.
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Node hands over an upgrade's socket without an 'error' listener: a reset client must not crash us. */
function onSocketError(this: Duplex): void {
  this.destroy();
}

/**
 * WebSocket live monitor on the HTTP server (noServer mode). Authenticated clients get a snapshot
 * of the active calls they may see, then call-start / call-update / call-end as state changes.
 * A client may listen to one call at a time: {"type":"listen","recordingId":..,"channel":"mix"|
 * "all"|legId} and {"type":"unlisten"}; audio then flows as binary frames (see encodeAudioFrame).
 */
export function attachMonitor(o: MonitorOptions): Monitor {
  const path = o.path ?? '/monitor';
  const maxBuffered = o.maxBufferedBytes ?? 1 << 20;
  const audioSkip = o.audioSkipBytes ?? 64 * 1024;
  const log = o.log.child({ part: 'monitor' });
  // Anyone can knock: a flood of refused connections is not a line each.
  const logRefused = rateLimited(log, 'warn', 'monitor connection refused: no valid credential');
  const logAuthFailed = rateLimited(log, 'warn', 'monitor authentication failed');
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Map<WebSocket, Client>();
  const counts = new SocketCounts(o.maxSocketsPerPrincipal ?? DEFAULT_MAX_SOCKETS_PER_PRINCIPAL);
  const logOverCap = rateLimited(
    log,
    'warn',
    'monitor connection refused: too many sockets for one credential',
  );
  const logAbuse = rateLimited(log, 'warn', 'monitor client closed: too many listen or control requests');

  const authenticate = async (req: IncomingMessage): Promise<Principal | null> => {
    // The admin token only in the Authorization header (a URL ends up in logs).
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null;
    if (token && sameSecret(token, typeof o.token === 'function' ? o.token() : o.token))
      return ADMIN_TOKEN_PRINCIPAL;
    return o.authenticate ? o.authenticate(req) : null;
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', onSocketError);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return reject(socket, 400, 'Bad Request'); // e.g. an absolute-form target that is no URL
    }
    if (url.pathname !== path) return reject(socket, 404, 'Not Found');
    authenticate(req)
      .then(async (who) => {
        if (!who) {
          logRefused({ from: req.socket.remoteAddress });
          return reject(socket, 401, 'Unauthorized');
        }
        // The cap: a slot taken now (before any await, so that a burst of handshakes cannot all
        // pass), given back when the socket closes, however it ends.
        const release = o.uncapped?.(who) ? () => undefined : counts.take(SocketCounts.keyOf(who));
        if (!release) {
          logOverCap({ user: who.username, from: req.socket.remoteAddress, max: counts.max });
          return refuseOverCap(req, socket, head);
        }
        socket.once('close', release);
        if (socket.destroyed) return release(); // reset while authenticating: its 'close' may be past
        const filter = o.filterFor ? await o.filterFor(who) : () => true;
        const origin = {
          ip: o.clientIp ? o.clientIp(req) : (req.socket.remoteAddress ?? ''),
          userAgent: String(req.headers['user-agent'] ?? '').slice(0, 200),
        };
        socket.removeListener('error', onSocketError); // ws has its own from here on
        wss.handleUpgrade(req, socket, head, (ws) => {
          // A frame breaking the protocol (too large, bad UTF-8, unmasked...): ws closes the
          // connection with its code (1002, 1007, 1009) and emits 'error', which must be handled.
          ws.on('error', (err: Error & { code?: string }) =>
            log.warn(
              { err: err.message, code: err.code, user: who.username },
              'monitor client closed: bad frame',
            ),
          );
          clients.set(ws, { who, filter, origin, req, gate: new OperationGate(), listen: null });
          wss.emit('connection', ws, req);
        });
      })
      // The credential or the user's access could not be read (the database is down): 503.
      .catch((err: unknown) => {
        logAuthFailed({ err });
        if (!socket.destroyed) reject(socket, 503, 'Service Unavailable');
      });
  };
  o.server.on('upgrade', onUpgrade);

  /** A handshake over its credential's cap: completed, then closed with a reason a browser can read. */
  const refuseOverCap = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.removeListener('error', onSocketError);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      ws.close(CLOSE_TOO_MANY_SOCKETS, `too many monitor connections for this user (at most ${counts.max})`);
      setTimeout(() => ws.terminate(), 1000).unref();
    });
  };

  const sendText = (ws: WebSocket, text: string): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > maxBuffered) {
      log.warn('monitor client too slow; dropped');
      ws.terminate();
      return;
    }
    ws.send(text);
  };
  const send = (ws: WebSocket, msg: unknown): void => sendText(ws, JSON.stringify(msg));

  const view = (c: ActiveCall) => ({
    ...c,
    durationMs: Date.now() - new Date(c.startedAt).getTime(),
    paused: (c as { paused?: boolean }).paused ?? false,
    media: healthOf(o.stats?.(c.recordingId)),
  });

  const listenIn = new ListenIn({ o, log, clients, send, maxBuffered, audioSkip });
  /** The calls `c` may see now. */
  const visible = (c: Client) => o.source.activeCalls().filter((x) => c.filter(x.participants));
  const snapshot = (c: Client) => ({ type: 'snapshot', calls: visible(c).map(view) });
  const visibleIds = (c: Client) =>
    visible(c)
      .map((x) => x.recordingId)
      .join(',');

  /**
   * Whether `c` may start a listen/control operation now (limits.ts); if not, the refusal is
   * answered, and a socket that keeps sending refused requests is closed with 1008.
   */
  const admitted = (ws: WebSocket, c: Client, about: { action?: string; recordingId: string }): boolean => {
    if (ws.readyState !== ws.OPEN) return false;
    const no = c.gate.admit();
    if (!no) return true;
    send(ws, { type: 'error', ...about, status: no.status, error: no.error });
    if (no.close) {
      logAbuse({ user: c.who.username, from: c.origin.ip });
      ws.close(CLOSE_ABUSE, 'too many listen or control requests');
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    return false;
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const c = clients.get(ws);
    if (!c) return ws.terminate();
    log.info({ from: req.socket.remoteAddress, user: c.who.username }, 'monitor client connected');
    send(ws, snapshot(c));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : String(data);
      if (text === 'ping') return send(ws, { type: 'pong' });
      let msg: { type?: unknown; recordingId?: unknown; channel?: unknown } | null;
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        msg = null;
      }
      // JSON null, numbers and strings are no messages either.
      if (typeof msg !== 'object' || msg === null)
        return send(ws, { type: 'error', error: 'messages are JSON objects (or "ping")' });
      if (msg.type === 'listen' && typeof msg.recordingId === 'string') {
        const target = listenIn.check(
          c,
          msg.recordingId,
          typeof msg.channel === 'string' ? msg.channel : 'mix',
        );
        if ('error' in target) {
          void listenIn.stop(c, 'switched');
          return send(ws, { type: 'error', recordingId: msg.recordingId, error: target.error });
        }
        if (!admitted(ws, c, { recordingId: msg.recordingId })) return;
        c.gate
          .run(() => listenIn.start(ws, c, target))
          .catch((err: unknown) => log.error({ err }, 'listen-in failed'));
        return;
      }
      if (
        (msg.type === 'pause' || msg.type === 'resume' || msg.type === 'start' || msg.type === 'stop') &&
        typeof msg.recordingId === 'string'
      ) {
        const action = msg.type;
        const recordingId = msg.recordingId;
        const control = o.control;
        if (!control) return send(ws, { type: 'error', error: 'recording control is not available' });
        const act = () =>
          control(c.who, action, recordingId, c.origin.ip, c.req).then(
            (r) => send(ws, { type: 'control', action, result: r }),
            (err: unknown) => send(ws, { type: 'error', action, recordingId, ...controlFailure(err, log) }),
          );
        // No live call of that id: control answers 404 without the database, ungated.
        if (!o.source.activeCalls().some((x) => x.recordingId === recordingId)) return void act();
        if (admitted(ws, c, { action, recordingId })) void c.gate.run(act);
        return;
      }
      if (msg.type === 'unlisten') {
        void listenIn.stop(c);
        return send(ws, { type: 'unlistened' });
      }
      return send(ws, {
        type: 'error',
        error: 'unknown message; use listen, unlisten, pause, resume, start, stop or ping',
      });
    });
    ws.on('close', () => {
      void listenIn.stop(c, 'disconnected');
      clients.delete(ws);
    });
  });

  const onEvent = (e: RecordingEvent): void => {
    if (clients.size === 0) return; // nothing to build per call while nobody watches
    const call = (e as { call?: ActiveCall }).call;
    // One serialisation per event whatever the number of watchers.
    const text = JSON.stringify(call ? { ...e, call: view(call) } : e);
    for (const [ws, c] of clients) {
      if (call && !c.filter(call.participants)) continue;
      if (!call && c.who.role !== 'admin') continue;
      sendText(ws, text);
      if (e.type === 'call-end' && c.listen?.recordingId === call?.recordingId)
        void listenIn.stop(c, 'call ended');
    }
  };
  o.source.on('event', onEvent);

  // Media health: publish a call-update when a call's loss counters change.
  const statsTimer = startHealthPoll(o, clients, view, sendText);
  // Half-open and silent sockets (a NAT that forgot them, a laptop asleep) are cut.
  const heartbeat = startHeartbeat(wss, o.pingMs ?? DEFAULT_PING_MS, (ws) =>
    log.info({ user: clients.get(ws)?.who.username }, 'monitor client closed: no answer to ping'),
  );

  const revoke = (m: { userId?: string; sessionId?: string; reason: string }): number => {
    let n = 0;
    for (const [ws, c] of clients) {
      const hit =
        (m.userId !== undefined && c.who.userId === m.userId) ||
        (m.sessionId !== undefined && c.who.sessionId === m.sessionId);
      if (!hit) continue;
      n++;
      clients.delete(ws);
      // The audio stops now; the socket closes once the end of its listen-in is in the trail, so
      // whoever sees the close finds the entry.
      void listenIn.stop(c, m.reason).then(() => {
        send(ws, { type: 'revoked', reason: m.reason });
        ws.close(4401, m.reason.slice(0, 100));
        // A client that does not complete the closing handshake is cut off.
        setTimeout(() => ws.terminate(), 1000).unref();
      });
    }
    if (n > 0) log.info({ ...m, sockets: n }, 'monitor sockets closed: access changed');
    return n;
  };
  /**
   * After `c`'s call filter was read again (who is in which group, who holds which number, as they
   * are now): a listen-in the new filter or the `listen` permission forbids stops (audited, `access
   * changed`), and a client whose visible calls changed gets a new snapshot.
   */
  const applyFilter = async (ws: WebSocket, c: Client, before: string): Promise<void> => {
    const listened = c.listen && o.source.activeCalls().find((x) => x.recordingId === c.listen?.recordingId);
    // The call out of the filter, or the listen permission now above the user's role.
    const mayListen =
      !listened ||
      (await (o.access?.check?.(c.who, 'listen-in') ?? Promise.resolve()).then(
        () => true,
        (err: unknown) => (err as { status?: number }).status !== 403,
      ));
    if (listened && (!c.filter(listened.participants) || !mayListen)) {
      void listenIn.stop(c, 'access changed');
      send(ws, { type: 'unlistened', reason: 'access changed' });
    }
    // The calls' views (media health included) are built only for a snapshot that changed.
    if (visibleIds(c) !== before) send(ws, snapshot(c));
  };
  // The backstop: every credential and call filter is checked again (expired sessions, changes
  // made by the CLI or on another node), bounded in cost and never two runs at once (recheck.ts).
  const recheck = startRecheck({
    clients,
    authenticate,
    filterFor: o.filterFor,
    revoke,
    applyFilter,
    visibleIds,
    everyMs: o.recheckMs ?? 30_000,
    log,
  });

  return {
    revoke,
    refreshFilters: () => recheck.refreshFilters(),
    get clients() {
      return clients.size;
    },
    get listeners() {
      return listenIn.listeners;
    },
    close() {
      clearInterval(statsTimer);
      recheck.stop();
      clearInterval(heartbeat);
      o.source.off('event', onEvent);
      o.server.off('upgrade', onUpgrade);
      // The listen-ins' ends are in the trail before the monitor reports closed (the database goes next).
      const audited = Promise.all([...clients.values()].map((c) => listenIn.stop(c, 'server shutting down')));
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      return Promise.all([audited, new Promise<void>((resolve) => wss.close(() => resolve()))]).then(
        () => undefined,
      );
    },
  };
}
