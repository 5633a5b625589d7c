import type { z } from 'zod';
import { looksLikeFormula } from '../../csv.js';
import type { NotificationSubscription } from '../../store/offload.js';
import { verifyPassword, type NewUser, type User, type UserPatch } from '../../store/users.js';
import { HttpError } from '../http.js';
import { emailAddress } from './notifications.js';
import type { Column, RowCells } from './users-csv.js';

/**
 * Rows of users (a CSV import's lines, a directory's people) checked and planned against the users
 * there are now: what to create, what to change field by field, what already matches and whom to
 * disable, or every bad row named. Nothing here writes: users-import.ts applies a plan.
 */

/** Most passwords one import sets (each is hashed with scrypt: about 0.1 s of CPU). */
export const MAX_IMPORT_PASSWORDS = 200;

export interface ImportRowError {
  line: number;
  username?: string;
  message: string;
}

/** What an import does (or would do, on a dry run), row by row. */
export interface ImportPlan {
  /** `notifications`: the new user's email notifications, when the row gives an address. */
  create: {
    line: number;
    user: NewUser & { disabled?: boolean };
    notifications?: NotificationSubscription | undefined;
  }[];
  /** `patch`: the user's fields that change; `notifications`: their settings before and after. */
  update: {
    line: number;
    user: User;
    patch: UserPatch;
    fields: string[];
    notifications?: { from: NotificationSubscription | null; to: NotificationSubscription } | undefined;
  }[];
  unchanged: { line: number; username: string }[];
  /** Users not in the file, disabled by `disableMissing` (enabled ones only). */
  disable: User[];
  /** With `skipBadRows`: the rows left out, and why. */
  skipped: ImportRowError[];
}

/** The notification cells of a row (blank ones left out). */
interface NotifyCells {
  email?: string;
  enabled?: boolean;
  attach?: boolean;
}

/** The formula guard of our own download (src/csv.ts) taken off again: `'=x` reads as `=x`. */
const unguard = (s: string) => (s.startsWith("'") && looksLikeFormula(s.slice(1)) ? s.slice(1) : s);

const YES = ['yes', 'true', '1', 'y'];
const NO = ['no', 'false', '0', 'n'];

/** A yes/no cell: true, false, undefined when blank, or an error message. */
function yesNo(v: string, column: Column): boolean | undefined | string {
  const x = v.toLowerCase();
  if (YES.includes(x)) return true;
  if (NO.includes(x)) return false;
  return x === '' ? undefined : `${column}: "${v.slice(0, 20)}" is not yes or no`;
}

/** The fields and notification settings a row sets (blank cells left out), or an error message. */
function rowFields(
  cells: RowCells,
  blankClears = false,
): { fields: Record<string, unknown>; notify: NotifyCells } | string {
  const out: Record<string, unknown> = {};
  const notify: NotifyCells = {};
  const cell = (c: Column) => unguard((cells.get(c) ?? '').trim());
  const list = (c: Column) =>
    cell(c)
      .split(';')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  if (cell('display_name')) out.displayName = cell('display_name');
  if (cell('role')) out.role = cell('role').toLowerCase();
  if (cell('group')) out.group = cell('group');
  if (cell('extra_groups')) out.extraGroups = list('extra_groups');
  if (cell('numbers')) out.numbers = list('numbers').map((n) => n.toLowerCase());
  if (blankClears) {
    out.group ??= null;
    out.extraGroups ??= [];
    out.numbers ??= [];
  }
  if (cells.get('password')) out.password = cells.get('password');
  if (cells.get('directory')) out.directory = cells.get('directory');
  const flags: [Column, (b: boolean) => void][] = [
    ['disabled', (b) => (out.disabled = b)],
    ['notify', (b) => (notify.enabled = b)],
    ['attach', (b) => (notify.attach = b)],
  ];
  for (const [c, set] of flags) {
    const v = yesNo(cell(c), c);
    if (typeof v === 'string') return v;
    if (v !== undefined) set(v);
  }
  if (cell('email')) {
    const e = emailAddress.safeParse(cell('email'));
    if (!e.success) return `email: "${cell('email').slice(0, 60)}" is not a valid email address`;
    notify.email = e.data;
  }
  return { fields: out, notify };
}

/**
 * A user's notification settings after a row: its cells over what they have; undefined when they
 * end with no address and nothing on (nothing to store), or an error message.
 */
function notifyAfter(
  before: NotificationSubscription | null,
  n: NotifyCells,
): NotificationSubscription | undefined | string {
  const email = n.email ?? before?.email ?? null;
  const enabled = n.enabled ?? before?.enabled ?? false;
  const attach = n.attach ?? before?.attach ?? false;
  if (email === null)
    return enabled || attach ? `${enabled ? 'notify' : 'attach'}: yes needs an email address` : undefined;
  return { email, enabled, attach };
}

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

/** What planImport and the directory sync know of the users there are now. */
export interface UsersNow {
  users: readonly User[];
  /** Notification settings by user id. */
  subscriptions: Map<string, NotificationSubscription>;
  passwordHashOf: (username: string) => Promise<string | null>;
}

export interface PlanOptions {
  /**
   * `disableMissing`: the rows are the whole list; every enabled user not in them is disabled
   * (never deleted: their recordings stay), except those in `keep` (the importing admin's id), and
   * only those `disableOnly` picks when given (the directory sync: directory users).
   */
  disableMissing?: boolean | undefined;
  keep?: string | null | readonly string[] | undefined;
  disableOnly?: ((u: User) => boolean) | undefined;
  /** A bad row is left out (listed in `skipped`, its user left as is) instead of failing the whole. */
  skipBadRows?: boolean | undefined;
  /** A blank group, extra_groups or numbers cell clears the field (the directory is the source). */
  blankClears?: boolean | undefined;
}

/**
 * Plans rows (cells by column, a line number each; `problem`: the row is bad as read) against the
 * users there are now: what planImport does once the file is read, and the directory sync too.
 */
export async function planRows(
  rows: readonly { line: number; cells: RowCells; problem?: string }[],
  now: UsersNow,
  schemas: { create: z.ZodType<NewUser>; patch: z.ZodType<UserPatch> },
  options: PlanOptions = {},
): Promise<ImportPlan> {
  const errors: ImportRowError[] = [];
  const skipped: ImportRowError[] = [];
  const byName = new Map(now.users.map((u) => [u.username, u]));
  const seen = new Map<string, number>();
  const plan: ImportPlan = { create: [], update: [], unchanged: [], disable: [], skipped };
  const pending: (ImportPlan['update'][number] & { before: User })[] = [];
  for (const r of rows) {
    const { cells } = r;
    const username = unguard((cells.get('username') ?? '').trim());
    const fail = (message: string) =>
      (options.skipBadRows ? skipped : errors).push({ line: r.line, ...(username && { username }), message });
    if (r.problem) fail(r.problem);
    if (!username) {
      fail('username: empty');
      continue;
    }
    const twice = seen.get(username);
    if (twice !== undefined) {
      fail(`username ${username} is also on line ${twice}`);
      continue;
    }
    seen.set(username, r.line);
    const row = rowFields(cells, options.blankClears);
    if (typeof row === 'string') {
      fail(row);
      continue;
    }
    const { fields } = row;
    const before = byName.get(username);
    if (before?.directory && fields.password !== undefined) {
      fail('password: a directory user signs in with their directory password');
      continue;
    }
    const had = (before && now.subscriptions.get(before.id)) ?? null;
    const notifications = notifyAfter(had, row.notify);
    if (typeof notifications === 'string') {
      fail(notifications);
      continue;
    }
    if (!before) {
      const parsed = schemas.create.safeParse({ username, role: 'user', ...fields });
      if (parsed.success)
        plan.create.push({
          line: r.line,
          user: { ...parsed.data, ...(fields.disabled === true && { disabled: true }) },
          notifications,
        });
      else fail(issues(parsed.error));
      continue;
    }
    const parsed = schemas.patch.safeParse(fields);
    if (!parsed.success) {
      fail(issues(parsed.error));
      continue;
    }
    const patch = parsed.data;
    const changed = Object.keys(patch).filter(
      (k) =>
        k !== 'password' &&
        JSON.stringify(patch[k as keyof UserPatch]) !== JSON.stringify(before[k as keyof User]),
    );
    const settingsChanged = (['email', 'enabled', 'attach'] as const).filter(
      (k) => notifications !== undefined && notifications[k] !== (had?.[k] ?? (k === 'email' ? null : false)),
    );
    pending.push({
      line: r.line,
      user: before,
      before,
      patch,
      fields: changed,
      // The CSV's names of the settings: `notify` for `enabled`.
      ...(settingsChanged.length > 0 && {
        notifications: { from: had, to: notifications as NotificationSubscription },
        fields: [...changed, ...settingsChanged.map((k) => (k === 'enabled' ? 'notify' : k))],
      }),
    });
  }
  if (options.disableMissing) {
    const keep = new Set(typeof options.keep === 'string' ? [options.keep] : (options.keep ?? []));
    const pick = options.disableOnly ?? (() => true);
    plan.disable = now.users.filter(
      (u) => !seen.has(u.username) && !u.disabled && !keep.has(u.id) && pick(u),
    );
  }
  if (!enabledAdminAfter(now.users, plan, pending))
    errors.push({ line: 0, message: 'the import would leave no enabled admin' });
  const passwords = [...plan.create.map((c) => c.user.password), ...pending.map((p) => p.patch.password)];
  const withPassword = passwords.filter(Boolean).length;
  if (withPassword > MAX_IMPORT_PASSWORDS)
    errors.push({
      line: 0,
      message: `${withPassword} rows set a password; at most ${MAX_IMPORT_PASSWORDS} in one import`,
    });
  if (errors.length > 0) throw importError(errors);
  // A password is hashed with scrypt: the checks run side by side on the thread pool.
  const same = await Promise.all(
    pending.map(
      async (p) =>
        !!p.patch.password && verifyPassword(p.patch.password, await now.passwordHashOf(p.before.username)),
    ),
  );
  for (const [i, p] of pending.entries()) {
    const { before, ...u } = p;
    if (p.patch.password && !same[i]) u.fields = [...u.fields, 'password'];
    u.patch = Object.fromEntries(Object.entries(p.patch).filter(([k]) => u.fields.includes(k))) as UserPatch;
    if (u.fields.length === 0) plan.unchanged.push({ line: p.line, username: before.username });
    else plan.update.push(u);
  }
  return plan;
}

/** Whether an enabled admin is left once the plan is written (the way back in is then the CLI only). */
function enabledAdminAfter(
  users: readonly User[],
  plan: ImportPlan,
  pending: readonly { before: User; patch: UserPatch }[],
): boolean {
  const changed = new Map(pending.map((p) => [p.before.id, p.patch]));
  const off = new Set(plan.disable.map((u) => u.id));
  const stays = users.some((u) => {
    const p = changed.get(u.id);
    return (p?.role ?? u.role) === 'admin' && !(p?.disabled ?? u.disabled) && !off.has(u.id);
  });
  return stays || plan.create.some((c) => c.user.role === 'admin' && !c.user.disabled);
}

export function importError(rows: ImportRowError[]): HttpError {
  const n = rows.length;
  return new HttpError(
    400,
    `${n} ${n === 1 ? 'problem' : 'problems'} in the file; nothing was imported`,
    {},
    { rows },
  );
}
