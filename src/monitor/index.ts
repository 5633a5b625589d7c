import type { IncomingMessage, Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { ActiveCall, RecordingEvent } from '../recording/types.js';

/** The read-only face of the recording service the monitor needs. */
export interface LiveCallSource {
  activeCalls(): ActiveCall[];
  on(event: 'event', listener: (e: RecordingEvent) => void): unknown;
  off(event: 'event', listener: (e: RecordingEvent) => void): unknown;
}

export interface MonitorOptions {
  server: Server;
  path?: string;
  token: string;
  source: LiveCallSource;
  log: Logger;
  /** A client whose unsent data exceeds this is dropped rather than grow server memory. */
  maxBufferedBytes?: number;
}

export interface Monitor {
  readonly clients: number;
  close(): Promise<void>;
}

function tokenFrom(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  // Browsers cannot set headers on a WebSocket: accept ?token= too.
  const url = new URL(req.url ?? '/', 'http://x');
  return url.searchParams.get('token');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function reject(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * WebSocket live monitor on the HTTP server (noServer mode): authenticated clients get a snapshot of
 * the active calls, then one message per call start and end.
 */
export function attachMonitor(o: MonitorOptions): Monitor {
  const path = o.path ?? '/monitor';
  const maxBuffered = o.maxBufferedBytes ?? 1 << 20;
  const log = o.log.child({ part: 'monitor' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== path) return reject(socket, 404, 'Not Found');
    const token = tokenFrom(req);
    if (!token || !sameSecret(token, o.token)) {
      log.warn({ from: req.socket.remoteAddress }, 'monitor connection refused: bad or missing token');
      return reject(socket, 401, 'Unauthorized');
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  o.server.on('upgrade', onUpgrade);

  const send = (ws: WebSocket, msg: unknown): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > maxBuffered) {
      log.warn('monitor client too slow; dropped');
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify(msg));
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    log.info({ from: req.socket.remoteAddress }, 'monitor client connected');
    send(ws, { type: 'snapshot', calls: o.source.activeCalls() });
    ws.on('message', (data) => {
      // The only client message for now is a ping for liveness checks.
      if (String(data) === 'ping') send(ws, { type: 'pong' });
    });
  });

  const onEvent = (e: RecordingEvent): void => {
    for (const ws of wss.clients) send(ws, e);
  };
  o.source.on('event', onEvent);

  return {
    get clients() {
      return wss.clients.size;
    },
    close() {
      o.source.off('event', onEvent);
      o.server.off('upgrade', onUpgrade);
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
