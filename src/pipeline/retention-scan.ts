import {
  FROM_INSTANT,
  type PolicyMs,
  type PurgeCandidate,
  type RetentionRepository,
  type SliceStart,
} from '../store/retention.js';

/**
 * Which recordings a purge pass looks at.
 *
 * The full search (`RetentionRepository.candidates`) reads every stored recording older than the
 * shortest policy to find those due under their own: with `keep` as the default and a group at
 * 30 days, that is every kept call older than 30 days, at every pass (about 2 s a pass at
 * 1,000,000 of them). A recording only becomes due when its start passes `now - its policy`, so
 * for each policy the due recordings are a prefix of the catalogue in start order. After a full
 * search that found them all, a node keeps per policy a cursor: every recording under that policy
 * that started before it has been looked at. The next passes read only the slice between the
 * cursor and `now - policy`, the recordings that became due since (five minutes' calls at the
 * default interval), and move the cursor on.
 *
 * A recording can be stored after the slice that held its start was read: a long call, a finalize
 * that waited for the store or was retried, a recording made from a spool found after a crash.
 * So each pass also reads the due recordings stored since its last one (by stored_at, from 10
 * minutes before that pass: stored_at is the storing transaction's start, and one that commits
 * later is still seen).
 *
 * What can still put a due recording behind a cursor is rarer: a policy change (the next pass
 * searches in full), a recording's groups changing (users' numbers and groups), a preservation
 * lifted, an Object Lock expiring. Those wait for the next full search, at most `fullEveryMs`
 * (an hour) later.
 */

/** What a node keeps between its passes (in memory: a restart begins with a full search). */
export interface ScanState {
  /** The policy the cursors were set under (policyInMs as JSON). */
  key: string;
  /** When the last complete full search ran (the pass's `now`, ms). */
  fullAt: number;
  /** Per finite policy (ms): every recording under it started before this has been looked at. */
  cursors: Map<number, SliceStart>;
  /** Recordings stored from this instant on (the database's clock, as stored_at; ms) are read again. */
  storedSince: number;
}

/** A full search at least this often, for the changes listed above. */
export const FULL_SEARCH_EVERY_MS = 3_600_000;
/** How far before a pass the next reads stored recordings again (as the deliveries' scans). */
const STORED_MARGIN_MS = 600_000;

export interface DueSearch {
  candidates: PurgeCandidate[];
  /** `full` or `incremental`: what this pass read. */
  kind: 'full' | 'incremental';
  /** The state after this pass: to be kept only once the pass has dealt with every candidate. */
  next: ScanState | undefined;
}

export async function findDue(o: {
  repo: RetentionRepository;
  policy: PolicyMs;
  now: Date;
  limit: number;
  exclude: readonly string[];
  state: ScanState | undefined;
  fullEveryMs?: number;
  /**
   * The database's clock when the pass began (the clock of stored_at): where the next pass reads
   * stored recordings again from. Not the node's wall clock, which may be minutes off.
   */
  clock: Date;
}): Promise<DueSearch> {
  const { repo, policy, now, limit, exclude } = o;
  const key = JSON.stringify(policy);
  const finite = [...new Set([policy.defaultMs, ...Object.values(policy.groupMs)])]
    .filter((ms): ms is number => ms !== null)
    .sort((a, b) => a - b);
  // Before anything is read: whatever is stored after this is read by the next pass.
  const storedSince = o.clock.getTime() - STORED_MARGIN_MS;
  const bound = (ms: number): SliceStart => ({
    at: new Date(now.getTime() - ms).toISOString(),
    id: FROM_INSTANT,
  });
  const s = o.state;
  // A `now` before the last full search (a clock set back) searches in full again.
  const sinceFull = s ? now.getTime() - s.fullAt : -1;
  const incremental =
    s !== undefined && s.key === key && sinceFull >= 0 && sinceFull < (o.fullEveryMs ?? FULL_SEARCH_EVERY_MS);
  if (!incremental) {
    const candidates = await repo.candidates(policy, now, limit, exclude);
    // Cursors only once a search found every due recording (a full batch: search again next time).
    const next =
      candidates.length < limit
        ? { key, fullAt: now.getTime(), cursors: new Map(finite.map((ms) => [ms, bound(ms)])), storedSince }
        : undefined;
    return { candidates, kind: 'full', next };
  }
  const late = await repo.dueStoredSince(policy, new Date(s.storedSince), now, limit, exclude);
  // More than a batch stored late: this batch now, and a full search next time.
  if (late.length === limit) return { candidates: late, kind: 'incremental', next: undefined };
  const byId = new Map(late.map((c) => [c.id, c]));
  const cursors = new Map(s.cursors);
  for (const ms of finite) {
    const room = limit - byId.size;
    if (room <= 0) break;
    const from = s.cursors.get(ms);
    if (!from) return findDue({ ...o, state: undefined });
    const slice = await repo.dueInSlice(policy, ms, from, now, room, exclude);
    for (const c of slice.candidates) byId.set(c.id, c);
    // A full slice: on from its last row next time; else everything up to the bound was read.
    cursors.set(ms, slice.candidates.length === room && slice.last ? slice.last : bound(ms));
  }
  return {
    candidates: [...byId.values()],
    kind: 'incremental',
    next: { key, fullAt: s.fullAt, cursors, storedSince },
  };
}
