import type { DeliveryStatus, OffloadRepository } from '../store/offload.js';

/**
 * The read side for the console (`GET /api/v1/delivery`, admin): per-target health (last success,
 * last error, consecutive failures, next attempt), the last offload batches (state — 'failed'
 * after the configured attempts —, count, attempts, error, next attempt, manifest), export and
 * notification counters with recent failures (attempts, last error, next attempt). Everything comes from the store, so the API can
 * also call `db.offload.status()` directly; this adds the JSON shape (ISO dates, no CSV bodies).
 */

export type DeliveryStatusView = ReturnType<typeof toView>;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function toView(s: DeliveryStatus) {
  return {
    targets: s.targets.map((t) => ({
      ...t,
      lastOkAt: iso(t.lastOkAt),
      lastErrorAt: iso(t.lastErrorAt),
      nextAttemptAt: iso(t.nextAttemptAt),
    })),
    offload: {
      queued: s.offload.queued,
      failed: s.offload.failed,
      batches: s.offload.batches.map((b) => ({
        id: b.id,
        seq: b.seq,
        csv: b.csvName,
        count: b.count,
        state: b.state,
        attempts: b.attempts,
        lastError: b.lastError,
        cutAt: iso(b.cutAt),
        startedAt: iso(b.startedAt),
        finishedAt: iso(b.finishedAt),
        nextAttemptAt: b.state === 'done' || b.state === 'failed' ? null : iso(b.nextAttemptAt),
        manifest: b.manifest,
      })),
    },
    export: {
      ...s.export,
      recentFailures: s.export.recentFailures.map((f) => ({
        ...f,
        exportedAt: iso(f.exportedAt),
        nextAttemptAt: iso(f.nextAttemptAt),
      })),
    },
    notifications: {
      ...s.notifications,
      recentFailures: s.notifications.recentFailures.map((f) => ({
        ...f,
        nextAttemptAt: iso(f.nextAttemptAt),
      })),
    },
  };
}

export async function deliveryStatus(repo: Pick<OffloadRepository, 'status'>) {
  return toView(await repo.status());
}
