import { z } from 'zod';
import { ROLES, type User } from '../../store/users.js';

import { conflict, notFound, sendCsv, sendJson } from '../http.js';
import { mapConflict, type Kit } from '../kit.js';
import { need, route, type Ctx, type RouteDef } from '../table.js';
import type { NotificationSubscription } from '../../store/offload.js';
import { SETTINGS_CHANGED } from '../../store/deliveries/subscriptions.js';
import { changesOf } from './notifications.js';
import { MAX_IMPORT_ROWS, planImport, usersCsv, type ImportPlan } from './users-csv.js';

/** Users and groups (admins; supervisors may list the groups). */

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

/**
 * Fields whose change alters what a user may see or do: their monitor sockets close (they
 * reconnect as who they are now).
 */
const SENSITIVE = ['disabled', 'password', 'role', 'group', 'extraGroups', 'numbers'];

/** A user as the API shows it (never the password hash). */
export function publicUser(u: User) {
  const { id, username, displayName, role, group, extraGroups, numbers, disabled, createdAt, language } = u;
  return { id, username, displayName, role, group, extraGroups, numbers, disabled, createdAt, language };
}

/**
 * What a change did, field by field: `{from, to}` for each field whose value differs (a field sent
 * with its old value is left out), and the password only as "set" or "removed", never a hash.
 */
function userChanges(before: User, after: User, body: Record<string, unknown>): Record<string, unknown> {
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

export function userRoutes({ d, audit }: Kit): RouteDef[] {
  /** Writes an import in one transaction, then audits each user as POST and PATCH would, and the import. */
  const applyImport = async (ctx: Ctx, plan: ImportPlan): Promise<void> => {
    const changes = plan.update.filter((u) => Object.keys(u.patch).length > 0);
    const done = await d.db.users
      .importUsers({
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
      })
      .catch(mapConflict);
    d.usersChanged?.();
    const settings = async (
      u: { id: string; username: string },
      from: NotificationSubscription | null,
      to: NotificationSubscription,
    ) =>
      audit(ctx, SETTINGS_CHANGED, 'user', u.id, {
        username: u.username,
        changes: changesOf(from, to),
        source: 'import',
      });
    for (const [i, u] of done.created.entries()) {
      const { notifications } = plan.create[i] as ImportPlan['create'][number];
      await audit(ctx, 'user.create', 'user', u.id, {
        username: u.username,
        role: u.role,
        group: u.group,
        ...(u.disabled && { disabled: true }),
        source: 'import',
      });
      if (notifications) await settings(u, null, notifications);
    }
    for (const [i, u] of done.updated.entries()) {
      const { user: before, patch, fields } = changes[i] as ImportPlan['update'][number];
      const hit = fields.filter((f) => SENSITIVE.includes(f));
      if (hit.length > 0) d.revoke?.({ userId: u.id, reason: `user changed: ${hit.join(', ')}` });
      await audit(ctx, 'user.update', 'user', u.id, {
        username: u.username,
        fields: Object.keys(patch).map((k) => (k === 'password' ? 'password (changed)' : k)),
        changes: userChanges(before, u, patch),
        source: 'import',
      });
    }
    for (const u of plan.update)
      if (u.notifications) await settings(u.user, u.notifications.from, u.notifications.to);
    await audit(ctx, 'users.import', 'user', '', {
      created: plan.create.length,
      updated: plan.update.length,
      unchanged: plan.unchanged.length,
    });
  };
  return [
    route({
      method: 'GET',
      path: '/users',
      summary: 'Users; format=csv downloads them in the columns POST /users/import reads',
      role: 'admin',
      query: z.object({
        format: z.enum(['json', 'csv'], { error: 'json or csv' }).optional().describe('json (default) | csv'),
      }),
      response: { produces: ['application/json', 'text/csv'] },
      async handler(ctx, { query }) {
        const users = await d.db.users.list();
        if (query.format === 'csv')
          sendCsv(ctx.res, 'users.csv', usersCsv(users, await d.db.offload.allSubscriptions()));
        else sendJson(ctx.res, 200, { items: users.map(publicUser) });
      },
    }),
    route({
      method: 'POST',
      path: '/users/import',
      summary: `Create and change users from CSV (at most ${MAX_IMPORT_ROWS} rows; all or nothing; dryRun says what would change)`,
      role: 'admin',
      body: z.object({
        csv: z.string().max(2 * 1024 * 1024, 'at most 2 MiB'),
        dryRun: z.boolean().default(false),
      }),
      bodyLimit: 3 * 1024 * 1024,
      async handler(ctx, { body }) {
        const now = {
          users: await d.db.users.list(),
          subscriptions: await d.db.offload.allSubscriptions(),
          passwordHashOf: async (name: string) => (await d.db.users.byUsername(name))?.passwordHash ?? null,
        };
        const plan = await planImport(body.csv, now, { create: userBody, patch: userPatch });
        if (!body.dryRun) await applyImport(ctx, plan);
        sendJson(ctx.res, 200, {
          dryRun: body.dryRun,
          created: plan.create.map((c) => ({ line: c.line, username: c.user.username, role: c.user.role })),
          updated: plan.update.map((u) => ({ line: u.line, username: u.user.username, fields: u.fields })),
          unchanged: plan.unchanged,
        });
      },
    }),
    route({
      method: 'POST',
      path: '/users',
      summary: 'Create a user',
      role: 'admin',
      body: userBody,
      async handler(ctx, { body }) {
        const u = await d.db.users.create(body).catch(mapConflict);
        d.usersChanged?.();
        const details = { username: u.username, role: u.role, group: u.group };
        await audit(ctx, 'user.create', 'user', u.id, details);
        sendJson(ctx.res, 201, publicUser(u));
      },
    }),
    route({
      method: 'PATCH',
      path: '/users/:id',
      summary: 'Change a user (any field of POST /users, plus disabled)',
      role: 'admin',
      body: userPatch,
      async handler(ctx, { params, body }) {
        const before = await d.db.users.get(params.id as string);
        if (!before) throw notFound(`user ${params.id} not found`);
        const u = await d.db.users.update(before.id, body).catch(mapConflict);
        // What the user may see or do changed: their monitor sockets close now (they reconnect as
        // who they are now); everyone's call filters are re-read (a group's members changed).
        const hit = Object.keys(body).filter((f) => SENSITIVE.includes(f));
        if (hit.length > 0) d.revoke?.({ userId: u.id, reason: `user changed: ${hit.join(', ')}` });
        d.usersChanged?.();
        const changed = Object.keys(body).map((k) => (k === 'password' ? 'password (changed)' : k));
        await audit(ctx, 'user.update', 'user', u.id, {
          username: u.username,
          fields: changed,
          changes: userChanges(before, u, body),
        });
        sendJson(ctx.res, 200, publicUser(u));
      },
    }),
    route({
      method: 'DELETE',
      path: '/users/:id',
      summary: 'Delete a user (their recordings stay)',
      role: 'admin',
      async handler(ctx, { params }) {
        if (need(ctx).userId === params.id) throw conflict('you cannot delete your own account');
        const u = await d.db.users.get(params.id as string);
        if (!u) throw notFound(`user ${params.id} not found`);
        await d.db.users.remove(u.id);
        d.revoke?.({ userId: u.id, reason: 'user deleted' });
        d.usersChanged?.();
        await audit(ctx, 'user.delete', 'user', u.id, { username: u.username });
        sendJson(ctx.res, 200, { deleted: u.id });
      },
    }),
    route({
      method: 'GET',
      path: '/groups',
      summary: 'Groups',
      role: 'supervisor',
      async handler(ctx) {
        sendJson(ctx.res, 200, { items: await d.db.users.listGroups() });
      },
    }),
    route({
      method: 'POST',
      path: '/groups',
      summary: 'Create a group',
      role: 'admin',
      body: z.object({ name: z.string().min(1).max(100), description: z.string().max(500).default('') }),
      async handler(ctx, { body }) {
        await d.db.users.createGroup(body.name, body.description).catch(mapConflict);
        await audit(ctx, 'group.create', 'group', body.name);
        sendJson(ctx.res, 201, { name: body.name, description: body.description });
      },
    }),
  ];
}
