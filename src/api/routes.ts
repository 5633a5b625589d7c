import { unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';
import type { ActiveCall } from '../recording/types.js';
import type { Database } from '../store/db.js';
import type { RecordingRow, RecordingState } from '../store/types.js';
import type { RecordingSearch } from '../store/users-access.js';
import {
  ConflictError,
  participantFilter,
  ROLES,
  roleRank,
  verifyPassword,
  type Principal,
  type Role,
} from '../store/users.js';
import { NotFoundError } from '../errors.js';
import { parseRange, waveformOf, type ArtifactReader } from './artifacts.js';
import { LoginLimiter, SESSION_COOKIE, type Authenticator } from './auth.js';
import {
  HttpError,
  Router,
  badRequest,
  clientIp,
  conflict,
  forbidden,
  notFound,
  readJson,
  sendJson,
  unauthorized,
} from './http.js';
import { openApiDocument } from './openapi.js';
import { addExportRoutes } from './export.js';

/** The REST API under /api/v1. Every access to recordings is role- and group-checked and audited. */

export interface ApiDeps {
  db: Pick<Database, 'users' | 'audit' | 'access' | 'recordings' | 'keys'>;
  auth: Authenticator;
  live: { activeCalls(): ActiveCall[] };
  stats?: (recordingId: string) => SessionStats | undefined;
  artifacts: ArtifactReader;
  dataDir: string;
  sessionTtlMs: number;
  /** Set the Secure flag on the session cookie (when served over HTTPS). */
  secureCookies?: boolean;
  /** Delivery status for the console (offload batches, export, notifications; app.ts passes it in). */
  deliveryStatus?: () => Promise<unknown>;
  /** The running delivery services, when any is enabled (retry of failed deliveries). */
  delivery?: { retryFailed(actor?: string): Promise<unknown> };
  log: Logger;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  ip: string;
  who: Principal | null;
}

/** Minimum role for an action, or nobody. */
export const PERMISSION_LEVELS = ['nobody', 'admin', 'supervisor', 'user'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];
const DEFAULT_SETTINGS = { 'permissions.download': 'user', 'permissions.delete': 'admin' } as const;
type SettingKey = keyof typeof DEFAULT_SETTINGS;

function permits(level: PermissionLevel, role: Role): boolean {
  return level !== 'nobody' && roleRank(role) >= roleRank(level);
}

const need = (ctx: Ctx, min: Role = 'record-only'): Principal => {
  if (!ctx.who) throw unauthorized();
  if (roleRank(ctx.who.role) < roleRank(min)) throw forbidden(`this needs the ${min} role or higher`);
  return ctx.who;
};

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success)
    throw badRequest(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

const dateParam = (url: URL, k: string): Date | undefined => {
  const v = url.searchParams.get(k);
  if (v === null || v === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw badRequest(`${k}: not a date (use ISO 8601)`);
  return d;
};
const intParam = (url: URL, k: string, min = 0): number | undefined => {
  const v = url.searchParams.get(k);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw badRequest(`${k}: must be an integer >= ${min}`);
  return n;
};
const strParam = (url: URL, k: string): string | undefined => url.searchParams.get(k) || undefined;

/** The recordings search filters of a query string (GET /recordings and the exports). */
function searchFilters(u: URL): RecordingSearch {
  const state = strParam(u, 'state');
  if (state && !['recording', 'processing', 'stored', 'failed', 'purged'].includes(state))
    throw badRequest('state: one of recording, processing, stored, failed, purged');
  const preserved = strParam(u, 'preserved');
  return {
    from: dateParam(u, 'from'),
    to: dateParam(u, 'to'),
    participant: strParam(u, 'participant'),
    callId: strParam(u, 'callId'),
    sessionId: strParam(u, 'sessionId'),
    minDurationMs: intParam(u, 'minDurationMs'),
    maxDurationMs: intParam(u, 'maxDurationMs'),
    group: strParam(u, 'group'),
    state: state as RecordingState | 'purged' | undefined,
    category: strParam(u, 'category'),
    preserved: preserved === undefined ? undefined : preserved === 'true',
  };
}

export function recordingDetailJson(r: RecordingRow) {
  return {
    id: r.id,
    sessionId: r.sessionId,
    callId: r.callId,
    srcAddress: r.srcAddress,
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt ? r.endedAt.toISOString() : null,
    durationMs: r.durationMs,
    state: r.state,
    error: r.error,
    participants: r.participants.map((p) => ({
      participantId: p.participantId,
      aor: p.aor,
      name: p.name,
      sends: p.sendsLabels,
    })),
    streams: r.streams,
    files: r.files.map((f) => ({
      kind: f.kind,
      bytes: f.bytes,
      sha256Plain: f.sha256Plain,
      keyFingerprint: f.keyFingerprint,
    })),
    mediaStats: r.mediaStats,
    metadataXml: r.metadataXml,
  };
}

const userBody = z.object({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and ._@- (1-64)'),
  password: z.string().min(8, 'at least 8 characters').max(200).nullable().optional(),
  role: z.enum(ROLES),
  displayName: z.string().max(200).optional(),
  group: z.string().min(1).max(100).nullable().optional(),
  extraGroups: z.array(z.string().min(1).max(100)).max(100).optional(),
  numbers: z.array(z.string().min(1).max(100)).max(100).optional(),
});
const userPatch = userBody.omit({ username: true }).partial().extend({ disabled: z.boolean().optional() });

export function buildApi(d: ApiDeps): { handle(ctx: Ctx): Promise<boolean> } {
  const router = new Router<Ctx>();
  const userLimiter = new LoginLimiter(5, 5 * 60_000);
  const ipLimiter = new LoginLimiter(20, 5 * 60_000);
  const log = d.log.child({ part: 'api' });

  const audit = async (
    ctx: Ctx,
    action: string,
    resource: string,
    resourceId: string,
    details: Record<string, unknown> = {},
    actor?: { username: string; role: string; via?: string },
  ): Promise<void> => {
    const who = actor ?? ctx.who;
    await d.db.audit.append({
      actor: who?.username ?? 'anonymous',
      actorRole: who?.role ?? '',
      ip: ctx.ip,
      via:
        actor?.via ??
        (ctx.who ? { session: 'web', token: 'api-token', 'admin-token': 'admin-token' }[ctx.who.via] : 'web'),
      action,
      resource,
      resourceId,
      details: { ...details, userAgent: String(ctx.req.headers['user-agent'] ?? '').slice(0, 200) },
    });
  };

  const setting = async (key: SettingKey): Promise<PermissionLevel> =>
    (await d.db.users.getSetting<PermissionLevel>(key)) ?? DEFAULT_SETTINGS[key];

  /** The recording if `who` may see it; 404 otherwise (not 403: do not reveal what exists). */
  const visibleRecording = async (ctx: Ctx, id: string): Promise<RecordingRow> => {
    const who = need(ctx, 'user');
    const rec = await d.db.recordings.get(id);
    if (!rec || !(await d.db.access.canSee(who, id))) throw notFound(`recording ${id} not found`);
    return rec;
  };

  const describe = (r: RecordingRow) => ({
    callId: r.callId,
    startedAt: r.startedAt.toISOString(),
    participants: r.participants.map((p) => p.aor ?? p.name ?? p.participantId),
  });

  // --- sessions --------------------------------------------------------------------------------
  router.add('POST', '/login', async (ctx) => {
    const body = parse(
      z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }),
      await readJson(ctx.req),
    );
    const keys = [`u:${body.username.toLowerCase()}`];
    const ipKeys = [`ip:${ctx.ip}`];
    const wait = Math.max(userLimiter.retryAfterMs(keys), ipLimiter.retryAfterMs(ipKeys));
    if (wait > 0) {
      await audit(
        ctx,
        'login-throttled',
        'session',
        body.username,
        {},
        { username: body.username, role: '' },
      );
      throw new HttpError(429, 'too many failed logins; try again later', {
        'retry-after': String(Math.ceil(wait / 1000)),
      });
    }
    const u = await d.db.users.byUsername(body.username);
    const ok = await verifyPassword(body.password, u?.passwordHash ?? null);
    if (!u || !ok || u.disabled) {
      userLimiter.fail(keys);
      ipLimiter.fail(ipKeys);
      await audit(
        ctx,
        'login-failed',
        'session',
        body.username,
        { reason: u?.disabled ? 'disabled' : 'bad credentials' },
        {
          username: body.username,
          role: u?.role ?? '',
        },
      );
      throw unauthorized('wrong username or password');
    }
    userLimiter.succeed(keys);
    const s = await d.db.users.createSession(
      u.id,
      d.sessionTtlMs,
      ctx.ip,
      String(ctx.req.headers['user-agent'] ?? ''),
    );
    await audit(ctx, 'login', 'session', u.id, {}, { username: u.username, role: u.role, via: 'web' });
    const cookie = `${SESSION_COOKIE}=${s.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(d.sessionTtlMs / 1000)}${d.secureCookies ? '; Secure' : ''}`;
    sendJson(
      ctx.res,
      200,
      { user: publicUser(u), token: s.token, expiresAt: s.expiresAt.toISOString() },
      { 'set-cookie': cookie },
    );
  });

  router.add('POST', '/logout', async (ctx) => {
    const who = need(ctx);
    const cookie = /srs_session=([^;]+)/.exec(ctx.req.headers.cookie ?? '')?.[1];
    const bearer = ctx.req.headers.authorization?.slice(7).trim();
    if (who.via === 'session') await d.db.users.endSession(cookie ?? bearer ?? '');
    await audit(ctx, 'logout', 'session', who.userId ?? '');
    sendJson(
      ctx.res,
      200,
      { ok: true },
      { 'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` },
    );
  });

  router.add('GET', '/me', async (ctx) => {
    const who = need(ctx);
    const [download, del] = await Promise.all([
      setting('permissions.download'),
      setting('permissions.delete'),
    ]);
    sendJson(ctx.res, 200, {
      ...who,
      can: {
        download: permits(download, who.role),
        delete: permits(del, who.role),
        listen: who.role !== 'record-only',
        audit: who.role === 'admin',
        admin: who.role === 'admin',
      },
    });
  });

  router.add('POST', '/me/password', async (ctx) => {
    const who = need(ctx);
    if (!who.userId) throw badRequest('the admin token has no password');
    const body = parse(
      z.object({ current: z.string(), password: z.string().min(8).max(200) }),
      await readJson(ctx.req),
    );
    const u = await d.db.users.byUsername(who.username);
    if (!u || !(await verifyPassword(body.current, u.passwordHash)))
      throw forbidden('current password is wrong');
    await d.db.users.update(u.id, { password: body.password });
    await audit(ctx, 'password-change', 'user', u.id);
    sendJson(ctx.res, 200, { ok: true });
  });

  // --- recordings ------------------------------------------------------------------------------
  router.add('GET', '/recordings', async (ctx) => {
    const who = need(ctx, 'user');
    const u = ctx.url;
    const result = await d.db.access.search(who, {
      ...searchFilters(u),
      limit: intParam(u, 'limit', 1) ?? 50,
      offset: intParam(u, 'offset') ?? 0,
    });
    sendJson(ctx.res, 200, {
      total: result.total,
      limit: intParam(u, 'limit', 1) ?? 50,
      offset: intParam(u, 'offset') ?? 0,
      items: result.items,
    });
  });

  // Before /recordings/:id, which would take "export" for an id.
  addExportRoutes(router, {
    db: d.db,
    artifacts: d.artifacts,
    filters: searchFilters,
    audit,
    allowed: async (ctx) => {
      const who = need(ctx, 'user');
      const level = await setting('permissions.download');
      if (!permits(level, who.role)) throw forbidden(`downloads and exports are allowed to: ${level}`);
      return who;
    },
    log,
  });

  router.add('GET', '/recordings/:id', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx);
    const ann = await d.db.access.annotations(rec.id);
    const events: { at: string; offsetMs: number; type: string; text: string }[] = [];
    const t0 = rec.startedAt.getTime();
    const ev = (at: Date, type: string, text: string) =>
      events.push({ at: at.toISOString(), offsetMs: at.getTime() - t0, type, text });
    ev(rec.startedAt, 'start', `recording started (Call-ID ${rec.callId})`);
    const legs =
      (
        rec.mediaStats as {
          legs?: {
            legId: string;
            firstPacketMs: number | null;
            packetsLost?: number;
            packetsRejected?: number;
            spoolErrors?: number;
            spoolDamagedSpansMs?: [number, number][];
          }[];
        } | null
      )?.legs ?? [];
    for (const l of legs) {
      if (l.firstPacketMs !== null && l.firstPacketMs !== undefined)
        ev(new Date(t0 + l.firstPacketMs), 'media', `first RTP packet on ${l.legId}`);
      if (l.packetsLost)
        ev(rec.endedAt ?? rec.startedAt, 'media', `${l.packetsLost} packets lost on ${l.legId}`);
      // Security and faults (docs/security.md): foreign datagrams dropped, audio lost to the disk.
      if (l.packetsRejected)
        ev(
          rec.endedAt ?? rec.startedAt,
          'security',
          `${l.packetsRejected} datagrams from other sources dropped on ${l.legId}`,
        );
      for (const [from, to] of l.spoolDamagedSpansMs ?? [])
        ev(
          new Date(t0 + from),
          'damaged',
          `${l.legId}: ${Math.round(to - from)} ms of audio lost (spool write failed)`,
        );
      if (l.spoolErrors && !l.spoolDamagedSpansMs?.length)
        ev(rec.endedAt ?? rec.startedAt, 'damaged', `${l.spoolErrors} spool write failures on ${l.legId}`);
    }
    for (const e of await d.db.access.sessionEvents(rec.id)) {
      const { xml: _xml, ...rest } = e.detail;
      const summary = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
        .slice(0, 200);
      ev(e.at, e.type, summary ? `${e.type} ${summary}` : e.type);
    }
    if (rec.endedAt)
      ev(rec.endedAt, 'end', `call ended after ${((rec.durationMs ?? 0) / 1000).toFixed(1)} s`);
    if (ann.preservedAt) ev(ann.preservedAt, 'preserve', `preserved by ${ann.preservedBy}`);
    for (const n of ann.notes) ev(n.createdAt, 'note', `note by ${n.author}`);
    let accessLog: unknown[] = [];
    if (who.role === 'admin') {
      const [own, exports] = await Promise.all([
        d.db.audit.search({ resource: 'recording', resourceId: rec.id, limit: 100 }),
        // Bulk exports name the recording among their ids.
        d.db.audit.search({ action: 'export', q: rec.id, limit: 100 }),
      ]);
      const byId = new Map([...own.items, ...exports.items].map((e) => [e.id, e]));
      accessLog = [...byId.values()].sort((a, b) => b.id - a.id).slice(0, 100);
    }
    events.sort((a, b) => a.offsetMs - b.offsetMs);
    sendJson(ctx.res, 200, {
      ...recordingDetailJson(rec),
      notes: ann.notes,
      categories: ann.categories,
      preserved: ann.preservedAt
        ? { at: ann.preservedAt, by: ann.preservedBy, rank: ann.preservedRank }
        : null,
      groups: ann.groups,
      events,
      auditTrail: accessLog,
    });
  });

  const serveAudio = async (ctx: Ctx, id: string, attachment: boolean): Promise<void> => {
    const rec = await visibleRecording(ctx, id);
    const who = need(ctx);
    if (attachment) {
      const level = await setting('permissions.download');
      if (!permits(level, who.role)) throw forbidden(`downloads are allowed to: ${level}`);
    }
    const format = ctx.url.searchParams.get('format') ?? 'mp3';
    // The mono mix as mp3 or wav, and the extra outputs (SRS_OUTPUTS): stereo, leg0, leg1, ...
    if (!/^(mp3|wav|stereo|leg\d{1,3})$/.test(format))
      throw badRequest('format: mp3, wav, stereo or legN (N = stream index)');
    if ((rec.state as string) === 'purged') throw new HttpError(410, `recording ${id} was deleted`);
    const file = rec.files.find((f) => f.kind === format);
    if (!file)
      throw rec.state === 'stored'
        ? notFound(
            `recording ${id} has no ${format} file (it has: ${rec.files.map((f) => f.kind).join(', ')})`,
          )
        : new HttpError(409, `recording ${id} has no ${format} yet (state: ${rec.state})`);
    const plain = await d.artifacts.read(rec.id, file);
    const range = parseRange(ctx.req.headers.range, plain.length);
    if (attachment) await audit(ctx, 'download', 'recording', rec.id, { format, ...describe(rec) });
    else if (!range || range.start === 0)
      await audit(ctx, 'playback', 'recording', rec.id, { format, ...describe(rec) });
    const headers: Record<string, string | number> = {
      'content-type': format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
      'accept-ranges': 'bytes',
      'cache-control': 'private, no-store',
    };
    if (attachment)
      headers['content-disposition'] =
        `attachment; filename="${rec.id}${format === 'mp3' || format === 'wav' ? '' : `.${format}`}.${format === 'mp3' ? 'mp3' : 'wav'}"`;
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${plain.length}`;
      headers['content-length'] = range.end - range.start + 1;
      ctx.res.writeHead(206, headers);
      ctx.res.end(ctx.req.method === 'HEAD' ? undefined : plain.subarray(range.start, range.end + 1));
    } else {
      headers['content-length'] = plain.length;
      ctx.res.writeHead(200, headers);
      ctx.res.end(ctx.req.method === 'HEAD' ? undefined : plain);
    }
  };
  router.add('GET', '/recordings/:id/audio', (ctx, p) => serveAudio(ctx, p.id as string, false));
  router.add('GET', '/recordings/:id/download', (ctx, p) => serveAudio(ctx, p.id as string, true));

  router.add('GET', '/recordings/:id/waveform', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    if ((rec.state as string) === 'purged') throw new HttpError(410, `recording ${rec.id} was deleted`);
    const file = rec.files.find((f) => f.kind === 'wav');
    if (!file) throw new HttpError(409, `recording ${rec.id} has no WAV yet (state: ${rec.state})`);
    const points = intParam(ctx.url, 'points', 1) ?? 600;
    sendJson(ctx.res, 200, waveformOf(await d.artifacts.read(rec.id, file), points));
  });

  router.add('DELETE', '/recordings/:id', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx);
    const level = await setting('permissions.delete');
    if (!permits(level, who.role)) throw forbidden(`deletion is allowed to: ${level}`);
    const ann = await d.db.access.annotations(rec.id);
    if (ann.preservedAt)
      throw conflict(
        `recording is preserved by ${ann.preservedBy}; lift the preservation before deleting it`,
      );
    if ((rec.state as string) === 'purged') throw conflict(`recording ${rec.id} is already deleted`);
    if (rec.state !== 'stored')
      throw conflict(`recording is ${rec.state}; only stored recordings can be deleted`);
    const files = await d.db.access.deleteUnpreserved(rec.id);
    if (!files) throw conflict('recording was preserved or removed meanwhile');
    for (const f of files) {
      const path = isAbsolute(f.path) ? f.path : join(d.dataDir, f.path);
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') log.error({ err, path }, 'could not remove a deleted recording file');
      });
    }
    await audit(ctx, 'delete', 'recording', rec.id, { ...describe(rec), files: files.map((f) => f.path) });
    sendJson(ctx.res, 200, { deleted: rec.id });
  });

  router.add('PUT', '/recordings/:id/preserve', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx, 'user');
    await d.db.access.setPreserved(rec.id, who.username, roleRank(who.role));
    await audit(ctx, 'preserve', 'recording', rec.id, describe(rec));
    sendJson(ctx.res, 200, { preserved: true });
  });
  router.add('DELETE', '/recordings/:id/preserve', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx, 'user');
    const ann = await d.db.access.annotations(rec.id);
    if (ann.preservedRank !== null && roleRank(who.role) < ann.preservedRank)
      throw forbidden(`preserved by ${ann.preservedBy}, a higher role; you cannot lift it`);
    await d.db.access.clearPreserved(rec.id);
    await audit(ctx, 'unpreserve', 'recording', rec.id, describe(rec));
    sendJson(ctx.res, 200, { preserved: false });
  });

  router.add('GET', '/recordings/:id/notes', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    sendJson(ctx.res, 200, { items: (await d.db.access.annotations(rec.id)).notes });
  });
  router.add('POST', '/recordings/:id/notes', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx, 'user');
    const body = parse(z.object({ body: z.string().trim().min(1).max(10000) }), await readJson(ctx.req));
    const note = await d.db.access.addNote(rec.id, who.username, roleRank(who.role), body.body);
    await audit(ctx, 'note.add', 'recording', rec.id, { noteId: note.id, body: body.body.slice(0, 500) });
    sendJson(ctx.res, 201, note);
  });
  router.add('DELETE', '/recordings/:id/notes/:noteId', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx, 'user');
    const note = await d.db.access.getNote(p.noteId as string);
    if (!note || note.recordingId !== rec.id) throw notFound(`note ${p.noteId} not found`);
    if (roleRank(who.role) < note.authorRank)
      throw forbidden(`note written by ${note.author}, a higher role`);
    await d.db.access.deleteNote(note.id);
    await audit(ctx, 'note.delete', 'recording', rec.id, { noteId: note.id, author: note.author });
    sendJson(ctx.res, 200, { deleted: note.id });
  });

  router.add('PUT', '/recordings/:id/categories', async (ctx, p) => {
    const rec = await visibleRecording(ctx, p.id as string);
    const who = need(ctx, 'user');
    const body = parse(
      z.object({ categories: z.array(z.string().trim().min(1).max(100)).max(50) }),
      await readJson(ctx.req),
    );
    const before = (await d.db.access.annotations(rec.id)).categories;
    const after = await d.db.access.setCategories(rec.id, [...new Set(body.categories)], who.username);
    await audit(ctx, 'categories.update', 'recording', rec.id, { before, after });
    sendJson(ctx.res, 200, { categories: after });
  });
  router.add('GET', '/categories', async (ctx) => {
    need(ctx, 'user');
    sendJson(ctx.res, 200, { items: await d.db.access.allCategories() });
  });

  // --- live calls ------------------------------------------------------------------------------
  router.add('GET', '/calls', async (ctx) => {
    const who = need(ctx);
    const visible = await participantFilter(d.db.users, who);
    const now = Date.now();
    const items = d.live
      .activeCalls()
      .filter((c) => visible(c.participants))
      .map((c) => {
        const stats = d.stats?.(c.recordingId);
        return {
          ...c,
          durationMs: now - new Date(c.startedAt).getTime(),
          media: stats?.legs.map((l) => ({
            legId: l.legId,
            packetsReceived: l.packetsReceived,
            packetsLost: l.packetsLost,
            lossPercent:
              l.packetsReceived + l.packetsLost > 0
                ? (100 * l.packetsLost) / (l.packetsReceived + l.packetsLost)
                : 0,
          })),
        };
      });
    sendJson(ctx.res, 200, { items });
  });

  // --- users, groups, tokens -------------------------------------------------------------------
  router.add('GET', '/users', async (ctx) => {
    need(ctx, 'admin');
    sendJson(ctx.res, 200, { items: (await d.db.users.list()).map(publicUser) });
  });
  router.add('POST', '/users', async (ctx) => {
    need(ctx, 'admin');
    const body = parse(userBody, await readJson(ctx.req));
    const u = await d.db.users.create(body).catch(mapConflict);
    await audit(ctx, 'user.create', 'user', u.id, { username: u.username, role: u.role, group: u.group });
    sendJson(ctx.res, 201, publicUser(u));
  });
  router.add('PATCH', '/users/:id', async (ctx, p) => {
    need(ctx, 'admin');
    const body = parse(userPatch, await readJson(ctx.req));
    const before = await d.db.users.get(p.id as string);
    if (!before) throw notFound(`user ${p.id} not found`);
    const u = await d.db.users.update(before.id, body).catch(mapConflict);
    const changed = Object.keys(body).map((k) => (k === 'password' ? 'password (changed)' : k));
    await audit(ctx, 'user.update', 'user', u.id, { username: u.username, fields: changed });
    sendJson(ctx.res, 200, publicUser(u));
  });
  router.add('DELETE', '/users/:id', async (ctx, p) => {
    const who = need(ctx, 'admin');
    if (who.userId === p.id) throw conflict('you cannot delete your own account');
    const u = await d.db.users.get(p.id as string);
    if (!u) throw notFound(`user ${p.id} not found`);
    await d.db.users.remove(u.id);
    await audit(ctx, 'user.delete', 'user', u.id, { username: u.username });
    sendJson(ctx.res, 200, { deleted: u.id });
  });
  router.add('GET', '/groups', async (ctx) => {
    need(ctx, 'supervisor');
    sendJson(ctx.res, 200, { items: await d.db.users.listGroups() });
  });
  router.add('POST', '/groups', async (ctx) => {
    need(ctx, 'admin');
    const body = parse(
      z.object({ name: z.string().min(1).max(100), description: z.string().max(500).default('') }),
      await readJson(ctx.req),
    );
    await d.db.users.createGroup(body.name, body.description).catch(mapConflict);
    await audit(ctx, 'group.create', 'group', body.name);
    sendJson(ctx.res, 201, { name: body.name, description: body.description });
  });

  router.add('GET', '/tokens', async (ctx) => {
    const who = need(ctx);
    const all = who.role === 'admin' && ctx.url.searchParams.get('all') === 'true';
    if (!all && !who.userId) throw badRequest('the admin token owns no tokens; use ?all=true');
    sendJson(ctx.res, 200, {
      items: await d.db.users.listTokens(all ? undefined : (who.userId ?? undefined)),
    });
  });
  router.add('POST', '/tokens', async (ctx) => {
    const who = need(ctx);
    if (!who.userId) throw badRequest('create API tokens as a user (log in first)');
    const body = parse(z.object({ name: z.string().trim().min(1).max(100) }), await readJson(ctx.req));
    const t = await d.db.users.createToken(who.userId, body.name);
    await audit(ctx, 'token.create', 'token', t.id, { name: body.name });
    sendJson(ctx.res, 201, { id: t.id, name: body.name, token: t.token, note: 'shown once; store it now' });
  });
  router.add('DELETE', '/tokens/:id', async (ctx, p) => {
    const who = need(ctx);
    const ok = await d.db.users.revokeToken(
      p.id as string,
      who.role === 'admin' ? undefined : (who.userId ?? undefined),
    );
    if (!ok) throw notFound(`token ${p.id} not found or already revoked`);
    await audit(ctx, 'token.revoke', 'token', p.id as string);
    sendJson(ctx.res, 200, { revoked: p.id });
  });

  // --- keys, settings, audit (admin) -----------------------------------------------------------
  router.add('GET', '/keys', async (ctx) => {
    need(ctx, 'admin');
    const keys = await d.db.keys.list();
    await audit(ctx, 'key.list', 'key', '', { count: keys.length });
    sendJson(ctx.res, 200, { items: keys });
  });

  router.add('GET', '/settings', async (ctx) => {
    need(ctx, 'admin');
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(DEFAULT_SETTINGS) as SettingKey[]) out[k] = await setting(k);
    sendJson(ctx.res, 200, { settings: out, levels: PERMISSION_LEVELS });
  });
  router.add('PUT', '/settings', async (ctx) => {
    const who = need(ctx, 'admin');
    const body = parse(
      z
        .object({
          'permissions.download': z.enum(PERMISSION_LEVELS).optional(),
          'permissions.delete': z.enum(PERMISSION_LEVELS).optional(),
        })
        .strict(),
      await readJson(ctx.req),
    );
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const [k, v] of Object.entries(body) as [SettingKey, PermissionLevel][]) {
      const before = await setting(k);
      if (before === v) continue;
      // "Nobody" for deletion is irreversible (as in the reference product): no one can lift it.
      if (k === 'permissions.delete' && before === 'nobody')
        throw conflict('deletion was set to "nobody", which is irreversible');
      await d.db.users.setSetting(k, v, who.username);
      changes[k] = { from: before, to: v };
    }
    if (Object.keys(changes).length > 0)
      await audit(ctx, 'setting.update', 'setting', Object.keys(changes).join(','), changes);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(DEFAULT_SETTINGS) as SettingKey[]) out[k] = await setting(k);
    sendJson(ctx.res, 200, { settings: out });
  });

  // --- delivery (admin): offload, export, notifications -----------------------------------------
  router.add('GET', '/delivery', async (ctx) => {
    need(ctx, 'admin');
    if (!d.deliveryStatus) throw new HttpError(503, 'delivery status is not available on this server');
    const status = (await d.deliveryStatus()) as Record<string, unknown>;
    sendJson(ctx.res, 200, { enabled: d.delivery !== undefined, ...status });
  });
  router.add('POST', '/delivery/retry', async (ctx) => {
    const who = need(ctx, 'admin');
    if (!d.delivery)
      throw new HttpError(
        503,
        'delivery is off on this server (enable offload, export or notifications in the configuration)',
      );
    const retried = await d.delivery.retryFailed(who.username);
    await audit(ctx, 'delivery.retry', 'delivery', '', { retried });
    sendJson(ctx.res, 200, { retried });
  });

  router.add('GET', '/audit', async (ctx) => {
    need(ctx, 'admin');
    const u = ctx.url;
    const r = await d.db.audit.search({
      from: dateParam(u, 'from'),
      to: dateParam(u, 'to'),
      actor: strParam(u, 'actor'),
      action: strParam(u, 'action'),
      resource: strParam(u, 'resource'),
      resourceId: strParam(u, 'resourceId'),
      q: strParam(u, 'q'),
      limit: intParam(u, 'limit', 1) ?? 50,
      offset: intParam(u, 'offset') ?? 0,
    });
    sendJson(ctx.res, 200, r);
  });
  router.add('GET', '/audit/verify', async (ctx) => {
    need(ctx, 'admin');
    sendJson(ctx.res, 200, await d.db.audit.verify());
  });

  router.add('GET', '/openapi.json', (ctx) => {
    sendJson(ctx.res, 200, openApiDocument(), { 'cache-control': 'public, max-age=60' });
  });

  return {
    async handle(ctx) {
      const path = ctx.url.pathname.replace(/^\/api\/v1/, '') || '/';
      const m = router.match(ctx.req.method ?? 'GET', path);
      if (m instanceof HttpError) throw m;
      if (!path.startsWith('/login') && path !== '/openapi.json')
        ctx.who = await d.auth.authenticate(ctx.req);
      await m.handler(ctx, m.params);
      return true;
    },
  };
}

function mapConflict(err: unknown): never {
  if (err instanceof ConflictError) throw conflict(err.message);
  if (err instanceof NotFoundError) throw notFound(err.message);
  throw err;
}

function publicUser(u: {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  group: string | null;
  extraGroups: string[];
  numbers: string[];
  disabled: boolean;
  createdAt: Date;
}) {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    role: u.role,
    group: u.group,
    extraGroups: u.extraGroups,
    numbers: u.numbers,
    disabled: u.disabled,
    createdAt: u.createdAt,
  };
}

export { clientIp };
