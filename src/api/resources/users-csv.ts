import type { z } from 'zod';
import { csvDelimiter, csvLine, CSV_BOM, csvRecords, type CsvRecord } from '../../csv.js';
import type { NotificationSubscription } from '../../store/offload.js';
import type { NewUser, User, UserPatch } from '../../store/users.js';
import {
  importError,
  planRows,
  type ImportPlan,
  type ImportRowError,
  type PlanOptions,
  type UsersNow,
} from './users-plan.js';

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
 * How rows are checked and planned against the users there are now: users-plan.ts.
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
export type Column = (typeof USER_CSV_COLUMNS)[number];
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

function columnOf(header: string): Column | undefined {
  const k = header
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return (USER_CSV_COLUMNS as readonly string[]).includes(k) ? (k as Column) : ALIASES[k];
}

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
