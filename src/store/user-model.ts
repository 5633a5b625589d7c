/**
 * Who the users are: roles and their order, the user as the code sees it (and its row), and the
 * principal every access check is made for.
 */
import { SrsError } from '../errors.js';

export const ROLES = ['record-only', 'user', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** record-only 0 < user 1 < supervisor 2 < admin 3: "a lower role cannot undo a higher one". */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  group: string | null;
  extraGroups: string[];
  numbers: string[];
  disabled: boolean;
  createdAt: Date;
  /** The user's own console language (src/store/languages.ts); null: their group's or the site's. */
  language: string | null;
  /** The LDAP entry the user is synchronized from (its DN); null for a local user. */
  directory: string | null;
}

/** Who is asking, as every access check sees it. */
export interface Principal {
  userId: string | null;
  username: string;
  role: Role;
  /** Groups whose recordings and live calls a supervisor sees (own group plus extra groups). */
  groups: string[];
  /** The user's own numbers (their recordings). */
  numbers: string[];
  via: 'session' | 'token' | 'admin-token' | 'peer';
  /** The credential's identity: a session's hash prefix, an API token's id (audit dedup, socket revocation). */
  sessionId?: string;
}

/** The server's admin token acts as this principal: an admin with no user row. */
export const ADMIN_TOKEN_PRINCIPAL: Principal = Object.freeze({
  userId: null,
  username: 'admin-token',
  role: 'admin',
  groups: [],
  numbers: [],
  via: 'admin-token',
  sessionId: 'admin-token',
}) as Principal;

export function principalOf(u: User, via: Principal['via'], sessionId?: string): Principal {
  return {
    ...(sessionId ? { sessionId } : {}),
    userId: u.id,
    username: u.username,
    role: u.role,
    groups: [...(u.group ? [u.group] : []), ...u.extraGroups],
    numbers: u.numbers,
    via,
  };
}

export class ConflictError extends SrsError {
  constructor(message: string) {
    super('ERR_CONFLICT', message);
  }
}

/** A `users` row as Postgres returns it. */
export interface Row {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  password_hash: string | null;
  group_name: string | null;
  extra_groups: string[];
  numbers: string[];
  disabled: boolean;
  created_at: Date;
  language: string | null;
  directory_dn: string | null;
}

export const toUser = (r: Row): User => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  role: r.role,
  group: r.group_name,
  extraGroups: r.extra_groups,
  numbers: r.numbers,
  disabled: r.disabled,
  createdAt: r.created_at,
  language: r.language,
  directory: r.directory_dn,
});
