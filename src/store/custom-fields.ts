import type pg from 'pg';
import { NotFoundError, ParseError } from '../errors.js';
import { inTransaction } from './tx.js';
import { ConflictError } from './user-model.js';

/**
 * Custom fields: fields admins define (an order number, a ticket, a campaign: text, a date or one
 * of a list of options) and set per recording. The recordings list shows them as columns, the
 * search filters on them (src/store/users-access.ts), the details show them. Values are checked
 * against their field's definition inside the transaction that writes them, so a field changed
 * or removed meanwhile cannot take a value it would refuse.
 */

export type CustomFieldType = 'text' | 'date' | 'option';

export interface CustomField {
  name: string;
  label: string;
  type: CustomFieldType;
  /** The choices of an `option` field; empty for the others. */
  options: string[];
  createdBy: string;
  createdAt: Date;
}

/** A recording's values by field name (only the fields it has a value for). */
export type FieldValues = Record<string, string>;

export interface CustomFieldsRepository {
  /** Every field, in the order they were defined. */
  list(): Promise<CustomField[]>;
  get(name: string): Promise<CustomField | undefined>;
  /** ConflictError when the name is taken. */
  create(f: Pick<CustomField, 'name' | 'label' | 'type' | 'options'>, by: string): Promise<CustomField>;
  /**
   * A new label and/or options. NotFoundError for an unknown field; ConflictError when an option
   * taken away is still the value of a recording.
   */
  update(name: string, change: { label?: string; options?: string[] }): Promise<CustomField>;
  /** Removes the field and its values; the number of values removed, or undefined if there was no such field. */
  remove(name: string): Promise<{ values: number } | undefined>;
  /** The values of one recording. */
  valuesOf(recordingId: string): Promise<FieldValues>;
  /**
   * Sets (a string) or clears (null or '') the named fields of a recording, each checked against
   * its definition (ParseError naming the field and the problem; nothing is written then).
   * Returns the values before and after. `lenient` (values an SRC sent): a field that does not
   * exist or a value it refuses is left out and named in `skipped` instead.
   */
  setValues(
    recordingId: string,
    changes: Record<string, string | null>,
    by: string,
    opts?: { lenient?: boolean },
  ): Promise<{ before: FieldValues; after: FieldValues; skipped: string[] }>;
}

export const FIELD_NAME = /^[a-z][a-z0-9_]{0,39}$/;
const MAX_VALUE = 1000;

/** `value` as stored for field `f`, or a ParseError saying why it cannot be. */
export function checkFieldValue(f: Pick<CustomField, 'name' | 'type' | 'options'>, raw: string): string {
  const value = raw.trim();
  if (f.type === 'date') {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    const d = m ? new Date(`${value}T00:00:00Z`) : undefined;
    if (!m || !d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value)
      throw new ParseError(`${f.name}: "${raw.slice(0, 40)}" is not a date (YYYY-MM-DD)`);
    return value;
  }
  if (f.type === 'option') {
    if (!f.options.includes(value))
      throw new ParseError(`${f.name}: "${raw.slice(0, 40)}" is not one of ${f.options.join(', ')}`);
    return value;
  }
  if (value.length > MAX_VALUE) throw new ParseError(`${f.name}: longer than ${MAX_VALUE} characters`);
  if (value.includes('\0')) throw new ParseError(`${f.name}: contains a NUL character`);
  return value;
}

interface FieldRow {
  name: string;
  label: string;
  type: CustomFieldType;
  options: string[];
  created_by: string;
  created_at: Date;
}

const toField = (r: FieldRow): CustomField => ({
  name: r.name,
  label: r.label,
  type: r.type,
  options: r.options,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

async function valuesIn(c: Pick<pg.Pool, 'query'>, recordingId: string): Promise<FieldValues> {
  const r = await c.query<{ field: string; value: string }>(
    `SELECT v.field, v.value FROM recording_fields v JOIN custom_fields f ON f.name = v.field
     WHERE v.recording_id = $1 ORDER BY f.ordinal`,
    [recordingId],
  );
  return Object.fromEntries(r.rows.map((x) => [x.field, x.value]));
}

export function customFieldsRepository(pool: pg.Pool): CustomFieldsRepository {
  return {
    async list() {
      const r = await pool.query<FieldRow>('SELECT * FROM custom_fields ORDER BY ordinal, name');
      return r.rows.map(toField);
    },
    async get(name) {
      const r = await pool.query<FieldRow>('SELECT * FROM custom_fields WHERE name = $1', [name]);
      return r.rows[0] ? toField(r.rows[0]) : undefined;
    },
    async create(f, by) {
      const r = await pool.query<FieldRow>(
        `INSERT INTO custom_fields (name, label, type, options, ordinal, created_by)
         SELECT $1, $2, $3, $4, COALESCE(max(ordinal), 0) + 1, $5 FROM custom_fields
         ON CONFLICT (name) DO NOTHING RETURNING *`,
        [f.name, f.label, f.type, f.options, by],
      );
      if (!r.rows[0]) throw new ConflictError(`a custom field named ${f.name} exists`);
      return toField(r.rows[0]);
    },
    update(name, change) {
      return inTransaction(pool, async (c) => {
        const cur = await c.query<FieldRow>('SELECT * FROM custom_fields WHERE name = $1 FOR UPDATE', [name]);
        const f = cur.rows[0];
        if (!f) throw new NotFoundError(`custom field ${name} not found`);
        if (change.options) {
          const gone = f.options.filter((o) => !change.options?.includes(o));
          const used = await c.query<{ value: string; n: string }>(
            `SELECT value, count(*) AS n FROM recording_fields WHERE field = $1 AND value = ANY($2::text[])
             GROUP BY value ORDER BY value`,
            [name, gone],
          );
          if (used.rows.length > 0)
            throw new ConflictError(
              `cannot remove ${used.rows.map((u) => `"${u.value}" (set on ${u.n} recordings)`).join(', ')} from ${name}: clear those values first`,
            );
        }
        const r = await c.query<FieldRow>(
          'UPDATE custom_fields SET label = $2, options = $3 WHERE name = $1 RETURNING *',
          [name, change.label ?? f.label, change.options ?? f.options],
        );
        return toField(r.rows[0] as FieldRow);
      });
    },
    async remove(name) {
      return inTransaction(pool, async (c) => {
        const v = await c.query('DELETE FROM recording_fields WHERE field = $1', [name]);
        const f = await c.query('DELETE FROM custom_fields WHERE name = $1', [name]);
        return (f.rowCount ?? 0) > 0 ? { values: v.rowCount ?? 0 } : undefined;
      });
    },
    valuesOf: (recordingId) => valuesIn(pool, recordingId),
    setValues(recordingId, changes, by, { lenient = false } = {}) {
      return inTransaction(pool, async (c) => {
        const skipped: string[] = [];
        const names = Object.keys(changes);
        // FOR SHARE: a field cannot be changed or removed while values checked against it are written.
        const defs = await c.query<FieldRow>(
          'SELECT * FROM custom_fields WHERE name = ANY($1::text[]) FOR SHARE',
          [names],
        );
        const byName = new Map(defs.rows.map((f) => [f.name, toField(f)]));
        const unknown = names.filter((n) => !byName.has(n));
        if (unknown.length > 0 && !lenient)
          throw new ParseError(`no custom field named ${unknown.join(', ')}`);
        for (const n of unknown) skipped.push(`no custom field named ${n}`);
        const set: [string, string][] = [];
        const clear: string[] = [];
        for (const n of names) {
          const f = byName.get(n);
          const raw = changes[n];
          if (!f) continue;
          if (raw === null || raw === undefined || raw.trim() === '') clear.push(n);
          else {
            try {
              set.push([n, checkFieldValue(f, raw)]);
            } catch (err) {
              if (!lenient || !(err instanceof ParseError)) throw err;
              skipped.push(err.message);
            }
          }
        }
        const before = await valuesIn(c, recordingId);
        if (clear.length > 0)
          await c.query('DELETE FROM recording_fields WHERE recording_id = $1 AND field = ANY($2::text[])', [
            recordingId,
            clear,
          ]);
        if (set.length > 0)
          await c.query(
            `INSERT INTO recording_fields (recording_id, field, value, set_by)
             SELECT $1, unnest($2::text[]), unnest($3::text[]), $4
             ON CONFLICT (recording_id, field) DO UPDATE SET value = EXCLUDED.value, set_by = EXCLUDED.set_by, set_at = now()`,
            [recordingId, set.map((s) => s[0]), set.map((s) => s[1]), by],
          );
        return { before, after: await valuesIn(c, recordingId), skipped };
      });
    },
  };
}
