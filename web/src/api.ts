/** The REST API client (same-origin cookie session) and who is signed in. */
import type { Language } from './i18n.js';

export interface Me {
  userId: string | null;
  username: string;
  role: string;
  /** The console language set for this user (own, group's or site's); null: the browser's applies. */
  language: Language | null;
  languageFrom: 'user' | 'group' | 'site' | null;
  can: { download: boolean; delete: boolean; listen: boolean; audit: boolean; admin: boolean };
}

export const session: { me: Me | null; onSignedOut: () => void } = {
  me: null,
  onSignedOut: () => undefined,
};

/**
 * Counts the sessions this page began and ended. A 401 to a request made before the last sign-in
 * or sign-out is old news: it must not sign out the session begun since (a view's request, or the
 * live monitor's check of who is signed in when the sign-out closed it, answered after the user
 * signed in again took the new session's header away).
 */
let generation = 0;
/** The user signed in (the console shows their session): earlier requests' 401s no longer count. */
export function beginSession(me: Me): void {
  generation++;
  session.me = me;
}
/** The signed-in session is over (the user signs out): answers to its requests no longer count. */
export function endSession(): void {
  generation++;
  session.me = null;
}

export async function api<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<T> {
  const madeIn = generation;
  const res = await fetch(`/api/v1${path}`, {
    ...init,
    headers: init.body ? { 'content-type': 'application/json', ...init.headers } : init.headers,
    credentials: 'same-origin',
  });
  const body = (await res.json().catch(() => ({}))) as T & { error?: string };
  if (res.status === 401 && path !== '/login' && madeIn === generation) {
    endSession();
    session.onSignedOut();
  }
  if (!res.ok) throw new ApiError(body.error ?? `HTTP ${res.status}`, res.status, body);
  return body;
}

/** A refusal of the API: its status and whole JSON body (what the client may act on). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A JSON request with a method and body. */
export const send = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
  api<T>(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
