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
 * How long a body of at most `max` bytes may take to arrive: 10 s, and 1 s more for each 128 KiB
 * of the limit (11 s for the default 64 KiB, 26 s for the 2 MiB users import). A body trickled in
 * slower is answered 408 with `Connection: close`: before, it held its connection for the server's
 * whole request timeout (120 s), and 10 addresses holding 100 connections each took the port.
 */
export const bodyDeadlineMs = (max: number): number => 10_000 + Math.ceil(max / (128 * 1024)) * 1000;

/** How deep a request body's arrays and objects may nest. */
export const MAX_JSON_DEPTH = 64;

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
        clearTimeout(deadline);
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('aborted', onAborted);
        req.off('close', onAborted);
        if (err) reject(err);
        else resolve();
      };
      // The whole body is due by its deadline, however slowly it trickles.
      const deadline = setTimeout(
        () => done(new HttpError(408, 'request body not received in time', { connection: 'close' })),
        bodyDeadlineMs(max),
      );
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
  if (tooDeep(v, MAX_JSON_DEPTH))
    throw badRequest(`request body nested too deeply (more than ${MAX_JSON_DEPTH} levels)`);
  const nul = nulAt(v, 'body');
  if (nul) throw badRequest(`${nul} contains a NUL character`);
  return v as Record<string, unknown>;
}

/**
 * Whether a parsed JSON value nests arrays and objects deeper than `max` levels. Iterative: a body
 * nested 5,000 deep (10 KB) overflowed the stack of the recursive walk, a 500 and an error log line
 * with a stack for each such request.
 */
export function tooDeep(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [x, depth] = item;
    if (!x || typeof x !== 'object') continue;
    if (depth > max) return true;
    for (const y of Object.values(x)) if (y && typeof y === 'object') stack.push([y, depth + 1]);
  }
  return false;
}

/**
 * Where the first NUL character is in a JSON value (`body.a.0`, `body key "x"`), if anywhere.
 * Iterative (an explicit stack), so no nesting overflows the call stack; depth-first in key order.
 */
export function nulAt(v: unknown, at: string): string | undefined {
  // Each item: a value and where it is, or (key set) an object key to check before its value.
  const stack: { x: unknown; where: string; key?: string }[] = [{ x: v, where: at }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { x, where, key } = item;
    if (key !== undefined) {
      if (key.includes('\0')) return `${where} key ${JSON.stringify(key.replace(/\0/g, ''))}`;
      continue;
    }
    if (typeof x === 'string') {
      if (x.includes('\0')) return where;
      continue;
    }
    if (!x || typeof x !== 'object') continue;
    const entries = Object.entries(x);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, y] = entries[i] as [string, unknown];
      stack.push({ x: y, where: `${where}.${k}` }, { x: undefined, where, key: k });
    }
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
 * The address of one hop of a forwarding header: an RFC 7239 element's `for=` value (`for=192.0.2.7;
 * proto=https`), unquoted, without the port some proxies add (`192.0.2.7:4711`, `[2001:db8::7]:4711`).
 * With the port kept, each new connection of a client was a new address to the login throttle.
 */
export function hopAddress(hop: string): string {
  let v = hop.trim();
  const param = /(?:^|;)\s*for\s*=\s*("[^"]*"|[^;]*)/i.exec(v);
  if (param) v = (param[1] as string).trim();
  else if (v.includes(';')) v = (v.split(';')[0] as string).trim();
  v = v.replace(/^"(.*)"$/, '$1').trim();
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(v);
  if (bracketed) v = bracketed[1] as string;
  else if (/^[0-9.]+:\d+$/.test(v)) v = v.replace(/:\d+$/, '');
  return bare(v);
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the nearest
 * address in the configured header (X-Forwarded-For, or an RFC 7239 Forwarded) that is not itself
 * a trusted proxy. What a client wrote there before the proxies added theirs is never reached.
 */
export function clientIp(req: IncomingMessage, trust?: ProxyTrust): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trust || !trusted(peer, trust)) return bare(peer);
  const raw = req.headers[trust.header];
  const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map(hopAddress)
    .filter((x) => x !== '');
  for (let i = hops.length - 1; i >= 0; i--) if (!trusted(hops[i] as string, trust)) return hops[i] as string;
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
