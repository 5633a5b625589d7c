import { createHash } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import { inTransaction } from './tx.js';
import type { RecordingFile } from './types.js';

/**
 * The per-day hash chain of stored recordings, and the catalogue side of `srs recordings verify`.
 * A recording is marked stored and appended to its day's chain in one transaction, under an
 * advisory lock for that day, so concurrent workers on any number of nodes append in a total order
 * (the database function srs_store_recording, 016_store_recording.sql).
 */

export interface ChainEntry {
  day: string;
  seq: number;
  recordingId: string;
  content: string;
  prevHash: string;
  hash: string;
}

export interface ChainProblem {
  day: string;
  seq: number | null;
  recordingId: string | null;
  problem: string;
}

export interface CatalogueFile {
  recordingId: string;
  kind: string;
  path: string;
  bytes: number;
  sha256Plain: string;
  sha256Cipher: string;
  keyFingerprint: string;
}

export interface ChainRepository {
  /**
   * Records the recording's files (one row per kind, replacing an earlier attempt's), marks it
   * stored (filling caller/callee from its first two participants) and appends it to its day's
   * chain, atomically. Returns false (and changes nothing) when it was already stored.
   * With `place`, the recording's row is locked first, and `place` (which puts the files under
   * the names the catalogue gives them) runs only while the recording is neither stored nor
   * purged, before the commit: an attempt that lost to another never replaces the files it stored.
   */
  markStoredChained(
    id: string,
    files?: readonly RecordingFile[],
    place?: () => Promise<void>,
  ): Promise<boolean>;
  /** Checks every link of these days' chains (all days when omitted) against the catalogue. */
  verifyChain(days?: string[]): Promise<{ days: number; entries: number; problems: ChainProblem[] }>;
  /** Files of stored recordings: one recording, or all (pages of `limit` recordings after `after`). */
  files(recordingId?: string, after?: string, limit?: number): Promise<CatalogueFile[]>;
  /** How many files the stored recordings have (what `files()` pages through). */
  storedFileCount(): Promise<number>;
  /** Which recording's catalogued ciphertext has this hash (to name a substituted file). */
  fileByCipherHash(sha256: string): Promise<{ recordingId: string; kind: string } | undefined>;
  /** The UTC day (YYYY-MM-DD) of a recording's start, as chained. */
  dayOf(recordingId: string): Promise<string | undefined>;
}

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');
export const linkHash = (prevHash: string, content: string) => sha256Hex(`${prevHash}\n${content}`);

interface FileRow {
  recording_id: string;
  kind: string;
  path: string;
  bytes: string;
  sha256_plain: string;
  sha256_cipher: string;
  key_fingerprint: string;
}
const toFile = (r: FileRow): CatalogueFile => ({
  recordingId: r.recording_id,
  kind: r.kind,
  path: r.path,
  bytes: Number(r.bytes),
  sha256Plain: r.sha256_plain,
  sha256Cipher: r.sha256_cipher,
  keyFingerprint: r.key_fingerprint,
});

export function chainRepository(pool: pg.Pool): ChainRepository {
  return {
    async markStoredChained(id, files = [], place) {
      // One statement: files, stored state, chain entry and its anchor (016_store_recording.sql).
      const store = async (q: Pick<pg.Pool, 'query'>) => {
        const r = await q.query<{ stored: boolean }>({
          name: 'srs-store-recording',
          text: 'SELECT srs_store_recording($1, $2::jsonb) AS stored',
          values: [
            id,
            JSON.stringify(
              files.map((f) => ({
                kind: f.kind,
                path: f.path,
                bytes: f.bytes,
                sha256_plain: f.sha256Plain,
                sha256_cipher: f.sha256Cipher,
                key_fingerprint: f.keyFingerprint,
              })),
            ),
          ],
        });
        return r.rows[0]?.stored === true;
      };
      try {
        if (!place) return await store(pool);
        return await inTransaction(pool, async (c) => {
          const r = await c.query<{ state: string }>(
            'SELECT state FROM recordings WHERE id = $1 FOR UPDATE',
            [id],
          );
          const state = r.rows[0]?.state;
          if (state === undefined) throw new NotFoundError(`recording ${id} not found for markStored`);
          if (state === 'stored' || state === 'purged') return false;
          await place();
          return await store(c);
        });
      } catch (err) {
        if ((err as { code?: string }).code === 'P0002')
          throw new NotFoundError(`recording ${id} not found for markStored`);
        throw err;
      }
    },

    async verifyChain(days) {
      const dayRows = days
        ? days.map((day) => ({ day }))
        : (
            await pool.query<{ day: string }>(
              `SELECT DISTINCT to_char(day, 'YYYY-MM-DD') AS day FROM recording_chain
               UNION SELECT DISTINCT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM recordings
               WHERE state IN ('stored', 'purged')
               UNION SELECT DISTINCT details ->> 'day' FROM audit WHERE action = 'recording.chained'
               ORDER BY 1`,
            )
          ).rows;
      const problems: ChainProblem[] = [];
      let entries = 0;
      for (const { day } of dayRows) {
        // The day's entries, its anchor and its stored recordings as one snapshot: read apart, a
        // recording stored between two reads looked like removed entries or an unanchored one.
        const c = await pool.connect();
        try {
          await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          entries += checkDay(day, await readDay(c, day), problems);
          await c.query('COMMIT');
        } finally {
          await c.query('ROLLBACK').catch(() => undefined);
          c.release();
        }
      }
      return { days: dayRows.length, entries, problems };
    },

    async files(recordingId, after = '00000000-0000-0000-0000-000000000000', limit = 1000) {
      const res = recordingId
        ? await pool.query<FileRow>(
            `SELECT f.* FROM files f JOIN recordings r ON r.id = f.recording_id
             WHERE f.recording_id = $1 AND r.state = 'stored' ORDER BY f.kind`,
            [recordingId],
          )
        : await pool.query<FileRow>(
            `SELECT f.* FROM files f JOIN recordings r ON r.id = f.recording_id
             WHERE f.recording_id IN (SELECT id FROM recordings WHERE state = 'stored' AND id > $1
                                      ORDER BY id LIMIT $2)
             ORDER BY f.recording_id, f.kind`,
            [after, limit],
          );
      return res.rows.map(toFile);
    },

    async storedFileCount() {
      const r = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM files f JOIN recordings r ON r.id = f.recording_id WHERE r.state = 'stored'`,
      );
      return r.rows[0]?.n ?? 0;
    },

    async fileByCipherHash(sha256) {
      const res = await pool.query<{ recording_id: string; kind: string }>(
        'SELECT recording_id, kind FROM files WHERE sha256_cipher = $1 LIMIT 1',
        [sha256],
      );
      const r = res.rows[0];
      return r ? { recordingId: r.recording_id, kind: r.kind } : undefined;
    },

    async dayOf(recordingId) {
      const res = await pool.query<{ day: string }>(
        `SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM recordings WHERE id = $1`,
        [recordingId],
      );
      return res.rows[0]?.day;
    },
  };
}

interface DayEntryRow {
  seq: number;
  recording_id: string;
  content: string;
  prev_hash: string;
  hash: string;
  current: string | null;
  state: string | null;
}

/** What a day's check reads: its entries, its newest anchor and stored recordings not chained. */
interface DayReads {
  rows: DayEntryRow[];
  anchor: { id: string; seq: number; hash: string } | undefined;
  unchained: string[];
}

async function readDay(c: pg.PoolClient, day: string): Promise<DayReads> {
  const res = await c.query<DayEntryRow>(
    `SELECT c.seq, c.recording_id, c.content, c.prev_hash, c.hash, r.state,
            CASE WHEN r.id IS NULL THEN NULL ELSE srs_chain_content(r.id) END AS current
     FROM recording_chain c LEFT JOIN recordings r ON r.id = c.recording_id
     WHERE c.day = $1 ORDER BY c.seq`,
    [day],
  );
  const anchor = await c.query<{ id: string; seq: number; hash: string }>(
    `SELECT a.id::text AS id, (a.details ->> 'seq')::int AS seq, a.details ->> 'hash' AS hash FROM audit a
     WHERE a.action = 'recording.chained' AND a.details ->> 'day' = $1 ORDER BY a.id DESC LIMIT 1`,
    [day],
  );
  const unchained = await c.query<{ id: string }>(
    `SELECT r.id FROM recordings r WHERE r.state IN ('stored', 'purged')
       AND r.started_at >= $1::date AND r.started_at < $1::date + 1
       AND NOT EXISTS (SELECT 1 FROM recording_chain c WHERE c.recording_id = r.id)`,
    [day],
  );
  return { rows: res.rows, anchor: anchor.rows[0], unchained: unchained.rows.map((u) => u.id) };
}

/** Checks one day's reads, adding to `problems`; returns how many entries it checked. */
function checkDay(day: string, { rows, anchor: a, unchained }: DayReads, problems: ChainProblem[]): number {
  let prev = '';
  let expectSeq = 1;
  for (const e of rows) {
    const at = { day, seq: e.seq, recordingId: e.recording_id };
    if (e.seq !== expectSeq)
      problems.push({ ...at, problem: `entry ${expectSeq} of the day's chain is missing` });
    expectSeq = e.seq + 1;
    if (e.prev_hash !== prev)
      problems.push({ ...at, problem: 'chain broken: the previous entry was removed, altered or reordered' });
    if (linkHash(e.prev_hash, e.content) !== e.hash)
      problems.push({ ...at, problem: 'chain entry altered: its hash does not match its content' });
    if (e.state === null)
      problems.push({ ...at, problem: 'recording removed from the catalogue (its chain entry remains)' });
    else if (e.state === 'stored' && e.current !== e.content)
      problems.push({
        ...at,
        problem: 'catalogue row altered since it was stored (start, duration or plaintext hash)',
      });
    prev = e.hash;
  }
  const head = rows.at(-1);
  if (a && (!head || head.seq < a.seq))
    problems.push({
      day,
      seq: head ? head.seq + 1 : 1,
      recordingId: null,
      problem: `the day's chain ends at entry ${head?.seq ?? 0} but audit row ${a.id} anchored entry ${a.seq}: its last entries were removed`,
    });
  else if (a && head && !rows.some((e) => e.seq === a.seq && e.hash === a.hash))
    problems.push({
      day,
      seq: a.seq,
      recordingId: null,
      problem: `chain entry ${a.seq} does not match its anchor in audit row ${a.id}: entries were replaced`,
    });
  else if (head && (!a || head.seq > a.seq))
    problems.push({
      day,
      seq: head.seq,
      recordingId: head.recording_id,
      problem: `entries after ${a?.seq ?? 0} have no anchor in the audit trail: appended outside the pipeline`,
    });
  for (const id of unchained)
    problems.push({ day, seq: null, recordingId: id, problem: 'stored recording missing from the chain' });
  return rows.length;
}
