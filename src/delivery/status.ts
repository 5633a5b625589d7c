import type { DeliveryStatus, OffloadRepository } from '../store/offload.js';

/**
 * The read side for the console (`GET /api/v1/delivery`, admin): per-target health (last success,
 * last error), the last offload batches (state, count, attempts, error, manifest), export and
 * notification counters with recent failures. Everything comes from the store, so the API can
 * also call `db.offload.status()` directly; this adds the JSON shape (ISO dates, no CSV bodies).
 */

export type DeliveryStatusView = ReturnType<typeof toView>;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function toView(s: DeliveryStatus) {
  return {
    targets: s.targets.map((t) => ({ ...t, lastOkAt: iso(t.lastOkAt), lastErrorAt: iso(t.lastErrorAt) })),
    offload: {
      queued: s.offload.queued,
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
        nextAttemptAt: b.state === 'done' ? null : iso(b.nextAttemptAt),
        manifest: b.manifest,
      })),
    },
    export: {
      ...s.export,
      recentFailures: s.export.recentFailures.map((f) => ({ ...f, exportedAt: iso(f.exportedAt) })),
    },
    notifications: s.notifications,
  };
}

export async function deliveryStatus(repo: Pick<OffloadRepository, 'status'>) {
  return toView(await repo.status());
}
