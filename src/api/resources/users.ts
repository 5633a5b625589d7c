import { z } from 'zod';
import { ROLES, type User } from '../../store/users.js';
import { conflict, notFound, sendJson } from '../http.js';
import { mapConflict, type Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

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
  return [
    route({
      method: 'GET',
      path: '/users',
      summary: 'Users',
      role: 'admin',
      async handler(ctx) {
        sendJson(ctx.res, 200, { items: (await d.db.users.list()).map(publicUser) });
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
        const sensitive = ['disabled', 'password', 'role', 'group', 'extraGroups', 'numbers'];
        const hit = Object.keys(body).filter((f) => sensitive.includes(f));
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
