import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Principal, UsersRepository } from '../store/users.js';
import { ADMIN_TOKEN_PRINCIPAL, principalOf } from '../store/users.js';

/**
 * Who a request comes from: a browser session (cookie `srs_session`), an API token
 * (`Authorization: Bearer srs_...`), or the server's admin token (kept working as an admin API
 * token). WebSocket clients may pass a token as `?token=`, since browsers cannot set headers there.
 */

export const SESSION_COOKIE = 'srs_session';

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A browser's WebSocket handshake from another site carries its Origin; refuse cookies then. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // not a browser
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export interface AuthenticatorOptions {
  users: UsersRepository;
  adminToken: string;
  sessionTtlMs: number;
}

export { ADMIN_TOKEN_PRINCIPAL };

export class Authenticator {
  constructor(readonly o: AuthenticatorOptions) {}

  /** The principal of a request, or null when it carries no valid credential. */
  async authenticate(req: IncomingMessage, allowQueryToken = false): Promise<Principal | null> {
    const auth = req.headers.authorization;
    let bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null;
    if (!bearer && allowQueryToken) bearer = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (bearer) {
      if (sameSecret(bearer, this.o.adminToken)) return ADMIN_TOKEN_PRINCIPAL;
      if (bearer.startsWith('srs_')) {
        const u = await this.o.users.tokenUser(bearer);
        return u ? principalOf(u, 'token') : null;
      }
      const u = await this.o.users.sessionUser(bearer, this.o.sessionTtlMs);
      return u ? principalOf(u, 'session') : null;
    }
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (cookie && allowQueryToken && !sameOrigin(req)) return null; // cross-site WebSocket hijacking
    if (cookie) {
      const u = await this.o.users.sessionUser(cookie, this.o.sessionTtlMs);
      return u ? principalOf(u, 'session') : null;
    }
    return null;
  }
}

/**
 * Login throttling: at most `max` failures per key (username and client address, counted
 * separately) within `windowMs`; further attempts are refused until the window passes.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();
  constructor(
    readonly max = 5,
    readonly windowMs = 5 * 60_000,
  ) {}

  /** Milliseconds until a new attempt is allowed for any of `keys` (0: allowed now). */
  retryAfterMs(keys: string[], now = Date.now()): number {
    let wait = 0;
    for (const k of keys) {
      const recent = (this.#failures.get(k) ?? []).filter((t) => now - t < this.windowMs);
      if (recent.length === 0) this.#failures.delete(k);
      else this.#failures.set(k, recent);
      if (recent.length >= this.max) wait = Math.max(wait, (recent[0] ?? now) + this.windowMs - now);
    }
    return wait;
  }

  fail(keys: string[], now = Date.now()): void {
    for (const k of keys) this.#failures.set(k, [...(this.#failures.get(k) ?? []), now].slice(-this.max * 4));
    if (this.#failures.size > 100_000) this.#failures.clear(); // bound memory under a spray attack
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.#failures.delete(k);
  }
}
