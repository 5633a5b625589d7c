import type { Logger } from '../log.js';
import { overdueRepository } from '../store/retention-overdue.js';
import type { Database } from '../store/db.js';
import { effectivePolicy, policyInMs, type RetentionPolicy } from './retention.js';

/**
 * The retention pass's report of recordings past their retention that it cannot purge: still
 * `processing` (their finalize waits, e.g. for an object store unreachable for days) or
 * `recording` though their call ended (no finalize ran). Their plaintext spool is still on disk.
 * They are not purged (their job may still store them, and then the policy applies), but each is
 * logged and audited once (`retention.overdue`, whichever node or pass sees it first), and every
 * pass counts them (`srs_retention_overdue_unstored_recordings`).
 */

/** How many a pass reports at most (the count covers them all). */
const REPORT_LIMIT = 1000;

/** Reports the overdue unstored recordings under `policy`; how many there are. */
export async function reportOverdue(o: {
  pool: Pick<Database['pool'], 'query'>;
  policy: RetentionPolicy;
  log: Logger;
}): Promise<number> {
  const ms = policyInMs(o.policy);
  if (ms.defaultMs === null && Object.values(ms.groupMs).every((x) => x === null)) return 0;
  const repo = overdueRepository(o.pool);
  const { items, total } = await repo.overdue(ms, REPORT_LIMIT);
  for (const r of items) {
    if (r.reported) continue;
    const policy = effectivePolicy(o.policy, r.groups);
    const details = {
      state: r.state,
      policy,
      startedAt: r.startedAt.toISOString(),
      endedAt: r.endedAt?.toISOString() ?? null,
    };
    if (!(await repo.report(r.id, details))) continue;
    o.log.warn(
      { recordingId: r.id, ...details },
      `retention: a recording past its retention (${policy}) is still ${r.state}, never stored: not purged (its finalize may still store it), its plaintext spool is still on disk`,
    );
  }
  return total;
}

/**
 * Reports overdue unstored recordings every `intervalSeconds` (the purge interval) under the
 * policy in force then; `count()` is the last report's figure (for /metrics). One report at a time.
 */
export function startOverdueReports(o: {
  pool: Pick<Database['pool'], 'query'>;
  policy: () => RetentionPolicy;
  intervalSeconds: number;
  log: Logger;
}): { count: () => number; stop: () => void } {
  let count = 0;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    reportOverdue({ pool: o.pool, policy: o.policy(), log: o.log })
      .then((n) => (count = n))
      .catch((err: unknown) =>
        o.log.error({ err }, 'retention: the report of overdue unstored recordings failed'),
      )
      .finally(() => (running = false));
  }, o.intervalSeconds * 1000);
  timer.unref();
  return { count: () => count, stop: () => clearInterval(timer) };
}
