import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';
import type { ActiveCall } from '../recording/types.js';
import type { Database } from '../store/db.js';
import type { RecordingRow } from '../store/types.js';
import type { NodesRepository } from '../store/nodes.js';
import { ConflictError, roleRank, type Role } from '../store/users.js';
import { NotFoundError } from '../errors.js';
import type { ArtifactReader } from './artifacts.js';
import type { Authenticator } from './auth.js';
import { conflict, notFound } from './http.js';
import type { z } from 'zod';
import { need, route, type Ctx, type Method, type RouteDef, type RouteInput } from './table.js';

/** What the API's resource modules share: their dependencies, the audit writer, the settings. */

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
  /** The cluster's node registry and this node's id (issue 17, /api/v1/nodes). */
  cluster?: { nodes: NodesRepository; nodeId: string };
  log: Logger;
}

/** Minimum role for an action, or nobody. */
export const PERMISSION_LEVELS = ['nobody', 'admin', 'supervisor', 'user'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];
export const DEFAULT_SETTINGS = { 'permissions.download': 'user', 'permissions.delete': 'admin' } as const;
export type SettingKey = keyof typeof DEFAULT_SETTINGS;

export function permits(level: PermissionLevel, role: Role): boolean {
  return level !== 'nobody' && roleRank(role) >= roleRank(level);
}

export interface Kit {
  d: ApiDeps;
  log: Logger;
  /** Appends to the audit trail as the request's principal (or `actor`, for logins). */
  audit(
    ctx: Ctx,
    action: string,
    resource: string,
    resourceId: string,
    details?: Record<string, unknown>,
    actor?: { username: string; role: string; via?: string },
  ): Promise<void>;
  setting(key: SettingKey): Promise<PermissionLevel>;
  /** The recording if the principal may see it; 404 otherwise (not 403: do not reveal what exists). */
  visibleRecording(ctx: Ctx, id: string): Promise<RecordingRow>;
}

export function makeKit(d: ApiDeps): Kit {
  return {
    d,
    log: d.log.child({ part: 'api' }),
    async audit(ctx, action, resource, resourceId, details = {}, actor) {
      const who = actor ?? ctx.who;
      const via = ctx.who
        ? { session: 'web', token: 'api-token', 'admin-token': 'admin-token' }[ctx.who.via]
        : 'web';
      await d.db.audit.append({
        actor: who?.username ?? 'anonymous',
        actorRole: who?.role ?? '',
        ip: ctx.ip,
        via: actor?.via ?? via,
        action,
        resource,
        resourceId,
        details: { ...details, userAgent: String(ctx.req.headers['user-agent'] ?? '').slice(0, 200) },
      });
    },
    setting: async (key) => (await d.db.users.getSetting<PermissionLevel>(key)) ?? DEFAULT_SETTINGS[key],
    async visibleRecording(ctx, id) {
      const who = need(ctx, 'user');
      const rec = await d.db.recordings.get(id);
      if (!rec || !(await d.db.access.canSee(who, id))) throw notFound(`recording ${id} not found`);
      return rec;
    },
  };
}

/** What the audit trail records of a recording acted on. */
export const describe = (r: RecordingRow) => ({
  callId: r.callId,
  startedAt: r.startedAt.toISOString(),
  participants: r.participants.map((p) => p.aor ?? p.name ?? p.participantId),
});

/** A store's conflict or not-found as the HTTP error. */
export function mapConflict(err: unknown): never {
  if (err instanceof ConflictError) throw conflict(err.message);
  if (err instanceof NotFoundError) throw notFound(err.message);
  throw err;
}

/**
 * Routes on one recording (`/recordings/:id/...`, role user): the handler gets the recording when
 * the principal may see it (404 otherwise, before anything else is done).
 */
export const recordingRoute =
  (k: Kit) =>
  <B = undefined>(
    method: Method,
    path: string,
    summary: string,
    handler: (ctx: Ctx, rec: RecordingRow, input: RouteInput<Record<string, never>, B>) => Promise<void>,
    body?: z.ZodType<B>,
  ): RouteDef =>
    route<undefined, B>({
      method,
      path,
      summary,
      role: 'user',
      ...(body ? { body } : {}),
      handler: async (ctx, input) =>
        handler(ctx, await k.visibleRecording(ctx, input.params.id as string), input),
    });
