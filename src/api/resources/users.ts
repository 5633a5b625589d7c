import { z } from 'zod';
import { DirectoryError } from '../../directory/ldap.js';
import type { User } from '../../store/users.js';
import { badRequest, conflict, HttpError, notFound, sendCsv, sendJson } from '../http.js';
import { mapConflict, type Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';
import { MAX_IMPORT_ROWS, usersCsv } from './users-csv.js';
import { runDirectorySync } from './users-directory.js';
import { runImport, SENSITIVE, userBody, userChanges, userPatch, USERS_CSV_MAX } from './users-import.js';

/** A user as the API shows it (never the password hash). */
export function publicUser(u: User) {
  const { id, username, displayName, role, group, extraGroups, numbers, disabled, createdAt, language } = u;
  const directory = u.directory;
  return {
    id,
    username,
    displayName,
    role,
    group,
    extraGroups,
    numbers,
    disabled,
    createdAt,
    language,
    directory,
  };
}

/** Users and groups (admins; supervisors may list the groups). */
export function userRoutes({ d, audit }: Kit): RouteDef[] {
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
        if (query.format !== 'csv') return sendJson(ctx.res, 200, { items: users.map(publicUser) });
        const text = usersCsv(users, await d.db.offload.allSubscriptions());
        // The whole list with everyone's notification address leaves the server: on the trail.
        await audit(ctx, 'users.export', 'user', '', { users: users.length });
        sendCsv(ctx.res, 'users.csv', text);
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
        disableMissing: z
          .boolean()
          .default(false)
          .describe('disable every user not in the file (never the caller)'),
      }),
      bodyLimit: USERS_CSV_MAX,
      async handler(ctx, { body }) {
        const keep = need(ctx).userId;
        const r = await runImport(
          body.csv,
          { dryRun: body.dryRun, disableMissing: body.disableMissing, keep },
          {
            db: d.db,
            audit: (action, resourceId, details) => audit(ctx, action, 'user', resourceId, details),
            revoke: d.revoke,
            accessChanged: d.accessChanged,
          },
        ).catch(mapConflict);
        sendJson(ctx.res, 200, r);
      },
    }),
    route({
      method: 'POST',
      path: '/users/sync',
      summary:
        'Synchronize the users with the LDAP directory (docs/access-security.md#ldap-directory); dryRun says what would change. 409 without a directory, 502 when it cannot be reached',
      role: 'admin',
      body: z.object({ dryRun: z.boolean().default(false) }),
      async handler(ctx, { body }) {
        if (!d.directory) throw conflict('no directory is configured (directory.url in the config file)');
        const r = await runDirectorySync(
          d.directory,
          { dryRun: body.dryRun, disableMissing: d.directoryDisableMissing ?? true, keep: need(ctx).userId },
          {
            db: d.db,
            audit: (action, resourceId, details) => audit(ctx, action, 'user', resourceId, details),
            revoke: d.revoke,
            accessChanged: d.accessChanged,
          },
        ).catch((err: unknown) => {
          if (err instanceof DirectoryError) throw new HttpError(502, err.message);
          return mapConflict(err);
        });
        sendJson(ctx.res, 200, r);
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
        d.accessChanged?.();
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
      errors: { 409: 'the change would demote or disable the last enabled admin' },
      body: userPatch,
      async handler(ctx, { params, body }) {
        const before = await d.db.users.get(params.id as string);
        if (!before) throw notFound(`user ${params.id} not found`);
        if (before.directory && body.password !== undefined)
          throw badRequest(`${before.username} signs in with their directory password (${before.directory})`);
        // 409 for the last enabled admin: the store checks it in the change's own transaction.
        const u = await d.db.users.update(before.id, body).catch(mapConflict);
        // What the user may see or do changed: their monitor sockets close now (they reconnect as
        // who they are now); everyone's call filters are re-read (a group's members changed).
        const hit = Object.keys(body).filter((f) => SENSITIVE.includes(f));
        if (hit.length > 0) d.revoke?.({ userId: u.id, reason: `user changed: ${hit.join(', ')}` });
        d.accessChanged?.();
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
      errors: { 409: 'your own account, or the last enabled admin' },
      async handler(ctx, { params }) {
        if (need(ctx).userId === params.id) throw conflict('you cannot delete your own account');
        const u = await d.db.users.get(params.id as string);
        if (!u) throw notFound(`user ${params.id} not found`);
        await d.db.users.remove(u.id).catch(mapConflict); // 409 for the last enabled admin
        d.revoke?.({ userId: u.id, reason: 'user deleted' });
        d.accessChanged?.();
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
