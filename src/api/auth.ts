import type { IncomingMessage } from 'node:http';
import type { Principal, UsersRepository } from '../store/users.js';
import { ADMIN_TOKEN_PRINCIPAL, principalOf, sha256Hex } from '../store/users.js';
import { sameSecret } from '../secrets.js';

/**
 * Who a request comes from: a browser session (the HttpOnly cookie `srs_session`; the token is
 * never handed to scripts), an API token (`Authorization: Bearer srs_...`), or the server's admin
 * token (kept working as an admin API token). The monitor WebSocket takes the same cookie or
 * header; `?token=` is accepted there only for API tokens and only when enabled (SRS_WS_QUERY_TOKEN),
 * since a URL ends up in logs and history.
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

/** The bearer credential of a request (`Authorization: Bearer ...`): it takes precedence over the cookie. */
function bearerOf(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() || null : null;
}

/**
 * The session secret a request authenticates with, as `authenticate` picks it: the bearer
 * credential when there is one, else the cookie named exactly `srs_session` (the last of several).
 * Logout ends this one, not a decoy cookie such as `x_srs_session` or an earlier duplicate.
 */
export function sessionSecretOf(req: IncomingMessage): string | null {
  return bearerOf(req) ?? (parseCookies(req.headers.cookie)[SESSION_COOKIE] || null);
}

/**
 * Why a state-changing request whose credential is the session cookie is refused as cross-site
 * (CSRF), or null to let it through. SameSite=Strict keeps the cookie from other sites' pages but
 * not from a sibling subdomain's (the same site), and a form posts a bodiless route without a
 * preflight. So the browser's own word is required where it gives one: Sec-Fetch-Site, when
 * present, must be same-origin (or none: typed by the user), and Origin, when present, must be
 * `own` (the server's origin as the client reached it: requestOrigin, which follows the trusted
 * proxy's X-Forwarded-Proto and X-Forwarded-Host). A request with neither header (curl, scripts)
 * and one with a bearer credential (no browser sends one by itself) pass.
 */
export function crossSiteCookieRequest(req: IncomingMessage, own: string | null): string | null {
  if (bearerOf(req) || !parseCookies(req.headers.cookie)[SESSION_COOKIE]) return null;
  const refused = (why: string) =>
    `cross-site request refused: a change made with the session cookie must come from this server's own pages (${why})`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return refused(`Sec-Fetch-Site: ${String(site)}`);
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let from: string | null;
  try {
    from = new URL(origin).origin;
  } catch {
    from = null;
  }
  // An opaque origin ("null": a sandboxed frame, a redirect from elsewhere) is never ours.
  if (from === null || from === 'null' || from !== own)
    return refused(`Origin ${origin}, this server is ${own ?? 'unknown (no Host)'}`);
  return null;
}

export interface AuthenticatorOptions {
  users: UsersRepository;
  adminToken: string;
  sessionTtlMs: number;
  /** Absolute session lifetime (default 12 h). */
  sessionMaxMs?: number;
  /** Accept `?token=<API token>` on the WebSocket (default off). */
  wsQueryToken?: boolean;
}

export { ADMIN_TOKEN_PRINCIPAL };

const idOf = (secret: string) => sha256Hex(secret).slice(0, 16);

export class Authenticator {
  constructor(readonly o: AuthenticatorOptions) {}

  /** The session id (as Principal.sessionId) of a session secret. */
  static sessionIdOf(secret: string): string {
    return idOf(secret);
  }

  /** Replaces the admin token (after `srs token rotate-admin`, read back from its file). */
  setAdminToken(token: string): void {
    this.o.adminToken = token;
  }

  async #session(secret: string): Promise<Principal | null> {
    const u = await this.o.users.sessionUser(secret, this.o.sessionTtlMs, this.o.sessionMaxMs);
    return u ? principalOf(u, 'session', idOf(secret)) : null;
  }

  /**
   * The principal of a request, or null when it carries no valid credential. `channel` 'ws' is the
   * monitor's handshake: cookies only from the same origin, `?token=` for API tokens when enabled.
   */
  async authenticate(
    req: IncomingMessage,
    channel: 'http' | 'ws' | boolean = 'http',
  ): Promise<Principal | null> {
    const ws = channel === 'ws' || channel === true;
    const c = this.credentialOf(req, channel);
    if (!c) return null;
    if (c.from === 'query' && !c.secret.startsWith('srs_')) return null; // only API tokens travel in a URL
    if (c.from === 'cookie' && ws && !sameOrigin(req)) return null; // cross-site WebSocket hijacking
    return c.from === 'cookie' ? this.#session(c.secret) : this.ofSecret(c.secret);
  }

  /**
   * The secret a request authenticates with, as `authenticate` picks it, and where it was: the
   * bearer credential, else (the monitor's handshake, when enabled) `?token=`, else the session
   * cookie. Relayed to the node holding a call, which authenticates the user with it itself.
   */
  credentialOf(
    req: IncomingMessage,
    channel: 'http' | 'ws' | boolean = 'http',
  ): { secret: string; from: 'bearer' | 'query' | 'cookie' } | null {
    const bearer = bearerOf(req);
    if (bearer) return { secret: bearer, from: 'bearer' };
    if ((channel === 'ws' || channel === true) && this.o.wsQueryToken) {
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
      if (q) return { secret: q, from: 'query' };
    }
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    return cookie ? { secret: cookie, from: 'cookie' } : null;
  }

  /** The principal of a secret: this server's admin token, an API token (`srs_...`) or a session's. */
  async ofSecret(secret: string): Promise<Principal | null> {
    if (sameSecret(secret, this.o.adminToken)) return ADMIN_TOKEN_PRINCIPAL;
    if (secret.startsWith('srs_')) {
      const u = await this.o.users.tokenUser(secret);
      return u ? principalOf(u, 'token', u.tokenId) : null;
    }
    return this.#session(secret);
  }
}

/**
 * Login throttling that slows rather than locks. Each attempt is counted when it starts (before
 * the password is checked, so concurrent attempts cannot slip through together), on three keys
 * (`passwordKeys`): the address, the user from that address, and the user from anywhere. Past a
 * few free attempts a key must wait a delay that doubles with each attempt, up to its cap; an
 * attempt made before a key's delay is over is refused at once (429, Retry-After) and not checked.
 * The user-wide key has a short cap, so an attacker hammering an account from some addresses cannot
 * keep its owner out: the right password from a new address succeeds once that short delay is over.
 * A success clears the user's keys but only gives back its own attempt on the address's key: the
 * address counts failures, so an office behind one address signs in freely, and an attacker who
 * signs in to an account of their own between guesses at others' does not wipe their count.
 */
export interface ThrottleKey {
  key: string;
  /** Attempts without delay. */
  free: number;
  /** Largest delay (ms). */
  capMs: number;
  /** What a success does to the key: clear it (the default), or take back its own attempt only. */
  onSuccess?: 'clear' | 'refund';
}

/**
 * The keys of an attempt at `username`'s password from `ip`: a login, or a change of one's own
 * password (its current one checked), so that a stolen session or API token guesses no faster.
 */
export function passwordKeys(username: string, ip: string): ThrottleKey[] {
  const name = username.toLowerCase();
  return [
    { key: `ip:${ip}`, free: 10, capMs: 5 * 60_000, onSuccess: 'refund' },
    { key: `u:${name}@${ip}`, free: 3, capMs: 5 * 60_000 },
    { key: `u:${name}`, free: 5, capMs: 10_000 },
  ];
}

export class LoginThrottle {
  readonly #state = new Map<string, { n: number; next: number; last: number }>();
  constructor(
    readonly baseMs = 1000,
    /** A key untouched this long starts over. */
    readonly forgetMs = 15 * 60_000,
  ) {}

  /** Starts an attempt: 0 when it may go ahead (and is counted), else ms to wait (nothing counted). */
  begin(keys: ThrottleKey[], now = Date.now()): number {
    let wait = 0;
    for (const k of keys) {
      const s = this.#state.get(k.key);
      if (s && now - s.last > this.forgetMs) this.#state.delete(k.key);
      const cur = this.#state.get(k.key);
      if (cur && cur.next > now) wait = Math.max(wait, cur.next - now);
    }
    if (wait > 0) return wait;
    for (const k of keys) {
      const s = this.#state.get(k.key) ?? { n: 0, next: 0, last: now };
      s.n++;
      s.last = now;
      const over = s.n - k.free;
      s.next = over > 0 ? now + Math.min(k.capMs, this.baseMs * 2 ** Math.min(over - 1, 20)) : now;
      this.#state.set(k.key, s);
    }
    if (this.#state.size > 100_000)
      for (const [key, s] of this.#state) if (now - s.last > this.forgetMs) this.#state.delete(key);
    return 0;
  }

  /**
   * A successful login (or own password change): clears its keys, or, for a key that only counts
   * failures, takes back the attempt it counted and lifts the delay that attempt set.
   */
  succeed(keys: ThrottleKey[], now = Date.now()): void {
    for (const k of keys) {
      const s = this.#state.get(k.key);
      if (!s) continue;
      if (k.onSuccess !== 'refund' || s.n <= 1) this.#state.delete(k.key);
      else {
        s.n--;
        s.next = Math.min(s.next, now);
      }
    }
  }
}
