import type { Directory } from '../directory/ldap.js';
import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';
import type { ActiveCall } from '../recording/types.js';
import type { AuditEntryInput } from '../store/audit.js';
import type { Database } from '../store/db.js';
import type { RecordingRow } from '../store/types.js';
import type { NodesRepository } from '../store/nodes.js';
import { ConflictError } from '../store/users.js';
import { AudioAccess, type PermissionLevel } from './access.js';
import { NotFoundError } from '../errors.js';
import type { ArtifactReader } from './artifacts.js';
import type { ControlPort } from './resources/calls.js';
import type { PolicyPort } from './resources/policy.js';
import type { RetentionPort } from './resources/retention.js';
import type { KeysPort } from './resources/keys.js';
import type { Authenticator, LoginThrottle } from './auth.js';
import { conflict, notFound } from './http.js';
import type { z } from 'zod';
import { need, route, type Ctx, type Method, type RouteDef, type RouteInput } from './table.js';

/** What the API's resource modules share: their dependencies, the audit writer, the settings. */

export interface ApiDeps {
  db: Pick<
    Database,
    | 'users'
    | 'audit'
    | 'access'
    | 'recordings'
    | 'keys'
    | 'recordModes'
    | 'fields'
    | 'reports'
    | 'savedSearches'
    | 'languages'
    | 'evaluations'
    | 'offload'
    | 'pool'
    | 'chain'
  >;
  auth: Authenticator;
  live: { activeCalls(): ActiveCall[] };
  stats?: (recordingId: string) => SessionStats | undefined;
  artifacts: ArtifactReader;
  dataDir: string;
  /**
   * Overwrites and removes a directory of plaintext audio (the pipeline's wipeDir, passed in by
   * the app): deleting a failed recording wipes its spool. Without it, failed recordings cannot be
   * deleted through the API.
   */
  wipeDir?: (dir: string) => Promise<void>;
  sessionTtlMs: number;
  /** Set the Secure flag on the session cookie (when served over HTTPS). */
  secureCookies?: boolean;
  /** Absolute session lifetime, whatever the activity. */
  sessionMaxMs?: number;
  /**
   * Closes the monitor sockets of a user (every session) or of one session, at once: called on
   * logout, disable, delete, password reset, role or group change, token revocation.
   */
  revoke?: (who: { userId?: string; sessionId?: string; reason: string }) => void;
  /**
   * Something changed that may change who sees or hears which live call (users, groups, the listen
   * permission): the monitor re-reads its call filters and re-checks its listen-ins.
   */
  accessChanged?: () => void;
  /** The LDAP directory users are synchronized from (POST /users/sync, directory users' logins). */
  directory?: Directory | undefined;
  /** A sync disables directory users the directory no longer lists (directory.disableMissing). */
  directoryDisableMissing?: boolean | undefined;
  /** The audio access path shared with the monitor (made from db.audit and the settings when absent). */
  access?: AudioAccess;
  /** Delivery status for the console (offload batches, export, notifications; app.ts passes it in). */
  deliveryStatus?: () => Promise<unknown>;
  /** The running delivery services, when any is enabled (retry of failed deliveries). */
  delivery?: { retryFailed(actor?: string): Promise<unknown> };
  /** Recording control of live calls (resources/calls.ts); 503 on its routes without it. */
  control?: ControlPort;
  /** The recording policy at run time (resources/policy.ts); 503 on its routes without it. */
  policy?: PolicyPort;
  /** The retention policy at run time (resources/retention.ts); 503 on its routes without it. */
  retention?: RetentionPort;
  /** Key generation and background re-encryption (resources/keys.ts); 503 on those without it. */
  keys?: KeysPort;
  /** WAV -> MP3 with the pipeline's settings (an interaction joined into one file); MP3 joins are 503 without it. */
  encodeMp3?: (wav: Buffer) => Promise<Buffer>;
  /** Counts an attempt refused by the login throttle (srs_login_throttled_total). */
  throttled?: (route: 'login' | 'password') => void;
  /** The login and own-password throttle (default: a LoginThrottle with its 1-s base delay). */
  loginThrottle?: LoginThrottle;
  /** The cluster's node registry and this node's id (/api/v1/nodes). */
  cluster?: { nodes: NodesRepository; nodeId: string };
  log: Logger;
}

/** Minimum role for an action, or nobody. */
export { PERMISSION_LEVELS, permits, type PermissionLevel } from './access.js';
export const DEFAULT_SETTINGS = {
  'permissions.listen': 'user',
  'permissions.download': 'user',
  'permissions.delete': 'admin',
} as const;
export type SettingKey = keyof typeof DEFAULT_SETTINGS;

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
  /** The entry `audit` would append, for a store that writes it in the action's own transaction. */
  auditEntry: typeof auditEntry;
  setting(key: SettingKey): Promise<PermissionLevel>;
  /** The one access path for audio: permission check and audit entry (src/api/access.ts). */
  access: AudioAccess;
  /** `access.grant` for the request's principal and origin. */
  grantAudio(
    ctx: Ctx,
    recordingId: string,
    purpose: Parameters<AudioAccess['grant']>[3],
    details?: Record<string, unknown>,
  ): Promise<void>;
  /** The recording if the principal may see it; 404 otherwise (not 403: do not reveal what exists). */
  visibleRecording(ctx: Ctx, id: string): Promise<RecordingRow>;
}

/** The audit entry of a request's action (what `Kit.audit` appends). */
function auditEntry(
  ctx: Ctx,
  action: string,
  resource: string,
  resourceId: string,
  details: Record<string, unknown> = {},
  actor?: { username: string; role: string; via?: string },
): AuditEntryInput {
  const who = actor ?? ctx.who;
  const via = ctx.who
    ? { session: 'web', token: 'api-token', 'admin-token': 'admin-token', peer: 'cluster-peer' }[ctx.who.via]
    : 'web';
  return {
    actor: who?.username ?? 'anonymous',
    actorRole: who?.role ?? '',
    ip: ctx.ip,
    via: actor?.via ?? via,
    action,
    resource,
    resourceId,
    details: { ...details, userAgent: String(ctx.req.headers['user-agent'] ?? '').slice(0, 200) },
  };
}

export function makeKit(d: ApiDeps): Kit {
  const setting = async (key: SettingKey): Promise<PermissionLevel> =>
    (await d.db.users.getSetting<PermissionLevel>(key)) ?? DEFAULT_SETTINGS[key];
  const access =
    d.access ?? new AudioAccess({ audit: d.db.audit, level: (p) => setting(`permissions.${p}`) });
  return {
    d,
    access,
    grantAudio: (ctx, recordingId, purpose, details) =>
      access.grant(
        need(ctx, 'user'),
        { ip: ctx.ip, userAgent: String(ctx.req.headers['user-agent'] ?? '') },
        recordingId,
        purpose,
        details,
      ),
    log: d.log.child({ part: 'api' }),
    async audit(ctx, action, resource, resourceId, details = {}, actor) {
      await d.db.audit.append(auditEntry(ctx, action, resource, resourceId, details, actor));
    },
    auditEntry,
    setting,
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
