import { z } from 'zod';
import { SETTINGS_CHANGED } from '../../store/deliveries/subscriptions.js';
import type { NotificationSubscription, OffloadRepository } from '../../store/offload.js';
import { ROLES, type User, type UsersRepository } from '../../store/users.js';
import { changesOf } from './notifications.js';
import { planImport } from './users-csv.js';
import type { ImportPlan } from './users-plan.js';

/**
 * A user's fields as POST /users and PATCH /users/{id} take them, what a change did field by field,
 * and the users CSV import written and audited: for the API (POST /users/import) and the CLI
 * (`srs users import`), one way.
 */

/** The most a users CSV import may hold (the API's request body, the CLI's file). */
export const USERS_CSV_MAX = 3 * 1024 * 1024;

export const userBody = z.object({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and ._@- (1-64)'),
  password: z.string().min(8, 'at least 8 characters').max(200).nullable().optional(),
  role: z.enum(ROLES),
  displayName: z.string().max(200).optional(),
  group: z.string().min(1).max(100).nullable().optional(),
  extraGroups: z.array(z.string().min(1).max(100)).max(100).optional(),
  numbers: z.array(z.string().min(1).max(100)).max(100).optional(),
});
export const userPatch = userBody
  .omit({ username: true })
  .partial()
  .extend({ disabled: z.boolean().optional() });

/**
 * Fields whose change alters what a user may see or do: their monitor sockets close (they
 * reconnect as who they are now).
 */
export const SENSITIVE = ['disabled', 'password', 'role', 'group', 'extraGroups', 'numbers'];

/**
 * What a change did, field by field: `{from, to}` for each field whose value differs (a field sent
 * with its old value is left out), and the password only as "set" or "removed", never a hash.
 */
export function userChanges(
  before: User,
  after: User,
  body: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(body)) {
    if (k === 'password') {
      out.password = body.password === null ? 'removed' : 'set';
      continue;
    }
    const from = before[k as keyof User];
    const to = after[k as keyof User];
    if (JSON.stringify(from) !== JSON.stringify(to)) out[k] = { from, to };
  }
  return out;
}

export interface ImportDeps {
  db: {
    users: Pick<UsersRepository, 'list' | 'byUsername' | 'importUsers'>;
    offload: Pick<OffloadRepository, 'allSubscriptions'>;
  };
  /** Appends an audit entry on a user (resource `user`) as whoever imports. */
  audit(action: string, resourceId: string, details: Record<string, unknown>): Promise<void>;
  revoke?: ((x: { userId: string; reason: string }) => void) | undefined;
  accessChanged?: (() => void) | undefined;
}

/** What an import did (or would do), as the API answers and the CLI prints. */
export interface ImportResult {
  dryRun: boolean;
  created: { line: number; username: string; role: string }[];
  updated: { line: number; username: string; fields: string[] }[];
  unchanged: { line: number; username: string }[];
  /** With `disableMissing`: the users not in the file, disabled. */
  disabled: { username: string }[];
}

/**
 * Checks `csv` against the users there are now (HttpError 400 naming every bad line) and, unless
 * `dryRun`, writes it in one transaction (ConflictError when a user appeared meanwhile: nothing
 * written), then audits each user as POST and PATCH would, their notification settings, and the
 * import.
 */
export async function runImport(
  csv: string,
  o: { dryRun: boolean; disableMissing?: boolean; keep?: string | null },
  deps: ImportDeps,
): Promise<ImportResult> {
  const { dryRun } = o;
  const { db } = deps;
  const plan = await planImport(
    csv,
    {
      users: await db.users.list(),
      subscriptions: await db.offload.allSubscriptions(),
      passwordHashOf: async (name) => (await db.users.byUsername(name))?.passwordHash ?? null,
    },
    { create: userBody, patch: userPatch },
    { disableMissing: o.disableMissing, keep: o.keep },
  );
  if (!dryRun) await applyImport(plan, deps, { source: 'import', action: 'users.import' });
  return resultOf(plan, dryRun);
}

/** A plan as the API answers and the CLI prints it. */
export function resultOf(plan: ImportPlan, dryRun: boolean): ImportResult {
  return {
    dryRun,
    created: plan.create.map((c) => ({ line: c.line, username: c.user.username, role: c.user.role })),
    updated: plan.update.map((u) => ({ line: u.line, username: u.user.username, fields: u.fields })),
    unchanged: plan.unchanged,
    disabled: plan.disable.map((u) => ({ username: u.username })),
  };
}

/**
 * Writes a plan in one transaction and audits it: each user with `source`, then the whole as one
 * `action` entry (its counts and `details`).
 */
export async function applyImport(
  plan: ImportPlan,
  deps: ImportDeps,
  how: { source: 'import' | 'directory'; action: string; details?: Record<string, unknown> },
): Promise<void> {
  const { source } = how;
  const { audit } = deps;
  const disabling = plan.disable.map((u) => ({
    line: 0,
    user: u,
    patch: { disabled: true },
    fields: ['disabled'],
  }));
  const changes = [...plan.update.filter((u) => Object.keys(u.patch).length > 0), ...disabling];
  const done = await deps.db.users.importUsers({
    create: plan.create.map((c) => c.user),
    update: changes.map((u) => ({ id: u.user.id, patch: u.patch })),
    subscriptions: [
      ...plan.create.flatMap((c) =>
        c.notifications ? [{ username: c.user.username, to: c.notifications }] : [],
      ),
      ...plan.update.flatMap((u) =>
        u.notifications ? [{ username: u.user.username, to: u.notifications.to }] : [],
      ),
    ],
  });
  deps.accessChanged?.();
  const settings = (
    u: { id: string; username: string },
    from: NotificationSubscription | null,
    to: NotificationSubscription,
  ) => audit(SETTINGS_CHANGED, u.id, { username: u.username, changes: changesOf(from, to), source });
  for (const [i, u] of done.created.entries()) {
    const { notifications } = plan.create[i] as ImportPlan['create'][number];
    await audit('user.create', u.id, {
      username: u.username,
      role: u.role,
      group: u.group,
      ...(u.disabled && { disabled: true }),
      source,
    });
    if (notifications) await settings(u, null, notifications);
  }
  for (const [i, u] of done.updated.entries()) {
    const { user: before, patch, fields } = changes[i] as ImportPlan['update'][number];
    const hit = fields.filter((f) => SENSITIVE.includes(f));
    if (hit.length > 0) deps.revoke?.({ userId: u.id, reason: `user changed: ${hit.join(', ')}` });
    await audit('user.update', u.id, {
      username: u.username,
      fields: Object.keys(patch).map((k) => (k === 'password' ? 'password (changed)' : k)),
      changes: userChanges(before, u, patch),
      source,
    });
  }
  for (const u of plan.update)
    if (u.notifications) await settings(u.user, u.notifications.from, u.notifications.to);
  await audit(how.action, '', {
    ...how.details,
    created: plan.create.length,
    updated: plan.update.length,
    unchanged: plan.unchanged.length,
    ...(plan.disable.length > 0 && { disabled: plan.disable.length }),
    ...(plan.skipped.length > 0 && { skipped: plan.skipped.length }),
  });
}
