/**
 * Raw TCP clients for the edge's attack tests: connect on loopback, watch for the server's close,
 * and ask /healthz from a given address (is the port still serving?).
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * A connected socket to 127.0.0.1:`port`, from `localAddress` (another loopback address stands
 * for another host); its later errors, such as a reset, are ignored.
 */
export async function tcpConnect(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  s.on('error', () => undefined);
  return s;
}

/** Resolves true when the server closes the socket within `ms`, else false. */
export function closedWithin(sock: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * GET /healthz on 127.0.0.1:`port` from `localAddress`, on a new connection (no agent): the
 * status, or the error's code (a refused or reset connection; 'timeout' after 5 s).
 */
export function healthz(port: number, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}
