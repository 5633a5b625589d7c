import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { rateLimited, type Logger } from '../log.js';

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
 */
/** A new connection's first bytes (and, over TLS, its finished handshake) are due within this. */
export const FIRST_BYTES_MS = 10_000;

export interface ConnectionLimits {
  max: number;
  perAddress: number;
  /** Addresses not counted per address (the trusted proxies). */
  exempt: (address: string) => boolean;
  /** A connection that sends nothing within this is closed (default 10 s). */
  firstRequestMs?: number;
  /** Request headers complete within this, else 408 (default 20 s; more than firstRequestMs). */
  headersMs?: number;
  /** The whole request, body included, within this, else 408 (default 30 s; at least headersMs). */
  requestMs?: number;
}

export function limitConnections(server: Server, l: ConnectionLimits, log: Logger): void {
  server.maxConnections = l.max;
  server.headersTimeout = Math.max(l.headersMs ?? 20_000, (l.firstRequestMs ?? FIRST_BYTES_MS) + 1000);
  server.requestTimeout = Math.max(server.headersTimeout, l.requestMs ?? 30_000);
  const byAddress = new Map<string, number>();
  const logFull = rateLimited(log, 'warn', 'http: connection limit reached, refusing new ones');
  const logPerAddress = rateLimited(log, 'warn', 'http: too many connections from one address');
  server.on('drop', () => logFull({ max: l.max }));
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (!address) {
      socket.destroy();
      return;
    }
    if (!l.exempt(address)) {
      const n = (byAddress.get(address) ?? 0) + 1;
      if (n > l.perAddress) {
        logPerAddress({ address, perAddress: l.perAddress });
        socket.destroy();
        return;
      }
      byAddress.set(address, n);
      socket.once('close', () => {
        const left = (byAddress.get(address) ?? 1) - 1;
        if (left > 0) byAddress.set(address, left);
        else byAddress.delete(address);
      });
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
}
