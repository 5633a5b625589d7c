import { z } from 'zod';
import { verifyPassword } from '../../store/users.js';
import { LoginLimiter, SESSION_COOKIE } from '../auth.js';
import { HttpError, badRequest, forbidden, sendJson, unauthorized } from '../http.js';
import { permits, type Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';
import { publicUser } from './users.js';

/** Sessions and the principal itself: log in (throttled), log out, who am I, own password. */
export function sessionRoutes(k: Kit): RouteDef[] {
  const { d, audit } = k;
  const userLimiter = new LoginLimiter(5, 5 * 60_000);
  const ipLimiter = new LoginLimiter(20, 5 * 60_000);
  return [
    route({
      method: 'POST',
      path: '/login',
      summary:
        'Log in; sets the srs_session cookie and returns the session token (usable as a Bearer token). 429 with Retry-After after repeated failures.',
      role: 'anyone',
      body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }),
      async handler(ctx, { body }) {
        const keys = [`u:${body.username.toLowerCase()}`];
        const ipKeys = [`ip:${ctx.ip}`];
        const wait = Math.max(userLimiter.retryAfterMs(keys), ipLimiter.retryAfterMs(ipKeys));
        if (wait > 0) {
          const actor = { username: body.username, role: '' };
          await audit(ctx, 'login-throttled', 'session', body.username, {}, actor);
          throw new HttpError(429, 'too many failed logins; try again later', {
            'retry-after': String(Math.ceil(wait / 1000)),
          });
        }
        const u = await d.db.users.byUsername(body.username);
        const ok = await verifyPassword(body.password, u?.passwordHash ?? null);
        if (!u || !ok || u.disabled) {
          userLimiter.fail(keys);
          ipLimiter.fail(ipKeys);
          const reason = u?.disabled ? 'disabled' : 'bad credentials';
          const actor = { username: body.username, role: u?.role ?? '' };
          await audit(ctx, 'login-failed', 'session', body.username, { reason }, actor);
          throw unauthorized('wrong username or password');
        }
        userLimiter.succeed(keys);
        const agent = String(ctx.req.headers['user-agent'] ?? '');
        const s = await d.db.users.createSession(u.id, d.sessionTtlMs, ctx.ip, agent);
        await audit(ctx, 'login', 'session', u.id, {}, { username: u.username, role: u.role, via: 'web' });
        const cookie = `${SESSION_COOKIE}=${s.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(d.sessionTtlMs / 1000)}${d.secureCookies ? '; Secure' : ''}`;
        const reply = { user: publicUser(u), token: s.token, expiresAt: s.expiresAt.toISOString() };
        sendJson(ctx.res, 200, reply, { 'set-cookie': cookie });
      },
    }),
    route({
      method: 'POST',
      path: '/logout',
      summary: 'End the current session',
      role: 'record-only',
      response: { status: 200 },
      async handler(ctx) {
        const who = need(ctx);
        const cookie = /srs_session=([^;]+)/.exec(ctx.req.headers.cookie ?? '')?.[1];
        const bearer = ctx.req.headers.authorization?.slice(7).trim();
        if (who.via === 'session') await d.db.users.endSession(cookie ?? bearer ?? '');
        await audit(ctx, 'logout', 'session', who.userId ?? '');
        const expired = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
        sendJson(ctx.res, 200, { ok: true }, { 'set-cookie': expired });
      },
    }),
    route({
      method: 'GET',
      path: '/me',
      summary: 'The current principal and what it may do',
      role: 'record-only',
      async handler(ctx) {
        const who = need(ctx);
        const [download, del] = await Promise.all([
          k.setting('permissions.download'),
          k.setting('permissions.delete'),
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
      },
    }),
    route({
      method: 'POST',
      path: '/me/password',
      summary: 'Change own password',
      role: 'record-only',
      body: z.object({ current: z.string(), password: z.string().min(8).max(200) }),
      response: { status: 200 },
      async handler(ctx, { body }) {
        const who = need(ctx);
        if (!who.userId) throw badRequest('the admin token has no password');
        const u = await d.db.users.byUsername(who.username);
        if (!u || !(await verifyPassword(body.current, u.passwordHash)))
          throw forbidden('current password is wrong');
        await d.db.users.update(u.id, { password: body.password });
        await audit(ctx, 'password-change', 'user', u.id);
        sendJson(ctx.res, 200, { ok: true });
      },
    }),
  ];
}
