import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rateLimited, type Logger } from '../log.js';
import { HttpError, sendError } from './http.js';
import type { Metrics } from './metrics.js';

/**
 * Bounds on the HTTP port's connections, so that no client can take the process's file
 * descriptors (which the calls' sockets and spool files need): at most `max` at once and
 * `perAddress` from one address (proxies the settings trust are exempt: every client comes through
 * them), a connection that sends nothing is closed after `firstRequestMs`, and one whose request
 * headers do not arrive in time gets 408 (Node's headersTimeout, checked every second), and a
 * whole request (headers and body) must arrive within `requestMs` (30 s), else 408. Before,
 * Node's defaults held an idle connection for ever and a half-sent request for minutes, and a
 * body trickled in a byte at a time held its connection for 120 s. Bodies read by the API have a
 * shorter deadline of their own, scaled to their limit (readJson).
 *
 * Past `max`, `reserve` more connections are kept for the probes (GET /healthz and /metrics):
 * before, slow or idle clients that filled the limit left the orchestrator's health check and
 * Prometheus's scrape refused at accept (server.maxConnections closes them without a word), and a
 * healthy recorder was restarted, dropping its live calls. A connection taken into the reserve
 * must send its request headers within `reserveHeadersMs` (2 s, TLS handshake included), serves one
 * probe and is closed after its answer; any other request on it gets 503 with Retry-After.
 */
/** A new connection's first bytes (and, over TLS, its finished handshake) are due within this. */
export const FIRST_BYTES_MS = 10_000;
/** A reserve connection's request headers are due within this: a probe sends them at once. */
export const RESERVE_HEADERS_MS = 2000;
/** The only requests served on a reserve connection (GET). */
const PROBES: ReadonlySet<string> = new Set(['/healthz', '/metrics']);

export interface ConnectionLimits {
  max: number;
  perAddress: number;
  /** Addresses not counted per address (the trusted proxies). */
  exempt: (address: string) => boolean;
  /** Connections kept past `max` for the probes only (default 0: none). */
  reserve?: number;
  /** A reserve connection's request headers within this, else it is closed (default 2 s). */
  reserveHeadersMs?: number;
  /** A connection that sends nothing within this is closed (default 10 s). */
  firstRequestMs?: number;
  /** Request headers complete within this, else 408 (default 20 s; more than firstRequestMs). */
  headersMs?: number;
  /** The whole request, body included, within this, else 408 (default 30 s; at least headersMs). */
  requestMs?: number;
}

/** What the limits did, for /metrics. */
export interface ConnectionCounts {
  /** Open connections under `max`, and in the reserve. */
  open: number;
  reserveOpen: number;
  /** Connections taken into the reserve because `max` were open. */
  reserveTaken: number;
  /** Closed at accept: `max` and the reserve full; over the per-address limit. */
  refusedTotal: number;
  refusedPerAddress: number;
  /** On a reserve connection: a request other than a probe (503), headers not in time (closed). */
  reserveNotProbe: number;
  reserveHeaderTimeouts: number;
}

export interface ConnectionGuard {
  readonly counts: Readonly<ConnectionCounts>;
  /**
   * Called first for each request: on a reserve connection, a probe's answer will close it, and
   * any other request is answered 503 here (true: the request is answered).
   */
  refusedOnReserve(req: IncomingMessage, res: ServerResponse): boolean;
}

/** The 503 of a request other than a probe on a reserve connection. */
const reserveOnly = (max: number) =>
  new HttpError(
    503,
    `the server is at its connection limit (${max}, SRS_HTTP_MAX_CONNECTIONS): only GET /healthz and /metrics are served on this connection; try again later`,
    { 'retry-after': '5', connection: 'close' },
  );

function isProbe(req: IncomingMessage): boolean {
  if (req.method !== 'GET') return false;
  try {
    return PROBES.has(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return false;
  }
}

export function limitConnections(server: Server, l: ConnectionLimits, log: Logger): ConnectionGuard {
  const reserve = l.reserve ?? 0;
  // Node closes a connection past maxConnections at accept (event 'drop'), before any of ours.
  server.maxConnections = l.max + reserve;
  server.headersTimeout = Math.max(l.headersMs ?? 20_000, (l.firstRequestMs ?? FIRST_BYTES_MS) + 1000);
  server.requestTimeout = Math.max(server.headersTimeout, l.requestMs ?? 30_000);
  const counts: ConnectionCounts = {
    open: 0,
    reserveOpen: 0,
    reserveTaken: 0,
    refusedTotal: 0,
    refusedPerAddress: 0,
    reserveNotProbe: 0,
    reserveHeaderTimeouts: 0,
  };
  const byAddress = new Map<string, number>();
  // The reserve connections by remote address and port: a request's socket over HTTPS is the
  // TLS socket, not the TCP socket the 'connection' event gave, but it has the same remote end.
  const inReserve = new Map<string, { socket: Socket; headers: NodeJS.Timeout }>();
  const endOf = (s: Pick<Socket, 'remoteAddress' | 'remotePort'>) => `${s.remoteAddress}|${s.remotePort}`;
  const logFull = rateLimited(log, 'warn', 'http: connection limit reached, refusing new ones');
  const logReserve = rateLimited(log, 'warn', 'http: connection limit reached, a probe connection taken');
  const logPerAddress = rateLimited(log, 'warn', 'http: too many connections from one address');
  server.on('drop', () => {
    counts.refusedTotal++;
    logFull({ max: l.max, reserve });
  });
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (!address) {
      socket.destroy();
      return;
    }
    const exempt = l.exempt(address);
    if (!exempt && (byAddress.get(address) ?? 0) >= l.perAddress) {
      counts.refusedPerAddress++;
      logPerAddress({ address, perAddress: l.perAddress });
      socket.destroy();
      return;
    }
    const reserved = counts.open >= l.max;
    if (reserved && counts.reserveOpen >= reserve) {
      counts.refusedTotal++;
      logFull({ max: l.max, reserve });
      socket.destroy();
      return;
    }
    if (!exempt) {
      byAddress.set(address, (byAddress.get(address) ?? 0) + 1);
      socket.once('close', () => {
        const left = (byAddress.get(address) ?? 1) - 1;
        if (left > 0) byAddress.set(address, left);
        else byAddress.delete(address);
      });
    }
    if (reserved) {
      counts.reserveOpen++;
      counts.reserveTaken++;
      logReserve({ address, max: l.max, reserve });
      const end = endOf(socket);
      // A request before the deadline clears it (refusedOnReserve); one that never comes frees the
      // place for the next probe.
      const headers = setTimeout(() => {
        counts.reserveHeaderTimeouts++;
        socket.destroy();
      }, l.reserveHeadersMs ?? RESERVE_HEADERS_MS);
      headers.unref();
      inReserve.set(end, { socket, headers });
      socket.once('close', () => {
        clearTimeout(headers);
        if (inReserve.get(end)?.socket === socket) inReserve.delete(end);
        counts.reserveOpen--;
      });
    } else {
      counts.open++;
      socket.once('close', () => counts.open--);
    }
    // A connection that has sent nothing in time is closed; one that sent bytes is left to the
    // header deadline (and its 408). This fires before that deadline: on Node 20 a destroy() after
    // the server's check at headersTimeout no longer closed an idle socket.
    const silent = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, l.firstRequestMs ?? FIRST_BYTES_MS);
    silent.unref();
    socket.once('close', () => clearTimeout(silent));
  });
  // A WebSocket upgrade (the monitor) on a reserve connection: refused before the monitor sees it.
  // Node hands upgrades to the 'upgrade' listeners only, which cannot stop one another.
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if (event === 'upgrade' && inReserve.has(endOf((args[0] as IncomingMessage).socket))) {
      counts.reserveNotProbe++;
      const socket = args[1] as Duplex;
      socket.on('error', () => socket.destroy());
      socket.once('finish', () => socket.destroy());
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return true;
    }
    return emit(event, ...args);
  }) as typeof server.emit;
  return {
    counts,
    refusedOnReserve(req, res) {
      const r = inReserve.get(endOf(req.socket));
      if (!r) return false;
      clearTimeout(r.headers);
      // One request per reserve connection: closed after its answer, never kept alive.
      res.setHeader('connection', 'close');
      if (isProbe(req)) return false;
      counts.reserveNotProbe++;
      sendError(res, reserveOnly(l.max));
      return true;
    },
  };
}

/** The connection counters of the HTTP port (docs/operations.md, "Health check reserve"). */
export function connectionMetrics(m: Metrics, c: Readonly<ConnectionCounts>): void {
  m.collect('srs_http_connections_open', 'Open connections to the HTTP port, by pool.', 'gauge', () => [
    { labels: { pool: 'ordinary' }, value: c.open },
    { labels: { pool: 'reserve' }, value: c.reserveOpen },
  ]);
  m.collect(
    'srs_http_reserve_connections_total',
    'Connections to the HTTP port taken into the health check reserve (SRS_HTTP_MAX_CONNECTIONS open).',
    'counter',
    () => [{ value: c.reserveTaken }],
  );
  m.collect(
    'srs_http_connections_refused_total',
    'Connections to the HTTP port refused or closed by a limit, by reason.',
    'counter',
    () => [
      { labels: { reason: 'total-limit' }, value: c.refusedTotal },
      { labels: { reason: 'per-address-limit' }, value: c.refusedPerAddress },
      { labels: { reason: 'reserve-not-a-probe' }, value: c.reserveNotProbe },
      { labels: { reason: 'reserve-header-timeout' }, value: c.reserveHeaderTimeouts },
    ],
  );
}
