import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { AuditEntryInput } from './audit.js';
import {
  clearPreserved,
  deleteUnpreserved,
  setPreserved,
  type PreserveOutcome,
  type UnpreserveOutcome,
} from './legal-hold.js';
import { regexError } from './participant-match.js';
import {
  checkNumberPatterns,
  SEARCH_TIMEOUT_MS,
  searchOrder,
  searchWhere,
  withSearchTimeout,
  type Direction,
} from './recording-search.js';
import { isUuid } from './recordings.js';
import { countRows } from './tx.js';
import type { RecordingFile, RecordingState } from './types.js';
import type { Principal } from './users.js';

/**
 * What users see of and add to the catalogue: the role- and group-scoped recordings search,
 * notes, categories and preservation, and deletion. A recording belongs to the users who held its
 * participants' numbers at the call, and to their groups then (recording_owners, see scopeSql). The
 * search's filters become SQL in src/store/recording-search.ts.
 */

export interface RecordingSearch {
  /** The call started at or after / before. */
  from?: Date;
  to?: Date;
  /** The recording was stored (recordings.stored_at) at or after / before: none not stored yet. */
  storedFrom?: Date;
  storedTo?: Date;
  /** Number or name, matched case-insensitively as a substring of a participant's AOR or name. */
  participant?: string;
  /**
   * The caller's / callee's number (ANI / DNIS: the catalogue's caller_number / callee_number,
   * else the first / second participant's), matched as `participant` matches a number.
   */
  caller?: string;
  callee?: string;
  /** recordings.direction; `unknown` also finds a recording that has none yet (not stored). */
  direction?: Direction;
  /**
   * Any text: a case-insensitive substring of a participant's AOR or name, a note, or a custom
   * field value, or the exact Call-ID.
   */
  q?: string;
  callId?: string;
  sessionId?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  group?: string;
  /** Default: every state but 'purged' (deleted recordings are found only when asked for). */
  state?: RecordingState | 'purged';
  category?: string;
  /** Recordings this user owned at the call (recording_owners), or `none`: that no user owned. */
  owner?: string;
  /** The recordings of one interaction (RecordingRow.interactionId). */
  interaction?: string;
  /** A custom field's value: a case-insensitive substring of a text field, else the exact value. */
  field?: { name: string; value: string };
  preserved?: boolean;
  /** Only these recordings (UUIDs; still scoped to what the principal may see). */
  ids?: string[];
  /** `started` (default): newest call first; `stored`: oldest stored first (then id, a stable order). */
  sort?: 'started' | 'stored';
  limit?: number;
  offset?: number;
  /** Count the matches only up to this many (`totalExact` false past it); default all. */
  countUpTo?: number;
}

export interface RecordingSummary {
  id: string;
  sessionId: string | null;
  callId: string;
  startedAt: Date;
  endedAt: Date | null;
  durationMs: number | null;
  /** When it was stored (null until then). */
  storedAt: Date | null;
  state: RecordingState | 'purged';
  participants: { aor: string | null; name: string | null }[];
  categories: string[];
  /** The interaction it is part of, if any. */
  interactionId: string | null;
  /** Custom field values by field name (src/store/custom-fields.ts). */
  fields: Record<string, string>;
  preserved: boolean;
  groups: string[];
}

export interface Note {
  id: string;
  recordingId: string;
  author: string;
  authorRank: number;
  body: string;
  createdAt: Date;
  /** Pinned above the other notes: when, by whom, and the rank of their role. */
  pinned: { at: Date; by: string; rank: number } | null;
}

export interface Annotations {
  notes: Note[];
  categories: string[];
  preservedAt: Date | null;
  preservedBy: string | null;
  preservedRank: number | null;
  groups: string[];
}

export interface AccessRepository {
  /** SQL-level visibility: is recording `id` one `who` may see? */
  canSee(who: Principal, id: string): Promise<boolean>;
  search(
    who: Principal,
    s: RecordingSearch,
  ): Promise<{ total: number; totalExact: boolean; items: RecordingSummary[] }>;
  annotations(id: string): Promise<Annotations>;
  addNote(id: string, author: string, authorRank: number, body: string): Promise<Note>;
  getNote(noteId: string): Promise<Note | undefined>;
  deleteNote(noteId: string): Promise<void>;
  /** Pins a note (`pin`: who and their rank) or takes its pin down (null); the note after, if any. */
  setNotePin(noteId: string, pin: { by: string; rank: number } | null): Promise<Note | undefined>;
  setCategories(id: string, categories: string[], by: string): Promise<string[]>;
  /** Categories in use on the recordings `who` may see (every recording without `who`). */
  allCategories(who?: Principal): Promise<{ category: string; count: number }[]>;
  /** Preserves unless deleted or a higher role's preservation is there (src/store/legal-hold.ts). */
  setPreserved(id: string, by: string, rank: number): Promise<PreserveOutcome>;
  /** Lifts a preservation unless it is a higher role's than `rank` (one conditional statement). */
  clearPreserved(id: string, rank: number): Promise<UnpreserveOutcome>;
  /** What happened during the call (pause/resume, streams, participants, metadata), oldest first. */
  sessionEvents(id: string): Promise<{ at: Date; type: string; detail: Record<string, unknown> }[]>;
  /**
   * Marks an unpreserved recording purged (a tombstone) if it is still in `state` (stored, or
   * failed: its finalize gave up and its spool is to be wiped), with its audit entry in the same
   * transaction; returns its files (to wipe), or null.
   */
  deleteUnpreserved(
    id: string,
    state: 'stored' | 'failed',
    entry: (files: RecordingFile[]) => AuditEntryInput,
  ): Promise<RecordingFile[] | null>;
}

/**
 * A WHERE fragment limiting recordings `r` to what `who` may see; pushes its parameters. A user sees
 * the recordings they owned at the call, a supervisor also those owned then by a user of their
 * groups (recording_owners, 036_recording_owners.sql): not whoever holds the numbers now.
 */
export function scopeSql(who: Principal, args: unknown[]): string {
  if (who.role === 'admin') return 'TRUE';
  if (who.role === 'record-only' || !who.userId) return 'FALSE';
  args.push(who.userId);
  const own = `EXISTS (SELECT 1 FROM recording_owners o WHERE o.recording_id = r.id AND o.user_id = $${args.length}::uuid)`;
  if (who.role === 'user') return own;
  args.push(who.groups);
  return `(${own} OR EXISTS (SELECT 1 FROM recording_owners o
            WHERE o.recording_id = r.id AND o.group_name = ANY($${args.length}::text[])))`;
}

/** The groups a recording `r` belongs to: its owners' groups at the call. */
export const GROUPS_OF = `COALESCE((SELECT array_agg(DISTINCT o.group_name ORDER BY o.group_name) FROM recording_owners o
   WHERE o.recording_id = r.id AND o.group_name IS NOT NULL), '{}')`;

interface NoteRow {
  id: string;
  recording_id: string;
  author: string;
  author_rank: number;
  body: string;
  created_at: Date;
  pinned_at: Date | null;
  pinned_by: string | null;
  pinned_rank: number | null;
}
const toNote = (n: NoteRow): Note => ({
  id: n.id,
  recordingId: n.recording_id,
  author: n.author,
  authorRank: n.author_rank,
  body: n.body,
  createdAt: n.created_at,
  pinned: n.pinned_at ? { at: n.pinned_at, by: n.pinned_by ?? '', rank: n.pinned_rank ?? 0 } : null,
});

/** `searchTimeoutMs`: each query of a search stops after this (limits.searchTimeoutMs). */
export function accessRepository(
  pool: pg.Pool,
  { searchTimeoutMs = SEARCH_TIMEOUT_MS }: { searchTimeoutMs?: number } = {},
): AccessRepository {
  return {
    async canSee(who, id) {
      if (!isUuid(id)) return false;
      const args: unknown[] = [id];
      const r = await pool.query(
        `SELECT 1 FROM recordings r WHERE r.id = $1 AND ${scopeSql(who, args)}`,
        args,
      );
      return (r.rowCount ?? 0) > 0;
    },
    async search(who, s) {
      const args: unknown[] = [];
      const w = searchWhere(s, args, scopeSql(who, args));
      const limit = Math.max(1, Math.min(s.limit ?? 50, 1000));
      const offset = Math.max(0, s.offset ?? 0);
      // Every query of the search stops past the time limit (a QueryTimeoutError, 503).
      const { total, rows } = await withSearchTimeout(pool, searchTimeoutMs, async (c) => {
        await checkNumberPatterns(c, s);
        // An invalid regular expression (participant=/.../) fails here, first: a ParseError (400).
        const total = await countRows(c, `FROM recordings r WHERE ${w}`, args, s.countUpTo).catch(
          (err: unknown) => {
            throw regexError(err);
          },
        );
        const rows = await c.query<{
          id: string;
          session_id: string | null;
          call_id: string;
          started_at: Date;
          ended_at: Date | null;
          duration_ms: string | null;
          stored_at: Date | null;
          state: RecordingState | 'purged';
          preserved_at: Date | null;
          participants: { aor: string | null; name: string | null }[];
          categories: string[];
          fields: Record<string, string>;
          groups: string[];
          interaction_id: string | null;
        }>(
          `SELECT r.id, r.session_id, r.call_id, r.started_at, r.ended_at, r.duration_ms, r.stored_at, r.state,
           r.preserved_at, r.interaction_id,
           COALESCE((SELECT json_agg(json_build_object('aor', p.aor, 'name', p.name) ORDER BY p.ordinal)
                     FROM participants p WHERE p.recording_id = r.id), '[]') AS participants,
           COALESCE((SELECT array_agg(c.category ORDER BY c.category) FROM recording_categories c
                     WHERE c.recording_id = r.id), '{}') AS categories,
           COALESCE((SELECT json_object_agg(v.field, v.value) FROM recording_fields v
                     WHERE v.recording_id = r.id), '{}') AS fields,
           ${GROUPS_OF} AS groups
         FROM recordings r WHERE ${w}
         ORDER BY ${searchOrder(s)} LIMIT ${limit} OFFSET ${offset}`,
          args,
        );
        return { total, rows };
      });
      return {
        total: total.total,
        totalExact: total.exact,
        items: rows.rows.map((x) => ({
          id: x.id,
          sessionId: x.session_id,
          callId: x.call_id,
          startedAt: x.started_at,
          endedAt: x.ended_at,
          durationMs: x.duration_ms === null ? null : Number(x.duration_ms),
          storedAt: x.stored_at,
          state: x.state,
          participants: x.participants,
          categories: x.categories,
          interactionId: x.interaction_id,
          fields: x.fields,
          preserved: x.preserved_at !== null,
          groups: x.groups,
        })),
      };
    },
    async annotations(id) {
      const notes = await pool.query<NoteRow>(
        // Pinned first (in the order they were pinned), then the others oldest first.
        'SELECT * FROM recording_notes WHERE recording_id = $1 ORDER BY pinned_at ASC NULLS LAST, created_at',
        [id],
      );
      const r = await pool.query<{
        preserved_at: Date | null;
        preserved_by: string | null;
        preserved_rank: number | null;
        categories: string[];
        groups: string[];
      }>(
        `SELECT r.preserved_at, r.preserved_by, r.preserved_rank,
           COALESCE((SELECT array_agg(c.category ORDER BY c.category) FROM recording_categories c
                     WHERE c.recording_id = r.id), '{}') AS categories,
           ${GROUPS_OF} AS groups
         FROM recordings r WHERE r.id = $1`,
        [id],
      );
      const x = r.rows[0];
      return {
        notes: notes.rows.map(toNote),
        categories: x?.categories ?? [],
        preservedAt: x?.preserved_at ?? null,
        preservedBy: x?.preserved_by ?? null,
        preservedRank: x?.preserved_rank ?? null,
        groups: x?.groups ?? [],
      };
    },
    async addNote(id, author, authorRank, body) {
      const r = await pool.query<NoteRow>(
        `INSERT INTO recording_notes (id, recording_id, author, author_rank, body) VALUES ($1, $2, $3, $4, $5)
         RETURNING *`,
        [randomUUID(), id, author, authorRank, body],
      );
      return toNote(r.rows[0] as NoteRow);
    },
    async getNote(noteId) {
      if (!isUuid(noteId)) return undefined;
      const r = await pool.query<NoteRow>('SELECT * FROM recording_notes WHERE id = $1', [noteId]);
      return r.rows[0] ? toNote(r.rows[0]) : undefined;
    },
    async deleteNote(noteId) {
      await pool.query('DELETE FROM recording_notes WHERE id = $1', [noteId]);
    },
    async setNotePin(noteId, pin) {
      const r = await pool.query<NoteRow>(
        `UPDATE recording_notes SET pinned_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END,
           pinned_by = $2, pinned_rank = $3 WHERE id = $1 RETURNING *`,
        [noteId, pin?.by ?? null, pin?.rank ?? null],
      );
      return r.rows[0] ? toNote(r.rows[0]) : undefined;
    },
    async setCategories(id, categories, by) {
      const r = await pool.query<{ category: string }>(
        `WITH del AS (DELETE FROM recording_categories WHERE recording_id = $1 AND NOT (category = ANY($2::text[]))),
              ins AS (INSERT INTO recording_categories (recording_id, category, added_by)
                      SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING)
         SELECT unnest($2::text[]) AS category ORDER BY 1`,
        [id, categories, by],
      );
      return r.rows.map((x) => x.category);
    },
    async allCategories(who) {
      const args: unknown[] = [];
      const scope = who ? scopeSql(who, args) : 'TRUE';
      const r = await pool.query<{ category: string; n: string }>(
        `SELECT c.category, count(*) AS n FROM recording_categories c JOIN recordings r ON r.id = c.recording_id
         WHERE ${scope} AND r.state <> 'purged' GROUP BY c.category ORDER BY c.category`,
        args,
      );
      return r.rows.map((x) => ({ category: x.category, count: Number(x.n) }));
    },
    setPreserved: (id, by, rank) => setPreserved(pool, id, by, rank),
    clearPreserved: (id, rank) => clearPreserved(pool, id, rank),
    async sessionEvents(id) {
      try {
        const r = await pool.query<{ at: Date; type: string; detail: Record<string, unknown> }>(
          'SELECT at, type, detail FROM recording_events WHERE recording_id = $1 ORDER BY at, seq LIMIT 1000',
          [id],
        );
        return r.rows;
      } catch (err) {
        // recording_events arrives with another migration; without it there is nothing to show.
        if ((err as { code?: string }).code === '42P01') return [];
        throw err;
      }
    },
    deleteUnpreserved: (id, state, entry) => deleteUnpreserved(pool, id, state, entry),
  };
}
