import type pg from 'pg';
import { appendAudit, type AuditEntryInput } from './audit.js';
import { inTransaction } from './tx.js';
import type { RecordingFile } from './types.js';

/**
 * Preservation (legal hold) and deletion by a user: each decided by one conditional statement, so
 * that what was read before (the preserver's rank, the state) cannot be overtaken by a concurrent
 * change, and a deletion commits together with its audit entry.
 */

/** What a preservation did: done, or why not. */
export type PreserveOutcome = 'preserved' | 'higher' | 'deleted' | 'missing' | 'changed';

/** What lifting a preservation did: cleared, nothing to lift, or refused (a higher role's hold). */
export type UnpreserveOutcome =
  { outcome: 'cleared' } | { outcome: 'not-preserved' } | { outcome: 'higher'; preservedBy: string | null };

interface HoldRow {
  state: string;
  preserved_at: Date | null;
  preserved_by: string | null;
  preserved_rank: number | null;
}

const holdOf = async (pool: pg.Pool, id: string): Promise<HoldRow | undefined> =>
  (
    await pool.query<HoldRow>(
      'SELECT state, preserved_at, preserved_by, preserved_rank FROM recordings WHERE id = $1',
      [id],
    )
  ).rows[0];

/**
 * Preserves a recording that is not deleted (purged), unless a higher role's preservation is there
 * (preserving again would make it this role's, which could then lift it).
 */
export async function setPreserved(
  pool: pg.Pool,
  id: string,
  by: string,
  rank: number,
): Promise<PreserveOutcome> {
  const r = await pool.query(
    `UPDATE recordings SET preserved_at = now(), preserved_by = $2, preserved_rank = $3, updated_at = now()
     WHERE id = $1 AND state <> 'purged' AND (preserved_rank IS NULL OR preserved_rank <= $3)`,
    [id, by, rank],
  );
  if ((r.rowCount ?? 0) > 0) return 'preserved';
  const now = await holdOf(pool, id);
  if (!now) return 'missing';
  if (now.state === 'purged') return 'deleted';
  if (now.preserved_rank !== null && now.preserved_rank > rank) return 'higher';
  return 'changed';
}

/**
 * Lifts a preservation if there is one and it is not a higher role's than `rank`: the rank is
 * checked by the clearing statement itself, on the row as it is when cleared.
 */
export async function clearPreserved(pool: pg.Pool, id: string, rank: number): Promise<UnpreserveOutcome> {
  const r = await pool.query(
    `UPDATE recordings SET preserved_at = NULL, preserved_by = NULL, preserved_rank = NULL, updated_at = now()
     WHERE id = $1 AND preserved_at IS NOT NULL AND (preserved_rank IS NULL OR preserved_rank <= $2)`,
    [id, rank],
  );
  if ((r.rowCount ?? 0) > 0) return { outcome: 'cleared' };
  const now = await holdOf(pool, id);
  if (now?.preserved_at && now.preserved_rank !== null && now.preserved_rank > rank)
    return { outcome: 'higher', preservedBy: now.preserved_by };
  return { outcome: 'not-preserved' };
}

/**
 * Marks an unpreserved recording purged (a tombstone, like the retention purge in
 * src/store/retention.ts: the row and its files' rows stay, so the day's hash chain still accounts
 * for it) if it is still in `state`, and writes its audit entry (`entry(files)`) in the same
 * transaction: a deletion without its entry never commits. Its files (to remove afterwards), or
 * null when it was not purged (preserved, changed or removed meanwhile).
 */
export async function deleteUnpreserved(
  pool: pg.Pool,
  id: string,
  state: 'stored' | 'failed',
  entry: (files: RecordingFile[]) => AuditEntryInput,
): Promise<RecordingFile[] | null> {
  return inTransaction(pool, async (c) => {
    const r = await c.query<{ files: RecordingFile[] }>(
      `WITH d AS (UPDATE recordings SET state = 'purged', purged_at = now(), updated_at = now()
                  WHERE id = $1 AND state = $2 AND preserved_at IS NULL RETURNING id)
       SELECT COALESCE((SELECT json_agg(json_build_object('kind', f.kind, 'path', f.path, 'bytes', f.bytes,
                 'sha256Plain', f.sha256_plain, 'sha256Cipher', f.sha256_cipher,
                 'keyFingerprint', f.key_fingerprint) ORDER BY f.kind) FROM files f WHERE f.recording_id = d.id),
                 '[]') AS files
       FROM d`,
      [id, state],
    );
    const files = r.rows[0]?.files;
    if (!files) return null;
    await appendAudit(c, entry(files));
    return files;
  });
}
