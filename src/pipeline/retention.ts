import { join } from 'node:path';
import { isRetentionPolicy, RETENTION_EXPECTED } from '../config/values.js';
import type { Logger } from '../log.js';
import {
  lockedObject,
  ObjectLockedError,
  StorageUnavailableError,
  type ArtifactStore,
  type LockMode,
} from '../storage/index.js';
import type { PendingDeletionsRepository } from '../store/pending-deletions.js';
import type { PolicyMs, RetentionRepository } from '../store/retention.js';
import { wipeFile } from './artifacts.js';
import { purgeFailed, wipePurgedSpools } from './retention-failed.js';
import { recordRefusal, retryPendingDeletions, type PendingRetryResult } from './retention-pending.js';
import { findDue, type ScanState } from './retention-scan.js';
import type { ObjectRetention } from './store-step.js';

/**
 * Retention: `keep` (keep all), `<N>d` (delete after N days) or `<N>h` (delete after N hours), as
 * the default and per recording group. A recording in several groups keeps the longest of their
 * policies; one in no overridden group follows the default. Preserved recordings are never purged
 * (the catalogue query and the purge statement both exclude them).
 *
 * With an object store, files are deleted through it. A recording whose objects are under an
 * unexpired Object Lock retention is not purged: the refusal is logged, audited
 * (`retention.purge-refused`) and counted, and the recording stays stored; it is looked at again
 * once its retention has expired.
 *
 * A pass decides by the database's clock (`now()`, the clock of stored_at and purged_at), not by
 * its node's: a node whose clock reads weeks ahead would purge what the policy keeps, for good. A
 * node whose clock differs from the database's by more than MAX_CLOCK_SKEW_MS skips its passes
 * (an error each pass, counted) until its clock is set right.
 *
 * A purged recording's file that cannot be removed (EACCES, EIO, a directory in its place, S3
 * AccessDenied) is logged, audited once (`retention.remove-failed`) and counted, and the pass goes
 * on: one such file never holds back the others. It is tried again at later passes (backing off
 * to once an hour while the caller keeps the pass state). A store that cannot be reached at all
 * (StorageUnavailableError) still ends the pass, whose removals the next one finishes.
 *
 * Every such refusal (Object Lock, legal hold, error) is also recorded in pending_deletions, with
 * the deletions refused to the offload and journal purges, the API and re-encryption; each pass
 * first tries again those that are due (retention-pending.ts) and audits each final removal.
 */

export interface RetentionPolicy {
  default: string;
  groups: Readonly<Record<string, string>>;
}

const DAY_MS = 86_400_000;
/** How far the node's clock may be from the database's before its purge passes are skipped. */
export const MAX_CLOCK_SKEW_MS = 300_000;
/** A file that could not be removed is tried again after this, doubling up to an hour. */
const RETRY_FIRST_MS = 60_000;
const RETRY_MAX_MS = 3_600_000;

/** Milliseconds a policy keeps a recording (Infinity for keep). Throws on a bad policy string. */
export function policyMs(policy: string): number {
  if (policy === 'keep' || policy === 'keep-all') return Infinity;
  const m = /^(\d+)([dh])$/.exec(policy);
  if (!m) throw new Error(`bad retention policy "${policy}": use keep, <N>d or <N>h`);
  const n = Number(m[1]);
  if (n < 1) throw new Error(`bad retention policy "${policy}": N must be at least 1`);
  return n * (m[2] === 'd' ? DAY_MS : 3_600_000);
}

/** What is wrong with a policy (`field: why`), or null: each string as the configuration checks it. */
export function retentionProblem(p: RetentionPolicy): string | null {
  const fields: [string, unknown][] = [
    ['default', p.default],
    ...Object.entries(p.groups).map(([g, v]): [string, unknown] => [`groups.${g}`, v]),
  ];
  for (const [field, v] of fields)
    if (!isRetentionPolicy(v)) return `${field}: bad retention policy "${String(v)}": ${RETENTION_EXPECTED}`;
  return null;
}

/** A stored policy (the `retention.policy` setting), checked; null when it is not one. */
export function parseRetention(raw: unknown): RetentionPolicy | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const groups = r.groups;
  if (typeof r.default !== 'string' || typeof groups !== 'object' || groups === null || Array.isArray(groups))
    return null;
  if (!Object.values(groups).every((v) => typeof v === 'string')) return null;
  const p: RetentionPolicy = { default: r.default, groups: { ...(groups as Record<string, string>) } };
  return retentionProblem(p) ? null : p;
}

/**
 * How many of `candidates` (stored, not preserved) a pass would purge under `next` and not under
 * `current`: what a change of policy deletes at the next pass, beyond what was already due.
 */
export function newlyDue(
  candidates: readonly { startedAt: Date; groups: string[] }[],
  current: RetentionPolicy,
  next: RetentionPolicy,
  now = Date.now(),
): number {
  const due = (p: RetentionPolicy, c: { startedAt: Date; groups: string[] }) =>
    now - c.startedAt.getTime() > policyMs(effectivePolicy(p, c.groups));
  return candidates.filter((c) => due(next, c) && !due(current, c)).length;
}

/** The policy as the catalogue's purge query takes it: milliseconds, null for keep. */
export function policyInMs(p: RetentionPolicy): PolicyMs {
  const ms = (policy: string) => (Number.isFinite(policyMs(policy)) ? policyMs(policy) : null);
  return {
    defaultMs: ms(p.default),
    groupMs: Object.fromEntries(Object.entries(p.groups).map(([g, v]) => [g, ms(v)])),
  };
}

export function effectivePolicy(p: RetentionPolicy, groups: readonly string[]): string {
  const overridden = groups.filter((g) => p.groups[g] !== undefined).map((g) => p.groups[g] as string);
  if (overridden.length === 0) return p.default;
  return overridden.reduce((a, b) => (policyMs(b) > policyMs(a) ? b : a));
}

/**
 * The Object Lock of a recording's objects: the configured mode, until the later of `days` from
 * the upload and the end of the recording's retention (its start plus its effective policy), so
 * that nothing can delete it before the retention policy would.
 */
export function objectLockFor(
  lock: { mode: LockMode; days: number },
  policy: RetentionPolicy,
  startedAt: Date,
  groups: readonly string[],
  now = new Date(),
): ObjectRetention {
  const ms = policyMs(effectivePolicy(policy, groups));
  const byPolicy = Number.isFinite(ms) ? startedAt.getTime() + ms : 0;
  return { mode: lock.mode, until: new Date(Math.max(now.getTime() + lock.days * DAY_MS, byPolicy)) };
}

/** A deletion the store refused (Object Lock). */
export interface RefusedDeletion {
  recordingId: string;
  key: string;
  mode: string | undefined;
  retainUntil: Date | undefined;
}

export interface PurgeResult {
  /** What the pass read to find due recordings (none: no policy purges anything). */
  search?: 'full' | 'incremental';
  /** Recordings purged by this pass: stored ones, and failed ones (their spools wiped). */
  purged: string[];
  kept: number;
  /** Spools on this node's disk of recordings purged before (elsewhere, or a wipe cut short): wiped. */
  wipedSpools?: string[];
  /** Recordings not purged because the store refused to delete (Object Lock): reported. */
  refused: RefusedDeletion[];
  /** Files of purged recordings that could not be removed by this pass (tried again later). */
  removalsFailed: { recordingId: string; key: string; error: string }[];
  /** The pending deletions tried again by this pass, and how many are left (with a table). */
  pendingDeletions?: PendingRetryResult;
  /**
   * Set when the pass did nothing: the node's clock is `skewMs` ahead of the database's (behind
   * when negative), by more than the pass allows.
   */
  skipped?: { reason: 'clock-skew'; skewMs: number };
}

/** A purged recording's file whose removal failed: tried again from `retryAt` (node clock, ms). */
export interface FailedRemoval {
  recordingId: string;
  attempts: number;
  retryAt: number;
}

/**
 * Removes one artifact: wiped in place (no store, or `local`), else deleted through the store
 * (every version). ObjectLockedError when its retention has not expired.
 */
export async function removeArtifact(
  store: ArtifactStore | undefined,
  dataDir: string,
  path: string,
): Promise<void> {
  if (!store || store.backend === 'local') await wipeFile(join(dataDir, path));
  else await store.delete(path);
}

export interface PurgeOptions {
  retention: RetentionRepository;
  policy: RetentionPolicy;
  dataDir: string;
  log: Logger;
  /** Where the files are (default: wiped under dataDir). */
  store?: ArtifactStore;
  /** Refused removals, recorded and tried again (src/store/pending-deletions.ts); none: not kept. */
  pending?: PendingDeletionsRepository;
  /** The instant the pass judges what is due at, instead of the database's clock (tests). */
  now?: Date;
  batch?: number;
  /** Largest difference between this node's clock and the database's a pass runs with. */
  maxClockSkewMs?: number;
  /**
   * State kept between passes by the caller: recordings refused (locked) until when, so each is
   * reported once and does not hold back the others; with an object store, since when purged
   * recordings' deletions are to be finished (default: the last 24 hours); files whose removal
   * failed, by key, tried again with a backoff whatever that window.
   */
  state?: {
    lockedUntil: Map<string, number>;
    finishSince?: Date;
    scan?: ScanState;
    failedRemovals?: Map<string, FailedRemoval>;
  };
  /** A full search for due recordings at least this often (default an hour; src/pipeline/retention-scan.ts). */
  fullSearchEveryMs?: number;
  /** Told of each refused deletion (metrics). */
  onRefused?: (r: RefusedDeletion) => void;
  /** Told of each failed removal of a purged recording's file (metrics). */
  onRemovalFailed?: () => void;
  /** Told of each pass skipped because the node's clock is off (metrics; ms, ahead when positive). */
  onClockSkew?: (skewMs: number) => void;
  /** Told after each pass's retries how many deletions are pending (metrics). */
  onPending?: (count: number) => void;
}

/**
 * One purge pass: purges what is due (stored recordings, and failed ones with their spools:
 * retention-failed.ts), removes its files, finishes removals a crash interrupted.
 */
export async function purgeOnce(o: PurgeOptions): Promise<PurgeResult> {
  // The database's clock, and how far this node's is from it (read around the query).
  const asked = Date.now();
  const dbClock = await o.retention.clock();
  const skewMs = Math.round((asked + Date.now()) / 2 - dbClock.getTime());
  const maxSkewMs = o.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS;
  if (Math.abs(skewMs) > maxSkewMs) {
    o.onClockSkew?.(skewMs);
    o.log.error(
      { nodeClock: new Date().toISOString(), databaseClock: dbClock.toISOString(), skewMs, maxSkewMs },
      `retention pass skipped: this node's clock is ${skewMs > 0 ? 'ahead of' : 'behind'} the database's by more than ${Math.round(maxSkewMs / 60_000)} minutes; nothing is purged on this node until its clock is set right (NTP)`,
    );
    return {
      purged: [],
      kept: 0,
      refused: [],
      removalsFailed: [],
      skipped: { reason: 'clock-skew', skewMs },
    };
  }
  const now = o.now ?? dbClock;
  const all = [o.policy.default, ...Object.values(o.policy.groups)].map(policyMs);
  const shortest = Math.min(...all);
  const out: PurgeResult = { purged: [], kept: 0, refused: [], removalsFailed: [] };
  const objectStore = o.store && o.store.backend !== 'local' ? o.store : undefined;
  const refused = async (r: RefusedDeletion, policy: string | undefined, purged: boolean) => {
    out.refused.push(r);
    o.state?.lockedUntil.set(r.recordingId, r.retainUntil?.getTime() ?? Date.now() + 3_600_000);
    o.onRefused?.(r);
    o.log.error(
      { recordingId: r.recordingId, key: r.key, mode: r.mode, retainUntil: r.retainUntil, policy },
      purged
        ? 'retention: the store refused to delete a purged recording file (Object Lock): it is still in the store'
        : 'retention: recording not purged, the store refuses to delete it before its Object Lock retention ends',
    );
    await o.retention.refused(r.recordingId, {
      policy: policy ?? null,
      key: r.key,
      mode: r.mode ?? null,
      retainUntil: r.retainUntil?.toISOString() ?? null,
      purged,
    });
  };
  const failedRemovals = o.state ? (o.state.failedRemovals ??= new Map()) : new Map<string, FailedRemoval>();
  const recordPending = (recordingId: string, path: string, err: unknown) =>
    recordRefusal(o.pending, o.log, { recordingId, path, source: 'retention' }, err);
  /**
   * Removes one file of a purged recording. A failure of that file (EACCES, EIO, AccessDenied) is
   * reported and left for a later pass; an unavailable store (every file would fail) ends the pass.
   */
  const remove = async (recordingId: string, path: string, policy?: string) => {
    try {
      await removeArtifact(o.store, o.dataDir, path);
      failedRemovals.delete(path);
      return;
    } catch (err) {
      await recordPending(recordingId, path, err);
      if (err instanceof ObjectLockedError) {
        failedRemovals.delete(path);
        await refused({ recordingId, key: path, mode: err.mode, retainUntil: err.retainUntil }, policy, true);
        return;
      }
      if (err instanceof StorageUnavailableError) throw err;
      const attempts = (failedRemovals.get(path)?.attempts ?? 0) + 1;
      const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(attempts - 1, 10));
      failedRemovals.set(path, { recordingId, attempts, retryAt: Date.now() + wait });
      const error = err instanceof Error ? err.message : String(err);
      out.removalsFailed.push({ recordingId, key: path, error });
      o.onRemovalFailed?.();
      o.log.error(
        { err, recordingId, key: path, attempts, retryInSeconds: o.state ? wait / 1000 : undefined },
        'retention: a file of a purged recording could not be removed; the pass goes on, it is tried again later',
      );
      await o.retention
        .removalFailed(recordingId, { key: path, error })
        .catch((auditErr: unknown) =>
          o.log.error(
            { err: auditErr, recordingId, key: path },
            'retention: could not audit a failed removal',
          ),
        );
    }
  };

  // Deletions refused before (by this path or another), due again: their lock ended, or an error.
  if (o.pending) {
    out.pendingDeletions = await retryPendingDeletions({
      pending: o.pending,
      store: o.store,
      dataDir: o.dataDir,
      log: o.log,
    });
    o.onPending?.(out.pendingDeletions.pending);
  }
  // Removals a crash (or an outage of the store) interrupted, and those that failed before.
  const since = (objectStore && o.state?.finishSince) || new Date(now.getTime() - DAY_MS);
  const toFinish = new Map<string, string>();
  for (const f of await o.retention.recentlyPurgedFiles(since)) toFinish.set(f.path, f.recordingId);
  for (const [path, f] of failedRemovals) if (!toFinish.has(path)) toFinish.set(path, f.recordingId);
  // Those recorded as pending are the pending retries' (above), on their own schedule.
  const pendingPaths = o.pending ? await o.pending.pendingAmong([...toFinish.keys()]) : new Set<string>();
  for (const [path, recordingId] of toFinish) {
    if (pendingPaths.has(path)) {
      failedRemovals.delete(path);
      continue;
    }
    if (objectStore && (o.state?.lockedUntil.get(recordingId) ?? 0) > Date.now()) continue;
    if ((failedRemovals.get(path)?.retryAt ?? 0) > Date.now()) continue;
    await remove(recordingId, path);
  }
  // On the database's clock (purged_at's); a file that failed stays in failedRemovals.
  if (objectStore && o.state) o.state.finishSince = new Date(dbClock.getTime() - 60_000);
  out.wipedSpools = await wipePurgedSpools({ retention: o.retention, dataDir: o.dataDir, log: o.log });
  if (!Number.isFinite(shortest)) return out;

  const skip = o.state
    ? [...o.state.lockedUntil].filter(([id, until]) => {
        if (until > Date.now()) return true;
        o.state?.lockedUntil.delete(id);
        return false;
      })
    : [];
  const due = await findDue({
    repo: o.retention,
    policy: policyInMs(o.policy),
    now,
    limit: o.batch ?? 1000,
    exclude: skip.map(([id]) => id),
    state: o.state?.scan,
    fullEveryMs: o.fullSearchEveryMs,
    clock: dbClock,
  });
  out.search = due.kind;
  for (const c of due.candidates) {
    const policy = effectivePolicy(o.policy, c.groups);
    if (now.getTime() - c.startedAt.getTime() <= policyMs(policy)) {
      out.kept++;
      continue;
    }
    if (objectStore) {
      // Refused before the catalogue changes: a locked recording stays stored, and is reported.
      const locked = await lockedObject(objectStore, await o.retention.filePaths(c.id));
      if (locked) {
        await refused({ recordingId: c.id, ...locked }, policy, false);
        continue;
      }
    }
    const files = await o.retention.purge(c.id, policy);
    if (!files) continue; // preserved meanwhile
    for (const f of files) await remove(c.id, f, policy);
    out.purged.push(c.id);
    o.log.info({ recordingId: c.id, policy, files: files.length }, 'recording purged by retention');
  }
  // Every candidate dealt with: the next pass reads on from here (after a pass that threw, the next
  // reads again from where this one began).
  if (o.state) o.state.scan = due.next;
  // Failed recordings (finalize gave up): their plaintext spool goes by the same policy.
  const failed = await purgeFailed({
    retention: o.retention,
    policy: policyInMs(o.policy),
    policyOf: (groups) => effectivePolicy(o.policy, groups),
    dataDir: o.dataDir,
    log: o.log,
    now,
    limit: o.batch ?? 1000,
    exclude: skip.map(([id]) => id),
    remove,
  });
  out.purged.push(...failed);
  return out;
}
