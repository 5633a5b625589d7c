import { z } from 'zod';
import { badRequest, forbidden, notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, qStr, route, type RouteDef } from '../table.js';

/**
 * API tokens: a principal's own (admins see and revoke all). What a stolen credential is worth stays
 * bounded (docs/access-security.md): a token made with a browser session ends with the password (the
 * user's next password change, an admin reset or disabling the user revokes it); a token made with
 * a token inherits that, and cannot outlive the token that made it (no expiry asked: the maker's;
 * a later one: 403).
 */
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
        'Create an API token (returned once); expiresInDays (optional) makes it stop working then (shown as expiresAt in the list). It ends with the password (endsWithPassword); made with a token, it expires no later than that one',
      role: 'record-only',
      errors: { 403: 'made with an API token: an expiry later than that token’s' },
      body: z.object({
        name: z.string().trim().min(1).max(100),
        expiresInDays: z.number().positive().max(3650).optional(),
      }),
      async handler(ctx, { body }) {
        const who = need(ctx);
        if (!who.userId) throw badRequest('create API tokens as a user (log in first)');
        let expiresAt = body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null;
        // Made with a session: ends with the password. Made with a token: as that token, and no later.
        let endsWithPassword = who.via === 'session';
        if (who.via === 'token') {
          const maker = (await d.db.users.listTokens(who.userId)).find((t) => t.id === who.sessionId);
          if (!maker) throw forbidden('the API token this request came with is no longer valid');
          endsWithPassword = maker.endsWithPassword;
          if (maker.expiresAt !== null) {
            if (expiresAt === null) expiresAt = maker.expiresAt;
            else if (expiresAt > maker.expiresAt)
              throw forbidden(
                `a token made with an API token cannot outlive it: this one expires at ${maker.expiresAt.toISOString()}; ask for an earlier expiry, or none to get the same`,
              );
          }
        }
        const t = await d.db.users.createToken(who.userId, body.name, expiresAt, endsWithPassword);
        const expires = expiresAt?.toISOString() ?? null;
        await audit(ctx, 'token.create', 'token', t.id, {
          name: body.name,
          expiresAt: expires,
          endsWithPassword,
          madeWith: who.via,
        });
        const reply = {
          id: t.id,
          name: body.name,
          token: t.token,
          expiresAt: expires,
          endsWithPassword,
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
