import type { Logger } from '../log.js';
import {
  LocalArtifactStore,
  refusalOf,
  StorageUnavailableError,
  type ArtifactStore,
} from '../storage/index.js';
import { keyOfPath } from '../storage/read.js';
import type {
  PendingDeletionsRepository,
  PendingDeletionInput,
  PendingSource,
} from '../store/pending-deletions.js';

/**
 * Removals the store refused after the catalogue let the file go (src/store/pending-deletions.ts):
 * recorded by every path that removes artifacts (retention, offload and journal purges, API
 * deletion, re-encryption), tried again by each retention pass once their Object Lock retention
 * has ended (a legal hold: hourly; an error: the next pass, then backing off from 10 s to an hour), removed from the table, with an audit
 * entry (`deletion.completed`), when the object is gone.
 */

/**
 * Removes one artifact through the store; a refusal or an error is recorded as pending (and
 * audited the first time, unless `audit` is false) instead of being lost. What was recorded, or
 * undefined when the object is gone. Without a table (tests, tools) the error is thrown.
 */
export async function removeOrRecord(o: {
  store: ArtifactStore;
  pending: PendingDeletionsRepository | undefined;
  path: string;
  recordingId: string;
  source: PendingSource;
  keyFingerprint?: string;
  log: Pick<Logger, 'error'>;
  audit?: boolean;
}): Promise<PendingDeletionInput | undefined> {
  try {
    await o.store.delete(keyOfPath(o.store, o.path));
    return undefined;
  } catch (err) {
    if (!o.pending) throw err;
    const r = refusalOf(err);
    const p: PendingDeletionInput = {
      path: o.path,
      recordingId: o.recordingId,
      source: o.source,
      reason: r.reason,
      retainUntil: r.retainUntil,
      error: r.error,
      ...(o.keyFingerprint ? { keyFingerprint: o.keyFingerprint } : {}),
    };
    o.log.error(
      {
        err,
        path: o.path,
        recordingId: o.recordingId,
        source: o.source,
        reason: r.reason,
        retainUntil: r.retainUntil,
      },
      'the store refused to remove a file: recorded as a pending deletion, tried again by the retention pass',
    );
    await o.pending.record(p, { audit: o.audit ?? true });
    return p;
  }
}

/** Records a refused removal for the pending retries; a failure to record it is only logged. */
export async function recordRefusal(
  pending: PendingDeletionsRepository | undefined,
  log: Pick<Logger, 'error'>,
  at: { recordingId: string; path: string; source: PendingSource },
  err: unknown,
): Promise<void> {
  if (!pending) return;
  await pending
    .record({ ...at, ...refusalOf(err) })
    .catch((e: unknown) => log.error({ err: e, ...at }, 'could not record a pending deletion'));
}

export interface PendingRetryResult {
  /** Paths removed by this pass (their rows gone, each audited). */
  removed: string[];
  /** Paths tried and still refused. */
  stillPending: number;
  /** Rows left in the table after the pass. */
  pending: number;
}

/**
 * One retention pass's retries of the pending deletions that are due. A store that cannot be
 * reached ends the retries (each would fail); the rows wait for the next pass.
 */
export async function retryPendingDeletions(o: {
  pending: PendingDeletionsRepository;
  store: ArtifactStore | undefined;
  dataDir: string;
  log: Logger;
  limit?: number;
}): Promise<PendingRetryResult> {
  const store = o.store ?? new LocalArtifactStore(o.dataDir);
  const out: PendingRetryResult = { removed: [], stillPending: 0, pending: 0 };
  for (const p of await o.pending.due(o.limit ?? 500)) {
    try {
      await store.delete(keyOfPath(store, p.path));
    } catch (err) {
      const r = refusalOf(err);
      await o.pending.stillRefused(p.path, r);
      out.stillPending++;
      o.log.warn(
        {
          path: p.path,
          recordingId: p.recordingId,
          reason: r.reason,
          retainUntil: r.retainUntil,
          attempts: p.attempts + 1,
        },
        'retention: a pending deletion is still refused by the store',
      );
      if (err instanceof StorageUnavailableError) break;
      continue;
    }
    await o.pending.removed(p, 'retention');
    out.removed.push(p.path);
    o.log.info(
      { path: p.path, recordingId: p.recordingId, source: p.source, pendingSince: p.createdAt },
      'retention: a pending deletion is done, the file is removed from the store',
    );
  }
  out.pending = await o.pending.count();
  if (out.pending > 0 || out.removed.length > 0)
    o.log.info(
      { pending: out.pending, removed: out.removed.length, stillRefused: out.stillPending },
      `retention: ${out.pending} deletion(s) pending in the store (refused: Object Lock, legal hold or errors)`,
    );
  return out;
}
