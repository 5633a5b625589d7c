import { isUuid } from './uuid.js';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import { hashPassword } from './passwords.js';
import { inTransaction } from './tx.js';
import { ConflictError, toUser, type Principal, type Role, type Row, type User } from './user-model.js';
import { sessionsRepository } from './user-sessions.js';

/**
 * Users, roles, groups, browser sessions, API tokens and settings. Passwords are hashed with
 * scrypt (memory-hard, node:crypto); session and token secrets are stored as SHA-256 only
 * (passwords.ts). Sessions and tokens: user-sessions.ts; the user model: user-model.ts.
 */

export {
  ADMIN_TOKEN_PRINCIPAL,
  ConflictError,
  ROLES,
  principalOf,
  roleRank,
  type Principal,
  type Role,
  type User,
} from './user-model.js';
export { hashPassword, newSecret, sha256Hex, verifyPassword } from './passwords.js';

export interface NewUser {
  username: string;
  displayName?: string;
  role: Role;
  password?: string | null;
  group?: string | null;
  extraGroups?: string[];
  numbers?: string[];
  /** The LDAP entry's DN (a directory sync); null unlinks. */
  directory?: string | null;
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
  /** Made while signed in: revoked when the password changes or the user is disabled. */
  endsWithPassword: boolean;
}

export interface Group {
  name: string;
  description: string;
  members: number;
  /** The group's default console language (src/store/languages.ts), or null. */
  language: string | null;
}

export interface UsersRepository {
  count(): Promise<number>;
  create(u: NewUser): Promise<User>;
  /**
   * ConflictError when it would demote or disable the last enabled admin (update, importUsers) or
   * delete them (remove): checked and changed in one transaction under a lock.
   */
  update(id: string, patch: UserPatch): Promise<User>;
  /** Creates and changes users all or nothing (the CSV import); ConflictError when one clashes. */
  importUsers(plan: UserImport): Promise<{ created: User[]; updated: User[] }>;
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
  /** `endsWithPassword`: revoked by the next password change, reset or disabling of the user. */
  createToken(
    userId: string,
    name: string,
    expiresAt?: Date | null,
    endsWithPassword?: boolean,
  ): Promise<{ token: string; id: string }>;
  /** The user of a valid (not revoked, not expired) API token, with the token's id. */
  tokenUser(token: string): Promise<(User & { tokenId: string }) | undefined>;
  listTokens(userId?: string): Promise<ApiToken[]>;
  revokeToken(id: string, userId?: string): Promise<boolean>;
  getSetting<T>(key: string): Promise<T | undefined>;
  setSetting(key: string, value: unknown, by: string): Promise<void>;
  /** Numbers of the users in `groups` (for live-call filtering). */
  numbersOfGroups(groups: string[]): Promise<string[]>;
}
const normNumbers = (n: string[] | undefined): string[] | undefined =>
  n?.map((x) => x.trim().toLowerCase()).filter((x) => x !== '');

function pgCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/** What an import writes, in one transaction: users to create and changes to existing users. */
export interface UserImport {
  /** `disabled`: created disabled (an account that exists but cannot sign in yet). */
  create: (NewUser & { disabled?: boolean })[];
  update: { id: string; patch: UserPatch }[];
  /** Email notification settings to set, by username (the users created above included). */
  subscriptions: { username: string; to: { email: string; enabled: boolean; attach: boolean } }[];
}

/** The user writes, on the pool or on one transaction's client; passwords come hashed. */
function userWriters(q: pg.Pool | pg.PoolClient) {
  const ensureGroups = async (names: (string | null | undefined)[]): Promise<void> => {
    const list = names.filter((n): n is string => !!n);
    if (list.length > 0)
      await q.query(
        'INSERT INTO user_groups (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING',
        [list],
      );
  };
  return {
    async insert(u: NewUser, hash: string | null): Promise<User> {
      await ensureGroups([u.group, ...(u.extraGroups ?? [])]);
      try {
        const r = await q.query<Row>(
          `INSERT INTO users (id, username, display_name, role, password_hash, group_name, extra_groups, numbers, directory_dn)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
          [
            randomUUID(),
            u.username,
            u.displayName ?? '',
            u.role,
            hash,
            u.group ?? null,
            u.extraGroups ?? [],
            normNumbers(u.numbers) ?? [],
            u.directory ?? null,
          ],
        );
        return toUser(r.rows[0] as Row);
      } catch (err) {
        if (pgCode(err) === '23505') throw new ConflictError(`user ${u.username} already exists`);
        if (pgCode(err) === '23514') throw new ConflictError(`invalid user: ${(err as Error).message}`);
        throw err;
      }
    },
    async patch(id: string, p: UserPatch, hash: string | undefined): Promise<User> {
      await ensureGroups([p.group, ...(p.extraGroups ?? [])]);
      const r = await q.query<Row>(
        `UPDATE users SET
           display_name = COALESCE($2, display_name), role = COALESCE($3, role),
           password_hash = COALESCE($4, password_hash),
           group_name = CASE WHEN $5 THEN $6 ELSE group_name END,
           extra_groups = COALESCE($7, extra_groups), numbers = COALESCE($8, numbers),
           disabled = COALESCE($9, disabled),
           directory_dn = CASE WHEN $10 THEN $11 ELSE directory_dn END, updated_at = now()
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
          p.directory !== undefined,
          p.directory ?? null,
        ],
      );
      if (!r.rows[0]) throw new NotFoundError(`user ${id} not found`);
      if (p.disabled || p.password) {
        await q.query('DELETE FROM user_sessions WHERE user_id = $1', [id]);
        // Tokens made while signed in end with the sessions (docs/access-security.md).
        await q.query(
          'UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND ends_with_password AND revoked_at IS NULL',
          [id],
        );
      }
      return toUser(r.rows[0]);
    },
  };
}

/** pg_advisory_xact_lock key: user changes that could take away an enabled admin, one at a time. */
const ADMINS_LOCK = 78_660_009;

const enabledAdmin = (u: { role: Role; disabled: boolean } | undefined): boolean =>
  u?.role === 'admin' && !u.disabled;

/**
 * Opens the transaction of a user change: takes ADMINS_LOCK, so that the last-admin check of a
 * change and the change itself are one step (two requests at once, each taking away one of the
 * last two admins, no longer both pass), and reads the rows of `ids` as they are now.
 */
async function lockAdmins(c: pg.PoolClient, ids: string[]): Promise<Map<string, Row>> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [ADMINS_LOCK]);
  const r = await c.query<Row>('SELECT * FROM users WHERE id = ANY($1::uuid[])', [ids.filter(isUuid)]);
  return new Map(r.rows.map((x) => [x.id, x]));
}

/**
 * After a change in the transaction of lockAdmins: ConflictError when `was` (the row before) was
 * an enabled admin, `now` is not (null: deleted), and no enabled admin is left. Without one, the
 * way back in is the admin token or the CLI only.
 */
async function keepAnAdmin(c: pg.PoolClient, was: Row | undefined, now: User | null): Promise<void> {
  if (!was || !enabledAdmin(was) || enabledAdmin(now ?? undefined)) return;
  const r = await c.query<{ n: string }>(
    "SELECT count(*) AS n FROM users WHERE role = 'admin' AND NOT disabled",
  );
  if (Number(r.rows[0]?.n ?? 0) > 0) return;
  const what = !now ? 'delete' : now.role !== 'admin' ? 'demote' : 'disable';
  throw new ConflictError(
    `${was.username} is the last enabled admin: make another user admin before you ${what} them`,
  );
}

export function usersRepository(pool: pg.Pool): UsersRepository {
  const write = userWriters(pool);
  const repo: UsersRepository = {
    async count() {
      const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM users');
      return Number(r.rows[0]?.n ?? 0);
    },
    async create(u) {
      return write.insert(u, u.password ? await hashPassword(u.password) : null);
    },
    async update(id, p) {
      const hash = p.password ? await hashPassword(p.password) : undefined;
      return inTransaction(pool, async (c) => {
        const was = (await lockAdmins(c, [id])).get(id);
        const u = await userWriters(c).patch(id, p, hash);
        await keepAnAdmin(c, was, u);
        return u;
      });
    },
    async importUsers(plan) {
      // Passwords are hashed before the transaction opens (scrypt takes tens of ms each).
      const hashOf = async (pw: string | null | undefined) => (pw ? hashPassword(pw) : undefined);
      const createHashes = await Promise.all(plan.create.map((u) => hashOf(u.password)));
      const updateHashes = await Promise.all(plan.update.map((u) => hashOf(u.patch.password)));
      return inTransaction(pool, async (client) => {
        const before = await lockAdmins(
          client,
          plan.update.map((u) => u.id),
        );
        const tx = userWriters(client);
        const created: User[] = [];
        const updated: User[] = [];
        for (const [i, u] of plan.create.entries()) {
          const made = await tx.insert(u, createHashes[i] ?? null);
          created.push(u.disabled ? await tx.patch(made.id, { disabled: true }, undefined) : made);
        }
        for (const [i, u] of plan.update.entries())
          updated.push(await tx.patch(u.id, u.patch, updateHashes[i]));
        for (const u of updated) await keepAnAdmin(client, before.get(u.id), u);
        for (const { username, to } of plan.subscriptions)
          await client.query(
            `INSERT INTO notification_subscriptions (user_id, email, attach, enabled)
             SELECT id, $2, $3, $4 FROM users WHERE username = $1
             ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, attach = EXCLUDED.attach,
               enabled = EXCLUDED.enabled, updated_at = now()`,
            [username, to.email, to.attach, to.enabled],
          );
        return { created, updated };
      });
    },
    async remove(id) {
      await inTransaction(pool, async (c) => {
        const was = (await lockAdmins(c, [id])).get(id);
        const r = await c.query('DELETE FROM users WHERE id = $1', [id]);
        if (r.rowCount === 0) throw new NotFoundError(`user ${id} not found`);
        await keepAnAdmin(c, was, null);
      });
    },
    async get(id) {
      if (!isUuid(id)) return undefined;
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
      const r = await pool.query<{
        name: string;
        description: string;
        members: string;
        language: string | null;
      }>(
        `SELECT g.name, g.description, g.language,
                (SELECT count(*) FROM users u WHERE u.group_name = g.name) AS members
         FROM user_groups g ORDER BY g.name`,
      );
      return r.rows.map((g) => ({
        name: g.name,
        description: g.description,
        members: Number(g.members),
        language: g.language,
      }));
    },
    async createGroup(name, description) {
      try {
        await pool.query('INSERT INTO user_groups (name, description) VALUES ($1, $2)', [name, description]);
      } catch (err) {
        if (pgCode(err) === '23505') throw new ConflictError(`group ${name} already exists`);
        throw err;
      }
    },
    ...sessionsRepository(pool),
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
