import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureVersion } from 'node:tls';
import { extname, join, normalize } from 'node:path';
import { databaseUnavailable, ParseError, QueryTimeoutError } from '../errors.js';
import { rateLimited, type Logger } from '../log.js';
import { ConflictError, type UsersRepository } from '../store/users.js';
import type { AuditRepository } from '../store/audit.js';
import { connectionMetrics, FIRST_BYTES_MS, limitConnections } from './connections.js';
import {
  HttpError,
  badRequest,
  clientIp,
  overHttps,
  requestOrigin,
  sendError,
  sendJson,
  trusted,
  type ProxyTrust,
} from './http.js';
import type { Metrics } from './metrics.js';
import type { Ctx } from './routes.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
  /** Readiness: takes calls and the database answers. */
  health: () => Promise<{ ok: boolean; details: Record<string, unknown> }>;
  /** The REST API (mounted under /api/v1). */
  api?: { handle(ctx: Ctx): Promise<boolean> };
  /** Prometheus metrics (/metrics). */
  metrics?: Metrics;
  /** The built web console (index.html, app.js, style.css), served at /. */
  webDir?: string;
  /** HTTPS with this certificate and key (PEM); HSTS is then sent. */
  /** PEM certificate and key, and the lowest TLS version and cipher list (OpenSSL syntax) to offer. */
  tls?: { cert: string; key: string; minVersion?: SecureVersion; ciphers?: string };
  /** TLS-terminating proxies whose X-Forwarded-* headers are believed. */
  trust?: ProxyTrust;
  /** May this request read /metrics? (absent: anyone) */
  metricsAllowed?: (req: IncomingMessage) => Promise<boolean>;
  /** Connections at once, and from one address (trusted proxies exempt); default 1000 / 100. */
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  /** Connections kept past maxConnections for GET /healthz and /metrics only; default 8. */
  healthReserve?: number;
  /** False while the database does not answer: API requests get 503 at once instead of waiting on it. */
  databaseAnswering?: () => boolean;
}

/** The answer to a request that needs a database that is away or not answering. */
const databaseAway = (headers: Record<string, string> = {}) =>
  new HttpError(503, 'the database is unavailable; try again later', { 'retry-after': '5', ...headers });

/** How often a request waiting in the API looks whether the database has been found stalled. */
const STALL_CHECK_MS = 250;

/**
 * A request already waiting on the database when it stalls: answered 503 as soon as the stall is
 * known (the health probe's timeout, a few seconds), not when the database answers again, minutes
 * later. Unless its answer has begun: that one is left to finish. The handler goes on in the
 * background and finds its response sent (what it writes then, or throws, is dropped).
 */
async function unlessStalled(
  handled: Promise<unknown>,
  res: ServerResponse,
  answering: () => boolean,
  logAnswered: () => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      if (answering() || res.headersSent) return;
      clearInterval(timer);
      res.on('error', () => undefined);
      handled.catch(() => undefined);
      logAnswered();
      // Its body may be unread: the connection closes after the answer.
      sendError(res, databaseAway({ connection: 'close' }));
      resolve();
    }, STALL_CHECK_MS);
  });
  try {
    await Promise.race([handled, stalled]);
  } finally {
    clearInterval(timer);
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** The console's own addresses (web/src/router.ts): the page is index.html for each of them. */
const CONSOLE_ROUTES =
  /^\/(live|dashboard|recordings|recordings\/[^/]+|reports|audit|tokens|users|settings|recording-control|keys|delivery|account)\/?$/;

async function serveStatic(dir: string, pathname: string, res: ServerResponse): Promise<boolean> {
  const rel =
    pathname === '/' || CONSOLE_ROUTES.test(pathname)
      ? 'index.html'
      : normalize(pathname)
          .replace(/^(\.\.(\/|\\|$))+/, '')
          .slice(1);
  if (rel.includes('..') || !TYPES[extname(rel)]) return false;
  const body = await readFile(join(dir, rel)).catch(() => null);
  if (!body) {
    if (rel === 'index.html') {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The web console is not built: run `npm run build:web`.\n');
      return true;
    }
    return false;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(rel)] as string,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(rel === 'index.html'
      ? {
          'content-security-policy':
            "default-src 'self'; media-src 'self' blob:; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'",
          'x-frame-options': 'DENY',
        }
      : {}),
  });
  res.end(body);
  return true;
}

/** One HTTP server: /healthz, /metrics, the REST API at /api/v1, the web console at /. */
export async function startHttpServer(o: HttpServerOptions): Promise<Server> {
  const log = o.log.child({ part: 'http' });
  const logStalled = rateLimited(log, 'warn', 'database not answering: a waiting API request answered 503');
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      // An absolute-form request target that is no URL (`GET http://[ HTTP/1.1`).
      throw badRequest('the request target is not a URL');
    }
    const https = overHttps(req, o.trust);
    if (https) res.setHeader('strict-transport-security', 'max-age=31536000');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      try {
        const h = await o.health();
        sendJson(res, h.ok ? 200 : 503, h);
      } catch (err) {
        sendJson(res, 503, { ok: false, error: String(err) });
      }
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics' && o.metrics) {
      if (o.metricsAllowed && !(await o.metricsAllowed(req)))
        throw new HttpError(
          401,
          'metrics need a credential (Bearer admin or metrics token; SRS_METRICS_PUBLIC=true opens them)',
          {
            'www-authenticate': 'Bearer realm="srs"',
          },
        );
      const text = await o.metrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
      return;
    }
    if (o.api && (url.pathname === '/api/v1' || url.pathname.startsWith('/api/v1/'))) {
      if (o.databaseAnswering && !o.databaseAnswering()) throw databaseAway();
      const handled = o.api.handle({
        req,
        res,
        url,
        ip: clientIp(req, o.trust),
        who: null,
        secure: https,
        origin: requestOrigin(req, o.trust),
      });
      await (o.databaseAnswering
        ? unlessStalled(handled, res, o.databaseAnswering, () =>
            logStalled({ method: req.method, url: req.url }),
          )
        : handled);
      return;
    }
    if (
      (req.method === 'GET' || req.method === 'HEAD') &&
      o.webDir &&
      (await serveStatic(o.webDir, url.pathname, res))
    )
      return;
    throw new HttpError(404, `not found: ${url.pathname}`);
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // On a connection of the health check reserve, only the probes go on (`guard` is set below,
    // before the server listens).
    if (guard.refusedOnReserve(req, res)) return;
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err);
      // A value the store could not take (a search's regular expression): the client's mistake.
      if (err instanceof ParseError) return sendError(res, new HttpError(400, err.message));
      // A search past its time limit (limits.searchTimeoutMs): too broad, the database is fine.
      if (err instanceof QueryTimeoutError) return sendError(res, new HttpError(503, err.message));
      if (databaseUnavailable(err)) {
        log.warn({ err: (err as Error).message, url: req.url, method: req.method }, 'database unavailable');
        return sendError(res, databaseAway());
      }
      log.error({ err, url: req.url, method: req.method }, 'request failed');
      sendError(res, new HttpError(500, 'internal error'));
    });
  };
  // Header deadlines are checked every second (Node's default, 30 s, let a half-sent request stay).
  const timing = { connectionsCheckingInterval: 1000 };
  // A TLS handshake gets as long as a plain connection gets for its first bytes (Node's default,
  // 120 s, let half a ClientHello hold a connection for two minutes).
  const server: Server = o.tls
    ? (createHttpsServer(
        {
          ...timing,
          handshakeTimeout: FIRST_BYTES_MS,
          cert: o.tls.cert,
          key: o.tls.key,
          ...(o.tls.minVersion ? { minVersion: o.tls.minVersion } : {}),
          ...(o.tls.ciphers ? { ciphers: o.tls.ciphers, honorCipherOrder: true } : {}),
        },
        onRequest,
      ) as unknown as Server)
    : createServer(timing, onRequest);
  const guard = limitConnections(
    server,
    {
      max: o.maxConnections ?? 1000,
      perAddress: o.maxConnectionsPerAddress ?? 100,
      reserve: o.healthReserve ?? 8,
      exempt: (address) => trusted(address, o.trust),
    },
    log,
  );
  if (o.metrics) connectionMetrics(o.metrics, guard.counts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * Creates the first admin user when there is none: username `admin`, with SRS_ADMIN_PASSWORD or a
 * generated password printed once. Returns the generated password, if any.
 */
export async function ensureFirstAdmin(
  users: UsersRepository,
  audit: AuditRepository,
  password: string | undefined,
  log: Logger,
): Promise<string | undefined> {
  if ((await users.count()) > 0) return undefined;
  const generated = password ? undefined : randomBytes(12).toString('base64url');
  let u: Awaited<ReturnType<UsersRepository['create']>>;
  try {
    u = await users.create({
      username: 'admin',
      displayName: 'Administrator',
      role: 'admin',
      password: password ?? generated,
    });
  } catch (err) {
    // Another node created it first (both saw no user): nothing to do.
    if (err instanceof ConflictError) return undefined;
    throw err;
  }
  await audit.append({
    actor: 'system',
    actorRole: 'system',
    ip: '',
    via: 'system',
    action: 'user.create',
    resource: 'user',
    resourceId: u.id,
    details: { username: 'admin', role: 'admin', firstStart: true },
  });
  log.warn({ username: 'admin' }, 'created the first admin user');
  return generated;
}
