import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { roleRank, type Principal, type Role } from '../store/users.js';
import { crossSiteCookieRequest } from './auth.js';
import {
  HttpError,
  Router,
  badRequest,
  forbidden,
  notFound,
  nulAt,
  readJson,
  requestOrigin,
  unauthorized,
  type Params,
} from './http.js';

/**
 * The API's one route table: each route names its method, path, minimum role, the zod schemas of
 * its query string and body, and its handler. The router is filled from the table and the OpenAPI
 * document (openapi.ts) is written from it, so the two cannot disagree.
 */

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  ip: string;
  who: Principal | null;
  /** Reached over HTTPS (directly or via a trusted proxy): the session cookie gets Secure. */
  secure?: boolean;
  /**
   * The server's origin as the client reached it (requestOrigin: scheme and host, through a trusted
   * proxy its X-Forwarded-Proto and X-Forwarded-Host); absent, read from the request alone.
   */
  origin?: string | null;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteInput<Q, B> {
  params: Params;
  query: Q;
  body: B;
}

export interface RouteDef<Q = unknown, B = unknown> {
  method: Method;
  /** '/recordings/:id/notes' (relative to /api/v1). */
  path: string;
  summary: string;
  /** Minimum role; 'anyone' needs no credential ('record-only': any authenticated principal). */
  role: Role | 'anyone';
  /** The query string's parameters (an object of optional string fields, parsed by this schema). */
  query?: z.ZodObject;
  body?: z.ZodType<B>;
  /** Largest body accepted, in bytes (64 KiB by default). */
  bodyLimit?: number;
  /** What a success returns, when not JSON with 200 (201 for a POST that creates). */
  response?: { status?: number; audio?: boolean; produces?: string[] };
  /** Refusals particular to the route, by status (the OpenAPI document describes them). */
  errors?: Record<number, string>;
  handler(ctx: Ctx, input: RouteInput<Q, B>): Promise<void> | void;
}

/** A route definition with its query and body types inferred from its schemas. */
export function route<Q extends z.ZodObject | undefined = undefined, B = undefined>(
  d: Omit<RouteDef<Q extends z.ZodObject ? z.output<Q> : Record<string, never>, B>, 'query'> & {
    query?: Q;
  },
): RouteDef {
  return d as unknown as RouteDef;
}

/** The principal of a request with at least role `min`; 401 without one, 403 below it. */
export function need(ctx: Ctx, min: Role = 'record-only'): Principal {
  if (!ctx.who) throw unauthorized();
  if (roleRank(ctx.who.role) < roleRank(min)) throw forbidden(`this needs the ${min} role or higher`);
  return ctx.who;
}

/** `v` through `schema`, or 400 naming each bad field. */
export function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success)
    throw badRequest(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

/** A query string as an object: the first value of each name; empty values are left out. */
export function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (v !== '' && !(k in out)) out[k] = v;
  return out;
}

// --- query parameter schemas (strings in, typed values out) ------------------------------------

export const qStr = (description: string) => z.string().optional().describe(description);

/** ISO 8601's four-digit years: what every column and client takes (Postgres's own range is wider). */
const MIN_DATE = Date.UTC(1, 0, 1);
const MAX_DATE = Date.UTC(10000, 0, 1);

export const qDate = (description: string) =>
  z
    .string()
    .transform((v, c) => {
      const d = new Date(v);
      const t = d.getTime();
      if (t >= MIN_DATE && t < MAX_DATE) return d;
      c.addIssue({
        code: 'custom',
        message: Number.isNaN(t) ? 'not a date (use ISO 8601)' : 'out of range (years 0001-9999)',
      });
      return z.NEVER;
    })
    .optional()
    .meta({ description, format: 'date-time' });

/** Decimal digits only (no 1e3, 0x10, 1.5), from `min` to `max` (at most 2^53 - 1). */
export const qInt = (description: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .transform((v, c) => {
      const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
      if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
      c.addIssue({
        code: 'custom',
        message:
          max === Number.MAX_SAFE_INTEGER
            ? `must be an integer >= ${min}`
            : `must be an integer ${min}-${max}`,
      });
      return z.NEVER;
    })
    .optional()
    .meta({ description, pattern: '^[0-9]+$' });

export const qBool = (description: string) =>
  z
    .string()
    .transform((v) => v === 'true')
    .optional()
    .meta({ description, enum: ['true', 'false'] });

export const qEnum = <const T extends readonly [string, ...string[]]>(values: T, description: string) =>
  z
    .enum(values, { error: values.join(' or ') })
    .optional()
    .describe(description);

/** A list counts its matches up to this many unless asked for the exact count (`count=exact`). */
export const COUNT_UP_TO = 10_000;
export const COUNT_QUERY = qEnum(
  ['capped', 'exact'],
  `capped (default): total counts the matches up to ${COUNT_UP_TO} (totalExact false past it); exact: all of them (slower on a large catalogue)`,
);
/** The store's countUpTo for a list's `count` parameter. */
export const countUpTo = (count: 'capped' | 'exact' | undefined): { countUpTo?: number } =>
  count === 'exact' ? {} : { countUpTo: COUNT_UP_TO };

// --- mounting ------------------------------------------------------------------------------------

export interface MountedApi {
  handle(ctx: Ctx): Promise<boolean>;
  /** Every route, as the router matches it (method, path with :params). */
  readonly routes: readonly RouteDef[];
}

/**
 * Fills a router from the table: match (404/405), cross-site check, authenticate, role, query,
 * body, handler. A change (any method but GET) made with the session cookie is refused with 403
 * before anything else unless the browser says it comes from the server's own origin
 * (crossSiteCookieRequest): SameSite=Strict alone lets a sibling subdomain's page post a form.
 */
export function mount(
  table: readonly RouteDef[],
  authenticate: (req: IncomingMessage) => Promise<Principal | null>,
): MountedApi {
  const router = new Router<Ctx>();
  for (const r of table)
    router.add(r.method, r.path, async (ctx, params) => {
      if (r.role !== 'anyone') {
        if (r.method !== 'GET') {
          const own = ctx.origin !== undefined ? ctx.origin : requestOrigin(ctx.req);
          const refused = crossSiteCookieRequest(ctx.req, own);
          if (refused) throw forbidden(refused);
        }
        ctx.who = await authenticate(ctx.req);
        // A record-only user sees no recording: the recording routes do not exist for them (404).
        if (ctx.who?.role === 'record-only' && r.path.startsWith('/recordings') && r.role !== 'record-only')
          throw notFound('not found');
        need(ctx, r.role);
      }
      // Postgres text cannot hold NUL: a path parameter or query value with one is refused here.
      const rawQuery = queryObject(ctx.url);
      const nul = nulAt(params, 'path parameter') ?? nulAt(rawQuery, 'query parameter');
      if (nul) throw badRequest(`${nul} contains a NUL character`);
      const query = r.query ? parse(r.query, rawQuery) : {};
      const body = r.body ? parse(r.body, await readJson(ctx.req, r.bodyLimit)) : undefined;
      await r.handler(ctx, { params, query, body });
    });
  return {
    routes: table,
    async handle(ctx) {
      const path = ctx.url.pathname.replace(/^\/api\/v1/, '') || '/';
      const m = router.match(ctx.req.method ?? 'GET', path);
      if (m instanceof HttpError) throw m;
      await m.handler(ctx, m.params);
      return true;
    },
  };
}
