import type pg from 'pg';
import { GROUPS_OF } from './users-access.js';

/**
 * Retention in the catalogue: which stored recordings are old enough to purge, and the purge
 * itself. A purged recording keeps its row (state 'purged', purged_at) and its files' rows with
 * their hashes as a tombstone; its chain entry stays; an audit entry names it.
 */

export interface PurgeCandidate {
  id: string;
  startedAt: Date;
  /** Recording groups it belongs to (through participants' numbers, as the access rules see it). */
  groups: string[];
}

/**
 * A retention policy in milliseconds (null: keep): the default, and per group; a recording in
 * groups with a policy of their own keeps the longest of theirs, else the default.
 */
export interface PolicyMs {
  defaultMs: number | null;
  groupMs: Record<string, number | null>;
}

/**
 * Where a slice of one policy starts: this instant (a timestamptz literal, to the microsecond as
 * the catalogue has it), after this id (FROM_INSTANT: from the instant on).
 */
export interface SliceStart {
  at: string;
  id: string;
}

/** The first id of any instant: a slice from `startedAt` on. */
export const FROM_INSTANT = '00000000-0000-0000-0000-000000000000';

interface CandidateRow {
  id: string;
  started_at: Date;
  started_key: string;
  groups: string[];
}

const candidateOf = (x: CandidateRow): PurgeCandidate => ({
  id: x.id,
  startedAt: x.started_at,
  groups: x.groups,
});

/**
 * `own.ms`, a recording's retention in milliseconds under the policy: the default (`dflt`, a
 * parameter) when none of its groups has a policy of its own, NULL (kept for ever) when one of
 * them keeps for ever, else the longest of its groups' (`groups`, a jsonb parameter of group: ms).
 */
export const retentionMsOf = (dflt: string, groups: string) => `CROSS JOIN LATERAL (
           SELECT CASE WHEN count(g.key) = 0 THEN ${dflt}::float8
                       WHEN bool_or(g.value = 'null'::jsonb) THEN NULL
                       ELSE max((g.value #>> '{}')::float8) END AS ms
           FROM recording_owners o JOIN jsonb_each(${groups}::jsonb) AS g ON g.key = o.group_name
           WHERE o.recording_id = r.id) own`;

/**
 * Not preserved recordings in `state` (stored, or failed: their finalize gave up and their
 * plaintext spool is still on disk) with their own policy (`own.ms`: the longest of their groups
 * that have one, null for keep, else the default $4; the groups' policies in $5), but those in $3;
 * the query goes on with AND.
 */
const dueSelect = (
  state: 'stored' | 'failed',
) => `SELECT r.id, r.started_at, r.started_at::text AS started_key, ${GROUPS_OF} AS groups
         FROM recordings r
         ${retentionMsOf('$4', '$5')}
         WHERE r.state = '${state}' AND r.preserved_at IS NULL AND r.id <> ALL ($3::uuid[])`;
const DUE_SELECT = dueSelect('stored');

/**
 * The purge pass's reads that run every pass whatever the catalogue's size (their plans are
 * checked in test/unit/catalogue-timer-queries.test.ts): the slice of one policy (through the
 * start-time index), the due recordings stored since (recordings_stored_at_idx), the files of the
 * recordings purged lately (recordings_purged_idx, migration 047).
 */
export const RETENTION_SQL = {
  dueInSlice: `${DUE_SELECT}
           AND r.started_at >= $6::timestamptz AND (r.started_at > $6::timestamptz OR r.id > $7::uuid)
           AND r.started_at < $1::timestamptz - $8::float8 * interval '1 millisecond'
           AND own.ms = $8::float8
         ORDER BY r.started_at, r.id LIMIT $2`,
  dueStoredSince: `${DUE_SELECT}
           AND r.stored_at >= $6::timestamptz
           AND r.started_at < $1::timestamptz - $7::float8 * interval '1 millisecond'
           AND own.ms IS NOT NULL AND r.started_at < $1::timestamptz - own.ms * interval '1 millisecond'
         ORDER BY r.stored_at, r.id LIMIT $2`,
  recentlyPurgedFiles: `SELECT f.recording_id, f.path FROM files f JOIN recordings r ON r.id = f.recording_id
         WHERE r.state = 'purged' AND r.purged_at >= $1`,
  /** Failed recordings due under their own policy (few: recordings_failed_idx), oldest first. */
  dueFailed: `${dueSelect('failed')}
           AND own.ms IS NOT NULL AND r.started_at < $1::timestamptz - own.ms * interval '1 millisecond'
         ORDER BY r.started_at, r.id LIMIT $2`,
  /** Which of these recordings (the spool directories on a node's disk) are purged. */
  purgedAmong: `SELECT id FROM recordings WHERE id = ANY($1::uuid[]) AND state = 'purged'`,
};

/** $1-$5 of DUE_SELECT and the queries built on it. */
const dueArgs = (policy: PolicyMs, now: Date, limit: number, exclude: readonly string[]) => [
  now,
  limit,
  exclude,
  policy.defaultMs,
  JSON.stringify(policy.groupMs),
];

/** The shortest finite policy (ms), or undefined when every policy keeps. */
function shortestOf(policy: PolicyMs): number | undefined {
  const finite = [policy.defaultMs, ...Object.values(policy.groupMs)].filter((ms) => ms !== null);
  return finite.length > 0 ? Math.min(...finite) : undefined;
}

export interface RetentionRepository {
  /**
   * Stored, not preserved recordings due under `policy` at `now` (started longer ago than their
   * own policy), oldest first, but those in `exclude`. Recordings kept by a longer policy are not
   * returned, so they never hold back the due ones behind them.
   */
  candidates(
    policy: PolicyMs,
    now: Date,
    limit: number,
    exclude?: readonly string[],
  ): Promise<PurgeCandidate[]>;
  /**
   * Like `candidates`, but only the recordings whose own policy is `ownMs`, started at or after
   * `from` (after `from.id` at the same instant) and due at `now`, in (start, id) order: the slice
   * of one policy that became due since an earlier pass (the incremental pass, src/pipeline/retention-scan.ts).
   */
  dueInSlice(
    policy: PolicyMs,
    ownMs: number,
    from: SliceStart,
    now: Date,
    limit: number,
    exclude?: readonly string[],
  ): Promise<{ candidates: PurgeCandidate[]; last: SliceStart | undefined }>;
  /**
   * Like `candidates`, but only among the recordings stored at or after `since` (by their stored_at):
   * those stored after a slice that held their start was read.
   */
  dueStoredSince(
    policy: PolicyMs,
    since: Date,
    now: Date,
    limit: number,
    exclude?: readonly string[],
  ): Promise<PurgeCandidate[]>;
  /**
   * Marks it purged (only if still stored and not preserved), writes the audit entry, and returns
   * the paths of its files to wipe; undefined when it was not purged (preserved meanwhile).
   */
  purge(id: string, policy: string): Promise<string[] | undefined>;
  /**
   * Failed (finalize gave up), not preserved recordings due under `policy` at `now`, oldest first,
   * but those in `exclude`: their plaintext spool is all there is of them.
   */
  dueFailed(
    policy: PolicyMs,
    now: Date,
    limit: number,
    exclude?: readonly string[],
  ): Promise<PurgeCandidate[]>;
  /**
   * Like `purge`, for a failed recording (only if still failed and not preserved): the audit entry
   * `retention.purge` says `state: 'failed'`. The paths of its files (usually none); undefined
   * when it was not purged. Its spool is the caller's to wipe.
   */
  purgeFailed(id: string, policy: string): Promise<string[] | undefined>;
  /** Which of `ids` are purged recordings (spools left on a node's disk, to wipe). */
  purgedAmong(ids: readonly string[]): Promise<string[]>;
  /** Files of recordings purged since `since` (to finish removals a crash or an outage interrupted). */
  recentlyPurgedFiles(since: Date): Promise<{ recordingId: string; path: string }[]>;
  /** The paths of a recording's files. */
  filePaths(id: string): Promise<string[]>;
  /** The recording groups a recording belongs to (as `candidates` reports them). */
  groupsOf(id: string): Promise<string[]>;
  /** Audits a deletion the artifact store refused (Object Lock): `retention.purge-refused`. */
  refused(id: string, details: Record<string, unknown>): Promise<void>;
  /**
   * Audits a purged recording's file that could not be removed (`retention.remove-failed`,
   * details: `key` and `error`), once per file whichever node and pass tries it again; true when
   * this call wrote the entry.
   */
  removalFailed(id: string, details: { key: string; error: string }): Promise<boolean>;
  /**
   * The database's clock (`now()`): the clock of stored_at and purged_at, which the purge pass
   * decides by instead of its node's own (src/pipeline/retention.ts).
   */
  clock(): Promise<Date>;
}

export function retentionRepository(pool: pg.Pool): RetentionRepository {
  return {
    async candidates(policy, now, limit, exclude = []) {
      const shortest = shortestOf(policy);
      if (shortest === undefined) return [];
      // The shortest policy of all bounds the range read through the start-time index.
      const r = await pool.query<CandidateRow>(
        `${DUE_SELECT}
           AND r.started_at < $1::timestamptz - $6::float8 * interval '1 millisecond'
           AND own.ms IS NOT NULL AND r.started_at < $1::timestamptz - own.ms * interval '1 millisecond'
         ORDER BY r.started_at LIMIT $2`,
        [...dueArgs(policy, now, limit, exclude), shortest],
      );
      return r.rows.map(candidateOf);
    },
    async dueInSlice(policy, ownMs, from, now, limit, exclude = []) {
      const r = await pool.query<CandidateRow>(RETENTION_SQL.dueInSlice, [
        ...dueArgs(policy, now, limit, exclude),
        from.at,
        from.id,
        ownMs,
      ]);
      const last = r.rows.at(-1);
      return { candidates: r.rows.map(candidateOf), last: last && { at: last.started_key, id: last.id } };
    },
    async dueStoredSince(policy, since, now, limit, exclude = []) {
      const shortest = shortestOf(policy);
      if (shortest === undefined) return [];
      // Through recordings_stored_at_idx; only those started before the shortest policy reach the
      // lateral (the young ones, nearly all, are left at the index scan).
      const r = await pool.query<CandidateRow>(RETENTION_SQL.dueStoredSince, [
        ...dueArgs(policy, now, limit, exclude),
        since,
        shortest,
      ]);
      return r.rows.map(candidateOf);
    },
    purge: (id, policy) => purgeFrom(pool, 'stored', id, policy),
    purgeFailed: (id, policy) => purgeFrom(pool, 'failed', id, policy),
    async dueFailed(policy, now, limit, exclude = []) {
      if (shortestOf(policy) === undefined) return [];
      const r = await pool.query<CandidateRow>(RETENTION_SQL.dueFailed, dueArgs(policy, now, limit, exclude));
      return r.rows.map(candidateOf);
    },
    async purgedAmong(ids) {
      if (ids.length === 0) return [];
      const r = await pool.query<{ id: string }>(RETENTION_SQL.purgedAmong, [ids]);
      return r.rows.map((x) => x.id);
    },
    async recentlyPurgedFiles(since) {
      const r = await pool.query<{ recording_id: string; path: string }>(RETENTION_SQL.recentlyPurgedFiles, [
        since,
      ]);
      return r.rows.map((x) => ({ recordingId: x.recording_id, path: x.path }));
    },
    async filePaths(id) {
      const r = await pool.query<{ path: string }>(
        'SELECT path FROM files WHERE recording_id = $1 ORDER BY kind',
        [id],
      );
      return r.rows.map((x) => x.path);
    },
    async groupsOf(id) {
      const r = await pool.query<{ groups: string[] }>(
        `SELECT ${GROUPS_OF} AS groups FROM recordings r WHERE r.id = $1`,
        [id],
      );
      return r.rows[0]?.groups ?? [];
    },
    async refused(id, details) {
      await pool.query(
        `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
         VALUES ('retention', 'system', '', 'system', 'retention.purge-refused', 'recording', $1, $2::jsonb)`,
        [id, JSON.stringify(details)],
      );
    },
    async removalFailed(id, details) {
      const r = await pool.query(
        `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
         SELECT 'retention', 'system', '', 'system', 'retention.remove-failed', 'recording', $1, $2::jsonb
         WHERE NOT EXISTS (
           SELECT 1 FROM audit WHERE resource = 'recording' AND resource_id = $1
             AND action = 'retention.remove-failed' AND details ->> 'key' = $3)`,
        [id, JSON.stringify(details), details.key],
      );
      return r.rowCount === 1;
    },
    async clock() {
      const r = await pool.query<{ now: Date }>('SELECT now() AS now');
      return (r.rows[0] as { now: Date }).now;
    },
  };
}

/**
 * Marks a recording in `from` purged (only if still so and not preserved) and audits it
 * (`retention.purge`: the policy, the files, and `state: 'failed'` for a failed one), in one
 * transaction; the paths of its files to wipe, or undefined when it was not purged.
 */
async function purgeFrom(
  pool: pg.Pool,
  from: 'stored' | 'failed',
  id: string,
  policy: string,
): Promise<string[] | undefined> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const upd = await c.query(
      `UPDATE recordings SET state = 'purged', purged_at = now(), updated_at = now()
       WHERE id = $1 AND state = $2 AND preserved_at IS NULL`,
      [id, from],
    );
    if (upd.rowCount !== 1) {
      await c.query('ROLLBACK');
      return undefined;
    }
    const files = await c.query<{ path: string; kind: string; sha256_cipher: string }>(
      'SELECT path, kind, sha256_cipher FROM files WHERE recording_id = $1 ORDER BY kind',
      [id],
    );
    await c.query(
      `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
       VALUES ('retention', 'system', '', 'system', 'retention.purge', 'recording', $1, $2::jsonb)`,
      [
        id,
        JSON.stringify({
          policy,
          files: files.rows.map((f) => ({ kind: f.kind, path: f.path })),
          ...(from === 'failed' ? { state: 'failed' } : {}),
        }),
      ],
    );
    await c.query('COMMIT');
    return files.rows.map((f) => f.path);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
