import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError, SrsError } from '../errors.js';

/**
 * Users, roles, groups, browser sessions, API tokens and settings. Passwords are hashed with
 * scrypt (memory-hard, node:crypto); session and token secrets are stored as SHA-256 only.
 */

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
  via: 'session' | 'token' | 'admin-token';
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

// scrypt parameters: N=2^15, r=8 -> 32 MiB per hash, about 60-100 ms on these machines.
const SCRYPT_N = 1 << 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r + (1 << 20) }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    // Spend the same time on unknown users so their existence does not show in timing.
    await scryptAsync(password, Buffer.alloc(16), SCRYPT_N, SCRYPT_R, SCRYPT_P);
    return false;
  }
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const want = Buffer.from(hash, 'base64');
  const got = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
  return got.length === want.length && timingSafeEqual(got, want);
}

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');
export const newSecret = (): string => randomBytes(32).toString('base64url');

export interface NewUser {
  username: string;
  displayName?: string;
  role: Role;
  password?: string | null;
  group?: string | null;
  extraGroups?: string[];
  numbers?: string[];
}

export type UserPatch = Partial<Omit<NewUser, 'username'>> & { disabled?: boolean };

export interface ApiToken {
  id: string;
  userId: string;
  username: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** null: never expires. */
  expiresAt: Date | null;
}

export interface Group {
  name: string;
  description: string;
  members: number;
}

export interface UsersRepository {
  count(): Promise<number>;
  create(u: NewUser): Promise<User>;
  update(id: string, patch: UserPatch): Promise<User>;
  remove(id: string): Promise<void>;
  get(id: string): Promise<User | undefined>;
  byUsername(username: string): Promise<(User & { passwordHash: string | null }) | undefined>;
  list(): Promise<User[]>;
  listGroups(): Promise<Group[]>;
  createGroup(name: string, description: string): Promise<void>;
  /** Creates a session; returns the secret to put in the cookie. */
  createSession(
    userId: string,
    ttlMs: number,
    ip: string,
    userAgent: string,
  ): Promise<{ token: string; expiresAt: Date }>;
  /**
   * The user of a live session (disabled users have none); slides the expiry forward, never past
   * `maxMs` after the session was created (absolute lifetime).
   */
  sessionUser(token: string, ttlMs: number, maxMs?: number): Promise<User | undefined>;
  endSession(token: string): Promise<void>;
  createToken(userId: string, name: string, expiresAt?: Date | null): Promise<{ token: string; id: string }>;
  /** The user of a valid (not revoked, not expired) API token, with the token's id. */
  tokenUser(token: string): Promise<(User & { tokenId: string }) | undefined>;
  listTokens(userId?: string): Promise<ApiToken[]>;
  revokeToken(id: string, userId?: string): Promise<boolean>;
  getSetting<T>(key: string): Promise<T | undefined>;
  setSetting(key: string, value: unknown, by: string): Promise<void>;
  /** Numbers of the users in `groups` (for live-call filtering). */
  numbersOfGroups(groups: string[]): Promise<string[]>;
}

interface Row {
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
}

const toUser = (r: Row): User => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  role: r.role,
  group: r.group_name,
  extraGroups: r.extra_groups,
  numbers: r.numbers,
  disabled: r.disabled,
  createdAt: r.created_at,
});

const normNumbers = (n: string[] | undefined): string[] | undefined =>
  n?.map((x) => x.trim().toLowerCase()).filter((x) => x !== '');

function pgCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

export function usersRepository(pool: pg.Pool): UsersRepository {
  const ensureGroups = async (names: (string | null | undefined)[]): Promise<void> => {
    const list = names.filter((n): n is string => !!n);
    if (list.length > 0)
      await pool.query(
        'INSERT INTO user_groups (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING',
        [list],
      );
  };
  const repo: UsersRepository = {
    async count() {
      const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM users');
      return Number(r.rows[0]?.n ?? 0);
    },
    async create(u) {
      await ensureGroups([u.group, ...(u.extraGroups ?? [])]);
      const hash = u.password ? await hashPassword(u.password) : null;
      try {
        const r = await pool.query<Row>(
          `INSERT INTO users (id, username, display_name, role, password_hash, group_name, extra_groups, numbers)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
          [
            randomUUID(),
            u.username,
            u.displayName ?? '',
            u.role,
            hash,
            u.group ?? null,
            u.extraGroups ?? [],
            normNumbers(u.numbers) ?? [],
          ],
        );
        return toUser(r.rows[0] as Row);
      } catch (err) {
        if (pgCode(err) === '23505') throw new ConflictError(`user ${u.username} already exists`);
        if (pgCode(err) === '23514') throw new ConflictError(`invalid user: ${(err as Error).message}`);
        throw err;
      }
    },
    async update(id, p) {
      await ensureGroups([p.group, ...(p.extraGroups ?? [])]);
      const hash = p.password ? await hashPassword(p.password) : undefined;
      const r = await pool.query<Row>(
        `UPDATE users SET
           display_name = COALESCE($2, display_name), role = COALESCE($3, role),
           password_hash = COALESCE($4, password_hash),
           group_name = CASE WHEN $5 THEN $6 ELSE group_name END,
           extra_groups = COALESCE($7, extra_groups), numbers = COALESCE($8, numbers),
           disabled = COALESCE($9, disabled), updated_at = now()
         WHERE id = $1 RETURNING *`,
        [
          id,
          p.displayName ?? null,
          p.role ?? null,
          hash ?? null,
          p.group !== undefined,
          p.group ?? null,
          p.extraGroups ?? null,
          normNumbers(p.numbers) ?? null,
          p.disabled ?? null,
        ],
      );
      if (!r.rows[0]) throw new NotFoundError(`user ${id} not found`);
      if (p.disabled || p.password) await pool.query('DELETE FROM user_sessions WHERE user_id = $1', [id]);
      return toUser(r.rows[0]);
    },
    async remove(id) {
      const r = await pool.query('DELETE FROM users WHERE id = $1', [id]);
      if (r.rowCount === 0) throw new NotFoundError(`user ${id} not found`);
    },
    async get(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const r = await pool.query<Row>('SELECT * FROM users WHERE id = $1', [id]);
      return r.rows[0] ? toUser(r.rows[0]) : undefined;
    },
    async byUsername(username) {
      const r = await pool.query<Row>('SELECT * FROM users WHERE username = $1', [username]);
      return r.rows[0] ? { ...toUser(r.rows[0]), passwordHash: r.rows[0].password_hash } : undefined;
    },
    async list() {
      const r = await pool.query<Row>('SELECT * FROM users ORDER BY username');
      return r.rows.map(toUser);
    },
    async listGroups() {
      const r = await pool.query<{ name: string; description: string; members: string }>(
        `SELECT g.name, g.description,
                (SELECT count(*) FROM users u WHERE u.group_name = g.name) AS members
         FROM user_groups g ORDER BY g.name`,
      );
      return r.rows.map((g) => ({ name: g.name, description: g.description, members: Number(g.members) }));
    },
    async createGroup(name, description) {
      try {
        await pool.query('INSERT INTO user_groups (name, description) VALUES ($1, $2)', [name, description]);
      } catch (err) {
        if (pgCode(err) === '23505') throw new ConflictError(`group ${name} already exists`);
        throw err;
      }
    },
    async createSession(userId, ttlMs, ip, userAgent) {
      const token = newSecret();
      const expiresAt = new Date(Date.now() + ttlMs);
      await pool.query(
        `WITH gc AS (DELETE FROM user_sessions WHERE expires_at < now())
         INSERT INTO user_sessions (token_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)`,
        [sha256Hex(token), userId, expiresAt, ip, userAgent.slice(0, 300)],
      );
      return { token, expiresAt };
    },
    async sessionUser(token, ttlMs, maxMs = 7 * 24 * 3600_000) {
      const r = await pool.query<Row>(
        `WITH s AS (
           UPDATE user_sessions SET expires_at = least(greatest(expires_at, now() + $2 * interval '1 millisecond'),
                                                     created_at + $3 * interval '1 millisecond')
           WHERE token_hash = $1 AND expires_at > now() AND created_at > now() - $3 * interval '1 millisecond'
           RETURNING user_id
         )
         SELECT u.* FROM users u JOIN s ON s.user_id = u.id WHERE NOT u.disabled`,
        [sha256Hex(token), ttlMs, maxMs],
      );
      return r.rows[0] ? toUser(r.rows[0]) : undefined;
    },
    async endSession(token) {
      await pool.query('DELETE FROM user_sessions WHERE token_hash = $1', [sha256Hex(token)]);
    },
    async createToken(userId, name, expiresAt = null) {
      const token = `srs_${newSecret()}`;
      const id = randomUUID();
      await pool.query(
        'INSERT INTO api_tokens (id, user_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)',
        [id, userId, name, sha256Hex(token), expiresAt],
      );
      return { token, id };
    },
    async tokenUser(token) {
      const r = await pool.query<Row & { token_id: string }>(
        `WITH t AS (
           UPDATE api_tokens SET last_used_at = now()
           WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
           RETURNING id, user_id
         )
         SELECT u.*, t.id AS token_id FROM users u JOIN t ON t.user_id = u.id WHERE NOT u.disabled`,
        [sha256Hex(token)],
      );
      return r.rows[0] ? { ...toUser(r.rows[0]), tokenId: r.rows[0].token_id } : undefined;
    },
    async listTokens(userId) {
      const r = await pool.query<{
        id: string;
        user_id: string;
        username: string;
        name: string;
        created_at: Date;
        last_used_at: Date | null;
        revoked_at: Date | null;
        expires_at: Date | null;
      }>(
        `SELECT t.id, t.user_id, u.username, t.name, t.created_at, t.last_used_at, t.revoked_at, t.expires_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE $1::uuid IS NULL OR t.user_id = $1 ORDER BY t.created_at DESC`,
        [userId ?? null],
      );
      return r.rows.map((t) => ({
        id: t.id,
        userId: t.user_id,
        username: t.username,
        name: t.name,
        createdAt: t.created_at,
        lastUsedAt: t.last_used_at,
        revokedAt: t.revoked_at,
        expiresAt: t.expires_at,
      }));
    },
    async revokeToken(id, userId) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
      const r = await pool.query(
        `UPDATE api_tokens SET revoked_at = now()
         WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)`,
        [id, userId ?? null],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async getSetting<T>(key: string) {
      const r = await pool.query<{ value: T }>('SELECT value FROM settings WHERE key = $1', [key]);
      return r.rows[0]?.value;
    },
    async setSetting(key, value, by) {
      await pool.query(
        `INSERT INTO settings (key, value, updated_by) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()`,
        [key, JSON.stringify(value), by],
      );
    },
    async numbersOfGroups(groups) {
      if (groups.length === 0) return [];
      const r = await pool.query<{ n: string }>(
        'SELECT DISTINCT unnest(numbers) AS n FROM users WHERE group_name = ANY($1)',
        [groups],
      );
      return r.rows.map((x) => x.n);
    },
  };
  return repo;
}

/** JavaScript twin of the SQL srs_aor_number: the user part of a SIP/tel URI, lower case. */
export function aorNumber(aor: string | null | undefined): string {
  return (aor ?? '')
    .replace(/^(sips?:|tel:)/i, '')
    .replace(/[@;].*$/, '')
    .toLowerCase();
}

/**
 * A predicate telling whether `who` may see a call with these participants (live calls): admins
 * all, users and record-only users their own numbers (record-only: to control its recording, never
 * to listen), supervisors theirs and their groups' members'.
 */
export async function participantFilter(
  users: Pick<UsersRepository, 'numbersOfGroups'>,
  who: Principal,
): Promise<(participants: readonly { aor: string | null }[]) => boolean> {
  if (who.role === 'admin') return () => true;
  const mine = new Set(who.numbers);
  if (who.role === 'supervisor') for (const n of await users.numbersOfGroups(who.groups)) mine.add(n);
  return (parts) => parts.some((p) => mine.has(aorNumber(p.aor)));
}
