import type { z } from 'zod';
import { csvDelimiter, csvLine, CSV_BOM, csvRecords, looksLikeFormula, type CsvRecord } from '../../csv.js';
import type { NotificationSubscription } from '../../store/offload.js';
import { verifyPassword, type NewUser, type User, type UserPatch } from '../../store/users.js';
import { HttpError } from '../http.js';
import { emailAddress } from './notifications.js';

/**
 * Users as CSV: the list an admin downloads (GET /users?format=csv) and the file they upload to
 * create and change many users at once (POST /users/import), the "synchronization against CSV" of
 * reference seed 003. One column set both ways, so a download edited in a spreadsheet imports back.
 *
 * An import is checked whole before anything is written: a row with an unknown role, a username
 * twice, a short password or an unknown column makes it fail with every bad row named by its line,
 * and nothing changes. A blank cell leaves that field of an existing user as it is (a new user gets
 * the default: no group, role `user`, no password until one is set). `email`, `notify` and `attach`
 * are the user's email notifications (seed 003's "Send email notifications / Attach recording").
 */

/** The columns, in the order the download writes them (`password` is import only). */
export const USER_CSV_COLUMNS = [
  'username',
  'display_name',
  'role',
  'group',
  'extra_groups',
  'numbers',
  'disabled',
  'email',
  'notify',
  'attach',
  'password',
] as const;
type Column = (typeof USER_CSV_COLUMNS)[number];
/** A row's cells by column; `directory` (the LDAP entry's DN) is never read from a file. */
export type RowCells = Map<Column | 'directory', string>;

/** Other spellings of the columns a directory export may carry (after lower-casing, `_` for spaces). */
const ALIASES: Record<string, Column> = {
  user: 'username',
  name: 'display_name',
  displayname: 'display_name',
  more_groups: 'extra_groups',
  additional_groups: 'extra_groups',
  groups: 'extra_groups',
  number: 'numbers',
  extensions: 'numbers',
  extension: 'numbers',
  e_mail: 'email',
  mail: 'email',
  notifications: 'notify',
  send_email_notifications: 'notify',
  attach_recording: 'attach',
};

/** Most rows one import takes. */
export const MAX_IMPORT_ROWS = 2000;
/** Most passwords one import sets (each is hashed with scrypt: about 0.1 s of CPU). */
export const MAX_IMPORT_PASSWORDS = 200;

const listCell = (v: unknown) => (Array.isArray(v) ? v.join('; ') : v);

const yes = (b: boolean) => (b ? 'yes' : 'no');

/** The download: a byte-order mark, the header, a line per user (never a password). */
export function usersCsv(
  users: readonly User[],
  subscriptions: Map<string, NotificationSubscription>,
): string {
  const cols = USER_CSV_COLUMNS.filter((c) => c !== 'password');
  let text = `${CSV_BOM}${csvLine(cols)}`;
  for (const u of users) {
    const n = subscriptions.get(u.id);
    text += csvLine([
      u.username,
      u.displayName,
      u.role,
      u.group ?? '',
      listCell(u.extraGroups),
      listCell(u.numbers),
      yes(u.disabled),
      n?.email ?? '',
      yes(n?.enabled ?? false),
      yes(n?.attach ?? false),
    ]);
  }
  return text;
}

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

function columnOf(header: string): Column | undefined {
  const k = header
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return (USER_CSV_COLUMNS as readonly string[]).includes(k) ? (k as Column) : ALIASES[k];
}

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

/**
 * Reads an upload against the users there are now. Throws HttpError 400 naming every bad line
 * (and writes nothing); otherwise says what to create, what to change (field by field) and what
 * already matches. A password matching the one the user has counts as unchanged, so importing
 * the same file twice changes nothing and ends nobody's sessions.
 */
export async function planImport(
  text: string,
  now: UsersNow,
  schemas: { create: z.ZodType<NewUser>; patch: z.ZodType<UserPatch> },
  options: PlanOptions = {},
): Promise<ImportPlan> {
  let records: CsvRecord[];
  try {
    records = csvRecords(text, csvDelimiter(text)).filter((r) => r.cells.some((c) => c.trim() !== ''));
  } catch (err) {
    throw importError([{ line: 0, message: (err as Error).message }]);
  }
  const [head, ...lines] = records;
  if (!head) throw importError([{ line: 1, message: 'the file is empty: a header line is needed' }]);
  const columns = head.cells.map(columnOf);
  const errors: ImportRowError[] = [];
  const unknown = head.cells.filter((_, i) => columns[i] === undefined);
  if (unknown.length > 0)
    errors.push({
      line: head.line,
      message: `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u.slice(0, 40)}"`).join(', ')} (known: ${USER_CSV_COLUMNS.join(', ')})`,
    });
  if (!columns.includes('username')) errors.push({ line: head.line, message: 'no username column' });
  const twiceOver = columns.filter((c, i) => c && columns.indexOf(c) !== i);
  if (twiceOver.length > 0)
    errors.push({
      line: head.line,
      message: `more than one column for ${[...new Set(twiceOver)].join(', ')}`,
    });
  if (lines.length > MAX_IMPORT_ROWS)
    errors.push({ line: 0, message: `${lines.length} rows; at most ${MAX_IMPORT_ROWS} in one import` });
  if (errors.length > 0) throw importError(errors);
  const rows = lines.map((r) => {
    const cells: RowCells = new Map();
    columns.forEach((c, i) => c && cells.set(c, r.cells[i] ?? ''));
    const extra = r.cells.length > columns.length;
    return {
      line: r.line,
      cells,
      ...(extra && { problem: `${r.cells.length} cells, the header has ${columns.length}` }),
    };
  });
  return planRows(rows, now, schemas, options);
}

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

function importError(rows: ImportRowError[]): HttpError {
  const n = rows.length;
  return new HttpError(
    400,
    `${n} ${n === 1 ? 'problem' : 'problems'} in the file; nothing was imported`,
    {},
    { rows },
  );
}
