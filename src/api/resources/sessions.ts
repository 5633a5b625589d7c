import { z } from 'zod';
import { effectiveLanguage } from '../../store/languages.js';
import { verifyPassword } from '../../store/users.js';
import { Authenticator, LoginThrottle, SESSION_COOKIE, passwordKeys, sessionSecretOf } from '../auth.js';
import { DirectoryError } from '../../directory/ldap.js';
import { HttpError, badRequest, forbidden, sendJson, unauthorized } from '../http.js';
import { permits, type Kit } from '../kit.js';
import { need, route, type Ctx, type RouteDef } from '../table.js';
import { ThrottleAudit } from '../throttle-audit.js';
import { publicUser } from './users.js';

/** 429 for an attempt made within its throttle delay (`wait` ms). */
const slowDown = (what: string, wait: number) =>
  new HttpError(429, `too many failed ${what}; try again later`, {
    'retry-after': String(Math.ceil(wait / 1000)),
  });

/**
 * Sessions and the principal itself: log in, log out, who am I, own password. Login and the own
 * password change's check of the current one share one throttle (the same keys per account and
 * address), so a stolen session or API token guesses the password no faster than a login would.
 */
export function sessionRoutes(k: Kit): RouteDef[] {
  const { d, audit } = k;
  const throttle = d.loginThrottle ?? new LoginThrottle();
  // Refused attempts are audited once per key and window, with a count (throttle-audit.ts), and
  // each is counted in srs_login_throttled_total.
  const throttleAudit = new ThrottleAudit();
  const auditLater = (write: () => Promise<void>) => () => {
    write().catch((err: unknown) => k.log.warn({ err }, 'throttle audit summary not written'));
  };
  /** A refused login: audited when it opens its address's window. */
  const loginThrottled = async (ctx: Ctx, username: string) => {
    d.throttled?.('login');
    const actor = { username, role: '' };
    const first = throttleAudit.refused(`login|${ctx.ip}`, username, ctx.ip, (s) =>
      auditLater(() => audit(ctx, 'login-throttled', 'session', username, { ...s }, actor))(),
    );
    if (first) await audit(ctx, 'login-throttled', 'session', username, { count: 1 }, actor);
  };
  return [
    route({
      method: 'POST',
      path: '/login',
      summary:
        'Log in; sets the HttpOnly srs_session cookie (Secure over HTTPS) and returns the user and the session expiry (never the token). Attempts are slowed per user and per address (429 with Retry-After), never locked.',
      role: 'anyone',
      body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }),
      async handler(ctx, { body }) {
        const allKeys = passwordKeys(body.username, ctx.ip);
        const wait = throttle.begin(allKeys);
        if (wait > 0) {
          await loginThrottled(ctx, body.username);
          throw slowDown('logins', wait);
        }
        const u = await d.db.users.byUsername(body.username);
        const actor = { username: body.username, role: u?.role ?? '' };
        let ok: boolean;
        if (u?.directory) {
          // A directory user's password is the directory's: a bind as their entry, never a local hash.
          if (!d.directory) ok = false;
          else
            ok = await d.directory.authenticate(u.directory, body.password).catch(async (err: unknown) => {
              if (!(err instanceof DirectoryError)) throw err;
              d.log.warn({ err: err.message }, 'directory login: the directory cannot be reached');
              await audit(
                ctx,
                'login-failed',
                'session',
                body.username,
                { reason: 'directory unreachable' },
                actor,
              );
              throw new HttpError(503, 'the directory cannot be reached; try again later');
            });
        } else ok = await verifyPassword(body.password, u?.passwordHash ?? null);
        if (!u || !ok || u.disabled) {
          const reason = u?.disabled
            ? 'disabled'
            : u?.directory && !d.directory
              ? 'directory not configured'
              : 'bad credentials';
          await audit(ctx, 'login-failed', 'session', body.username, { reason }, actor);
          throw unauthorized('wrong username or password');
        }
        throttle.succeed(allKeys);
        const agent = String(ctx.req.headers['user-agent'] ?? '');
        const s = await d.db.users.createSession(u.id, d.sessionTtlMs, ctx.ip, agent);
        await audit(ctx, 'login', 'session', u.id, {}, { username: u.username, role: u.role, via: 'web' });
        const secure = ctx.secure || d.secureCookies ? '; Secure' : '';
        const maxMs = d.sessionMaxMs ?? 12 * 3600_000;
        // The cookie lives as long as the session may (its absolute limit); the server ends it
        // earlier when idle for the sliding TTL. A cookie of the TTL alone, sent only here, was
        // dropped by the browser TTL after login however active the user was.
        const cookie = `${SESSION_COOKIE}=${s.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxMs / 1000)}${secure}`;
        const absolute = new Date(Date.now() + maxMs);
        const reply = {
          user: publicUser(u),
          expiresAt: s.expiresAt.toISOString(),
          endsBy: absolute.toISOString(),
        };
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
        // The session that authenticated this request (the bearer, else the exact srs_session
        // cookie as authenticate picks it), never another cookie whose name merely contains it.
        const secret = sessionSecretOf(ctx.req);
        if (who.via === 'session' && secret && Authenticator.sessionIdOf(secret) === who.sessionId) {
          await d.db.users.endSession(secret);
          // The session's monitor sockets close now, not at their next message.
          d.revoke?.({ sessionId: who.sessionId, reason: 'logout' });
        }
        await audit(ctx, 'logout', 'session', who.userId ?? '');
        const expired = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${ctx.secure || d.secureCookies ? '; Secure' : ''}`;
        sendJson(ctx.res, 200, { ok: true }, { 'set-cookie': expired });
      },
    }),
    route({
      method: 'GET',
      path: '/me',
      summary: 'The current principal, what it may do, and the console language that applies to it',
      role: 'record-only',
      async handler(ctx) {
        const who = need(ctx);
        const [listen, download, del, levels] = await Promise.all([
          k.setting('permissions.listen'),
          k.setting('permissions.download'),
          k.setting('permissions.delete'),
          d.db.languages.levels(who.userId),
        ]);
        const { language, from } = effectiveLanguage(levels);
        sendJson(ctx.res, 200, {
          ...who,
          // The console's language (null: none set at any level, the browser's applies).
          language,
          languageFrom: from,
          can: {
            download: permits(download, who.role),
            delete: permits(del, who.role),
            listen: permits(listen, who.role),
            audit: who.role === 'admin',
            admin: who.role === 'admin',
          },
        });
      },
    }),
    route({
      method: 'POST',
      path: '/me/password',
      summary:
        'Change own password. Wrong current passwords count against the login throttle of the account and address (429 with Retry-After) and are audited (password-change-failed).',
      role: 'record-only',
      body: z.object({
        current: z.string(),
        password: z.string().min(8, 'at least 8 characters').max(200),
      }),
      response: { status: 200 },
      async handler(ctx, { body }) {
        const who = need(ctx);
        const userId = who.userId;
        if (!userId) throw badRequest('the admin token has no password');
        // Never the guess in the trail: the reason only.
        const failed = (reason: string) => audit(ctx, 'password-change-failed', 'user', userId, { reason });
        const keys = passwordKeys(who.username, ctx.ip);
        const wait = throttle.begin(keys);
        if (wait > 0) {
          d.throttled?.('password');
          const first = throttleAudit.refused(`password|${userId}|${ctx.ip}`, who.username, ctx.ip, (s) =>
            auditLater(() =>
              audit(ctx, 'password-change-failed', 'user', userId, { reason: 'throttled', ...s }),
            )(),
          );
          if (first)
            await audit(ctx, 'password-change-failed', 'user', userId, { reason: 'throttled', count: 1 });
          throw slowDown('attempts', wait);
        }
        const u = await d.db.users.byUsername(who.username);
        if (u?.directory) throw badRequest('your password is kept in the directory: change it there');
        if (!u || !(await verifyPassword(body.current, u.passwordHash))) {
          await failed('current password is wrong');
          throw forbidden('current password is wrong');
        }
        throttle.succeed(keys);
        await d.db.users.update(u.id, { password: body.password });
        d.revoke?.({ userId: u.id, reason: 'password change' });
        await audit(ctx, 'password-change', 'user', u.id);
        sendJson(ctx.res, 200, { ok: true });
      },
    }),
  ];
}
