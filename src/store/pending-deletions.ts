import type pg from 'pg';

/**
 * Removals the artifact store refused after the catalogue already let the file go: a purged or
 * deleted recording's file, or a re-encrypted recording's old ciphertext, still in the store
 * because of an Object Lock retention not yet ended, an S3 legal hold, or an error of the store.
 * Nothing else names such an object any more, so this table is what keeps it from staying in the
 * bucket for good: the retention pass tries each again (src/pipeline/retention-pending.ts) and
 * removes the row, with an audit entry, once the object is gone. One row per store path.
 */

export type PendingReason = 'object-lock' | 'legal-hold' | 'error';
export type PendingSource = 'retention' | 'offload' | 'journal' | 'delete' | 'reencrypt';

export interface PendingDeletionInput {
  path: string;
  recordingId: string;
  source: PendingSource;
  reason: PendingReason;
  /** When the Object Lock retention ends, when known. */
  retainUntil?: Date | undefined;
  error?: string | undefined;
  /** The retired key whose old ciphertext this is (source reencrypt). */
  keyFingerprint?: string | undefined;
}

export interface PendingDeletion {
  path: string;
  recordingId: string;
  source: PendingSource;
  reason: PendingReason;
  retainUntil: Date | null;
  error: string | null;
  keyFingerprint: string | null;
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date;
}

/** How long a refusal without a known end (a legal hold, a lock of unknown end) waits for its next try. */
export const HOLD_RETRY_SECONDS = 3600;

export interface PendingDeletionsRepository {
  /**
   * Records a refused removal (or updates the row of a path refused before) and, the first time,
   * audits it (`deletion.pending`, by the system, naming the source) unless `audit` is false (the
   * caller audits as its user). The next try: when the retention ends, for an error at the next pass
   * and then backing off from 10 s to an hour (ERROR_RETRY_FIRST_SECONDS), for a hold an hour
   * later. True when the row is new.
   */
  record(p: PendingDeletionInput, o?: { audit?: boolean }): Promise<boolean>;
  /** Rows whose next try is due by the database's clock, oldest first. */
  due(limit: number): Promise<PendingDeletion[]>;
  /** Tried again and still refused: the row says why now, and when to try next. */
  stillRefused(
    path: string,
    r: { reason: PendingReason; retainUntil?: Date | undefined; error?: string | undefined },
  ): Promise<void>;
  /**
   * The object is gone: the row is removed and the removal audited (`deletion.completed`, by
   * `actor`), in one transaction.
   */
  removed(p: PendingDeletion, actor: string): Promise<void>;
  /** Which of `paths` are pending. */
  pendingAmong(paths: readonly string[]): Promise<Set<string>>;
  /** Rows pending (all, or of one retired key's old ciphertexts). */
  count(keyFingerprint?: string): Promise<number>;
  /** The rows of one recording. */
  ofRecording(recordingId: string): Promise<PendingDeletion[]>;
}

interface Row {
  path: string;
  recording_id: string;
  source: PendingSource;
  reason: PendingReason;
  retain_until: Date | null;
  error: string | null;
  key_fingerprint: string | null;
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
}

const toPending = (r: Row): PendingDeletion => ({
  path: r.path,
  recordingId: r.recording_id,
  source: r.source,
  reason: r.reason,
  retainUntil: r.retain_until,
  error: r.error,
  keyFingerprint: r.key_fingerprint,
  attempts: r.attempts,
  createdAt: r.created_at,
  nextAttemptAt: r.next_attempt_at,
});

/** An error of the store is tried again at the next pass, then after 10 s, 20 s, 40 s ... up to an hour. */
export const ERROR_RETRY_FIRST_SECONDS = 10;

/**
 * The next try of a refusal: $1 reason, $2 retain_until; `attempts` is the SQL for the row's
 * attempts after this one (1 when it is first recorded). An error backs off exponentially so a
 * permanent one (a bucket policy, a deleted bucket) is not tried and logged every pass for good.
 */
const nextAttempt = (attempts: string) =>
  `CASE WHEN $2::timestamptz IS NOT NULL AND $2::timestamptz > now() THEN $2::timestamptz
        WHEN $1::text = 'error' AND ${attempts} <= 1 THEN now()
        WHEN $1::text = 'error' THEN now() + make_interval(secs => LEAST(${HOLD_RETRY_SECONDS},
          ${ERROR_RETRY_FIRST_SECONDS} * power(2, LEAST(${attempts} - 2, 20))))
        ELSE now() + interval '${HOLD_RETRY_SECONDS} seconds' END`;

export function pendingDeletionsRepository(pool: pg.Pool): PendingDeletionsRepository {
  return {
    async record(p, o = {}) {
      const r = await pool.query<{ inserted: boolean }>(
        `WITH up AS (
           INSERT INTO pending_deletions (path, recording_id, source, reason, retain_until, error, key_fingerprint, next_attempt_at)
           VALUES ($3, $4, $5, $1, $2, $6, $7, ${nextAttempt('1')})
           ON CONFLICT (path) DO UPDATE SET reason = EXCLUDED.reason, retain_until = EXCLUDED.retain_until,
             error = EXCLUDED.error, attempts = pending_deletions.attempts + 1, last_attempt_at = now(),
             next_attempt_at = ${nextAttempt('(pending_deletions.attempts + 1)')},
             key_fingerprint = COALESCE(pending_deletions.key_fingerprint, EXCLUDED.key_fingerprint)
           RETURNING (xmax = 0) AS inserted),
         a AS (
           INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
           SELECT $5, 'system', '', 'system', 'deletion.pending', 'recording', $4::text, $8::jsonb
           FROM up WHERE up.inserted AND $9::boolean)
         SELECT inserted FROM up`,
        [
          p.reason,
          p.retainUntil ?? null,
          p.path,
          p.recordingId,
          p.source,
          p.error ?? null,
          p.keyFingerprint ?? null,
          JSON.stringify({
            path: p.path,
            source: p.source,
            reason: p.reason,
            retainUntil: p.retainUntil?.toISOString() ?? null,
            ...(p.error ? { error: p.error } : {}),
            ...(p.keyFingerprint ? { key: p.keyFingerprint } : {}),
          }),
          o.audit !== false,
        ],
      );
      return r.rows[0]?.inserted === true;
    },
    async due(limit) {
      const r = await pool.query<Row>(
        'SELECT * FROM pending_deletions WHERE next_attempt_at <= now() ORDER BY next_attempt_at, path LIMIT $1',
        [limit],
      );
      return r.rows.map(toPending);
    },
    async stillRefused(path, r) {
      await pool.query(
        `UPDATE pending_deletions SET reason = $1, retain_until = $2, error = $4,
           attempts = attempts + 1, last_attempt_at = now(), next_attempt_at = ${nextAttempt('(attempts + 1)')}
         WHERE path = $3`,
        [r.reason, r.retainUntil ?? null, path, r.error ?? null],
      );
    },
    async removed(p, actor) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const del = await c.query('DELETE FROM pending_deletions WHERE path = $1', [p.path]);
        if (del.rowCount === 1)
          await c.query(
            `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
             VALUES ($1, 'system', '', 'system', 'deletion.completed', 'recording', $2, $3::jsonb)`,
            [
              actor,
              p.recordingId,
              JSON.stringify({
                path: p.path,
                source: p.source,
                reason: p.reason,
                attempts: p.attempts + 1,
                pendingSince: p.createdAt.toISOString(),
                ...(p.keyFingerprint ? { key: p.keyFingerprint } : {}),
              }),
            ],
          );
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    },
    async pendingAmong(paths) {
      if (paths.length === 0) return new Set();
      const r = await pool.query<{ path: string }>(
        'SELECT path FROM pending_deletions WHERE path = ANY($1::text[])',
        [paths],
      );
      return new Set(r.rows.map((x) => x.path));
    },
    async count(keyFingerprint) {
      const r = keyFingerprint
        ? await pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pending_deletions WHERE key_fingerprint = $1',
            [keyFingerprint],
          )
        : await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pending_deletions');
      return r.rows[0]?.n ?? 0;
    },
    async ofRecording(recordingId) {
      const r = await pool.query<Row>(
        'SELECT * FROM pending_deletions WHERE recording_id = $1 ORDER BY path',
        [recordingId],
      );
      return r.rows.map(toPending);
    },
  };
}
