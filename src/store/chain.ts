import { createHash } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError } from '../errors.js';

/**
 * The per-day hash chain of stored recordings, and the catalogue side of `srs recordings verify`.
 * A recording is marked stored and appended to its day's chain in one transaction, under an
 * advisory lock for that day, so concurrent workers on any number of nodes append in a total order.
 */

const CHAIN_LOCK = 78_660_007;

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
   * Marks the recording stored (filling caller/callee from its first two participants) and
   * appends it to its day's chain, atomically. Returns false when it was already stored.
   */
  markStoredChained(id: string): Promise<boolean>;
  /** Checks every link of these days' chains (all days when omitted) against the catalogue. */
  verifyChain(days?: string[]): Promise<{ days: number; entries: number; problems: ChainProblem[] }>;
  /** Files of stored recordings: one recording, or all (pages of `limit` recordings after `after`). */
  files(recordingId?: string, after?: string, limit?: number): Promise<CatalogueFile[]>;
  /** Which recording's catalogued ciphertext has this hash (to name a substituted file). */
  fileByCipherHash(sha256: string): Promise<{ recordingId: string; kind: string } | undefined>;
  /** The UTC day (YYYY-MM-DD) of a recording's start, as chained. */
  dayOf(recordingId: string): Promise<string | undefined>;
}

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');
export const linkHash = (prevHash: string, content: string) => sha256Hex(`${prevHash}\n${content}`);

/** What an entry covers: stable under re-encryption (plaintext hashes, not ciphertext ones). */
const CONTENT_SQL = `
  SELECT r.id::text || '|' || to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
         || '|' || coalesce(r.duration_ms::text, '') || '|' ||
         coalesce((SELECT string_agg(f.kind || ':' || f.sha256_plain, ',' ORDER BY f.kind)
                   FROM files f WHERE f.recording_id = r.id), '') AS content,
         to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
  FROM recordings r WHERE r.id = $1`;

const ANCHOR_SQL = `INSERT INTO audit (id, at, actor, actor_role, ip, via, action, resource, resource_id, details, prev_hash, hash)
  VALUES (0, now(), 'system', 'system', '', 'system', 'recording.chained', 'recording', $1, $2::jsonb, '', '')`;

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
    async markStoredChained(id) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const c = await client.query<{ content: string; day: string }>(CONTENT_SQL, [id]);
        const row = c.rows[0];
        if (!row) throw new NotFoundError(`recording ${id} not found for markStored`);
        const dayKey = Number(row.day.replaceAll('-', ''));
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [CHAIN_LOCK, dayKey]);
        const upd = await client.query(
          `UPDATE recordings r SET state = 'stored', error = NULL, stored_at = now(), updated_at = now(),
             caller_number = coalesce(r.caller_number, nullif(srs_aor_number(p1.aor), '')),
             caller_name = coalesce(r.caller_name, p1.name),
             callee_number = coalesce(r.callee_number, nullif(srs_aor_number(p2.aor), '')),
             callee_name = coalesce(r.callee_name, p2.name),
             direction = coalesce(r.direction, 'unknown')
           FROM recordings r0
           LEFT JOIN participants p1 ON p1.recording_id = r0.id AND p1.ordinal = 1
           LEFT JOIN participants p2 ON p2.recording_id = r0.id AND p2.ordinal = 2
           WHERE r.id = $1 AND r0.id = r.id AND r.state NOT IN ('stored', 'purged')`,
          [id],
        );
        if (upd.rowCount === 0) {
          await client.query('ROLLBACK');
          return false;
        }
        const last = await client.query<{ seq: number; hash: string }>(
          'SELECT seq, hash FROM recording_chain WHERE day = $1 ORDER BY seq DESC LIMIT 1',
          [row.day],
        );
        const prevHash = last.rows[0]?.hash ?? '';
        const seq = (last.rows[0]?.seq ?? 0) + 1;
        await client.query(
          `INSERT INTO recording_chain (day, seq, recording_id, content, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (recording_id) DO NOTHING`,
          [row.day, seq, id, row.content, prevHash, linkHash(prevHash, row.content)],
        );
        // Anchor the new head in the audit trail (same transaction): see 015_chain_anchor.sql.
        await client.query(ANCHOR_SQL, [
          id,
          JSON.stringify({ day: row.day, seq, hash: linkHash(prevHash, row.content) }),
        ]);
        await client.query('COMMIT');
        return true;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
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
        const res = await pool.query<{
          seq: number;
          recording_id: string;
          content: string;
          prev_hash: string;
          hash: string;
          current: string | null;
          state: string | null;
        }>(
          `SELECT c.seq, c.recording_id, c.content, c.prev_hash, c.hash, r.state,
                  CASE WHEN r.id IS NULL THEN NULL ELSE
                    r.id::text || '|' || to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                    || '|' || coalesce(r.duration_ms::text, '') || '|' ||
                    coalesce((SELECT string_agg(f.kind || ':' || f.sha256_plain, ',' ORDER BY f.kind)
                              FROM files f WHERE f.recording_id = r.id), '') END AS current
           FROM recording_chain c LEFT JOIN recordings r ON r.id = c.recording_id
           WHERE c.day = $1 ORDER BY c.seq`,
          [day],
        );
        let prev = '';
        let expectSeq = 1;
        for (const e of res.rows) {
          entries++;
          const at = { day, seq: e.seq, recordingId: e.recording_id };
          if (e.seq !== expectSeq)
            problems.push({ ...at, problem: `entry ${expectSeq} of the day's chain is missing` });
          expectSeq = e.seq + 1;
          if (e.prev_hash !== prev)
            problems.push({
              ...at,
              problem: 'chain broken: the previous entry was removed, altered or reordered',
            });
          if (linkHash(e.prev_hash, e.content) !== e.hash)
            problems.push({ ...at, problem: 'chain entry altered: its hash does not match its content' });
          if (e.state === null)
            problems.push({
              ...at,
              problem: 'recording removed from the catalogue (its chain entry remains)',
            });
          else if (e.state === 'stored' && e.current !== e.content)
            problems.push({
              ...at,
              problem: 'catalogue row altered since it was stored (start, duration or plaintext hash)',
            });
          prev = e.hash;
        }
        const anchor = await pool.query<{ id: string; seq: number; hash: string }>(
          `SELECT a.id::text AS id, (a.details ->> 'seq')::int AS seq, a.details ->> 'hash' AS hash FROM audit a
           WHERE a.action = 'recording.chained' AND a.details ->> 'day' = $1 ORDER BY a.id DESC LIMIT 1`,
          [day],
        );
        const head = res.rows.at(-1);
        const a = anchor.rows[0];
        if (a && (!head || head.seq < a.seq))
          problems.push({
            day,
            seq: head ? head.seq + 1 : 1,
            recordingId: null,
            problem: `the day's chain ends at entry ${head?.seq ?? 0} but audit row ${a.id} anchored entry ${a.seq}: its last entries were removed`,
          });
        else if (a && head && !res.rows.some((e) => e.seq === a.seq && e.hash === a.hash))
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
        const unchained = await pool.query<{ id: string }>(
          `SELECT r.id FROM recordings r WHERE r.state IN ('stored', 'purged')
             AND r.started_at >= $1::date AND r.started_at < $1::date + 1
             AND NOT EXISTS (SELECT 1 FROM recording_chain c WHERE c.recording_id = r.id)`,
          [day],
        );
        for (const u of unchained.rows)
          problems.push({
            day,
            seq: null,
            recordingId: u.id,
            problem: 'stored recording missing from the chain',
          });
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
