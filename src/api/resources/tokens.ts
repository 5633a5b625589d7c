import { z } from 'zod';
import { badRequest, notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, qStr, route, type RouteDef } from '../table.js';

/** API tokens: a principal's own (admins see and revoke all). */
export function tokenRoutes({ d, audit }: Kit): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/tokens',
      summary: 'Own API tokens with their expiry (admins: ?all=true)',
      role: 'record-only',
      query: z.object({ all: qStr('true: every user’s tokens (admins)') }),
      async handler(ctx, { query }) {
        const who = need(ctx);
        const all = who.role === 'admin' && query.all === 'true';
        if (!all && !who.userId) throw badRequest('the admin token owns no tokens; use ?all=true');
        const items = await d.db.users.listTokens(all ? undefined : (who.userId ?? undefined));
        sendJson(ctx.res, 200, { items });
      },
    }),
    route({
      method: 'POST',
      path: '/tokens',
      summary:
        'Create an API token (returned once); expiresInDays (optional) makes it stop working then (shown as expiresAt in the list)',
      role: 'record-only',
      body: z.object({
        name: z.string().trim().min(1).max(100),
        expiresInDays: z.number().positive().max(3650).optional(),
      }),
      async handler(ctx, { body }) {
        const who = need(ctx);
        if (!who.userId) throw badRequest('create API tokens as a user (log in first)');
        const expiresAt = body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null;
        const t = await d.db.users.createToken(who.userId, body.name, expiresAt);
        const expires = expiresAt?.toISOString() ?? null;
        await audit(ctx, 'token.create', 'token', t.id, { name: body.name, expiresAt: expires });
        const reply = {
          id: t.id,
          name: body.name,
          token: t.token,
          expiresAt: expires,
          note: 'shown once; store it now',
        };
        sendJson(ctx.res, 201, reply);
      },
    }),
    route({
      method: 'DELETE',
      path: '/tokens/:id',
      summary: 'Revoke an API token',
      role: 'record-only',
      async handler(ctx, { params }) {
        const who = need(ctx);
        const owner = who.role === 'admin' ? undefined : (who.userId ?? undefined);
        // A UUID in any case names the token; the monitor's sockets carry its id in lower case.
        const id = (params.id as string).toLowerCase();
        const ok = await d.db.users.revokeToken(id, owner);
        if (!ok) throw notFound(`token ${params.id} not found or already revoked`);
        d.revoke?.({ sessionId: id, reason: 'token revoked' });
        await audit(ctx, 'token.revoke', 'token', id);
        sendJson(ctx.res, 200, { revoked: id });
      },
    }),
  ];
}
