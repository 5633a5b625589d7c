import type { IncomingMessage, ServerResponse } from 'node:http';

/** Small HTTP helpers: JSON replies, a typed error carrying its status, a body reader, a router. */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** More fields of the error's JSON body (what a client needs to act on it). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (m: string) => new HttpError(400, m);
export const unauthorized = (m = 'authentication required') => new HttpError(401, m);
export const forbidden = (m: string) => new HttpError(403, m);
export const notFound = (m: string) => new HttpError(404, m);
export const conflict = (m: string) => new HttpError(409, m);

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** A CSV download (UTF-8, the caller's text already starting with its byte-order mark). */
export function sendCsv(res: ServerResponse, filename: string, text: string): void {
  res.writeHead(200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${filename}"`,
    'cache-control': 'private, no-store',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { ...err.extra, error: err.message, status: err.status }, err.headers);
}

/** What is read and thrown away of a body over its limit before the 413 goes out (see readJson). */
const DISCARD_MAX = 16 << 20;
const DISCARD_MS = 10_000;

/**
 * Reads a JSON body of at most `max` bytes; 400 on bad JSON or a NUL character in any of its
 * strings (Postgres text cannot hold one), 413 when too large, 415 on a wrong type.
 *
 * A body over the limit is read to its end and thrown away before the 413 is sent (up to 16 MiB or
 * 10 s more; a larger one declared up front is refused at once): a server that closes a connection
 * with unread data resets it, and the client loses the answer. The 413 says `Connection: close`, so
 * the client's next request goes on a new connection.
 */
export async function readJson(req: IncomingMessage, max = 64 * 1024): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  const tooLarge = () => new HttpError(413, `request body larger than ${max} bytes`, { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > max + DISCARD_MAX) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  if (!req.readableEnded)
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        clearTimeout(timer);
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('aborted', onAborted);
        req.off('close', onAborted);
        if (err) reject(err);
        else resolve();
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= max) chunks.push(chunk);
        else if (size > max + DISCARD_MAX) done(tooLarge());
        // Over the limit: read on and throw away (bounded in time), then answer.
        else timer ??= setTimeout(() => done(tooLarge()), DISCARD_MS);
      };
      const onEnd = () => done(size > max ? tooLarge() : undefined);
      const onError = (err: Error) => done(err);
      const onAborted = () => done(new HttpError(400, 'request body cut short'));
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('aborted', onAborted);
      req.on('close', onAborted);
    });
  if (size === 0) return {};
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'request body must be application/json');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('request body is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('request body must be a JSON object');
  const nul = nulAt(v, 'body');
  if (nul) throw badRequest(`${nul} contains a NUL character`);
  return v as Record<string, unknown>;
}

/** Where the first NUL character is in a JSON value (`body.a.0`, `body key "x"`), if anywhere. */
export function nulAt(v: unknown, at: string): string | undefined {
  if (typeof v === 'string') return v.includes('\0') ? at : undefined;
  if (!v || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v)) {
    if (k.includes('\0')) return `${at} key ${JSON.stringify(k.replace(/\0/g, ''))}`;
    const found = nulAt(x, `${at}.${k}`);
    if (found) return found;
  }
  return undefined;
}

/** Proxies whose forwarding headers are believed (SRS_TRUST_PROXY), and the client address header. */
export interface ProxyTrust {
  proxies: readonly string[];
  header: string;
}

const bare = (a: string) => a.replace(/^::ffff:/, '');

/** Is this peer address one of the proxies whose headers are believed? */
export function trusted(addr: string, t: ProxyTrust | undefined): boolean {
  if (!t || t.proxies.length === 0) return false;
  const a = bare(addr);
  return t.proxies.some((p) => (p === 'loopback' ? a === '127.0.0.1' || a === '::1' : bare(p) === a));
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the nearest
 * address in the configured header that is not itself a trusted proxy.
 */
export function clientIp(req: IncomingMessage, trust?: ProxyTrust): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trust || !trusted(peer, trust)) return bare(peer);
  const raw = req.headers[trust.header];
  const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  for (let i = hops.length - 1; i >= 0; i--)
    if (!trusted(hops[i] as string, trust)) return bare(hops[i] as string);
  return bare(peer);
}

/** Whether the client reached us over HTTPS (directly, or through a trusted TLS-terminating proxy). */
export function overHttps(req: IncomingMessage, trust?: ProxyTrust): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  return trusted(req.socket.remoteAddress ?? '', trust) && req.headers['x-forwarded-proto'] === 'https';
}

/**
 * The server's origin as the client reached it: its scheme (overHttps) and the Host it asked for,
 * or, from a trusted proxy, the first X-Forwarded-Host when the proxy sends one. Null without a host.
 */
export function requestOrigin(req: IncomingMessage, trust?: ProxyTrust): string | null {
  const scheme = overHttps(req, trust) ? 'https' : 'http';
  const forwarded = trusted(req.socket.remoteAddress ?? '', trust)
    ? req.headers['x-forwarded-host']
    : undefined;
  const host =
    (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() || req.headers.host;
  if (!host) return null;
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return null;
  }
}

export type Params = Record<string, string>;
export type Handler<C> = (ctx: C, params: Params) => Promise<void> | void;

interface Route<C> {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler<C>;
}

/** Routes by method and path pattern ('/recordings/:id/notes'). */
export class Router<C> {
  readonly #routes: Route<C>[] = [];

  add(method: string, pattern: string, handler: Handler<C>): this {
    const names: string[] = [];
    const re = new RegExp(
      '^' +
        pattern.replace(/:([a-zA-Z]+)/g, (_m, n: string) => {
          names.push(n);
          return '([^/]+)';
        }) +
        '$',
    );
    this.#routes.push({ method, re, names, handler });
    return this;
  }

  /** The handler and params for a request, or an HttpError (404, or 405 with Allow). */
  match(method: string, path: string): { handler: Handler<C>; params: Params } | HttpError {
    const allowed: string[] = [];
    for (const r of this.#routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
        allowed.push(r.method);
        continue;
      }
      const params: Params = {};
      r.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1] ?? '');
        } catch {
          params[n] = '';
        }
      });
      return { handler: r.handler, params };
    }
    if (allowed.length > 0)
      return new HttpError(405, `method ${method} not allowed here`, { allow: allowed.join(', ') });
    return notFound(`no such endpoint: ${method} ${path}`);
  }
}
