/** The mix's cap at the call's wall time (finalize.ts). */

/**
 * A cut from the end of the call's wall time (plus 1 s) onwards, when the catalogue knows it. A leg
 * whose sender's clock ran fast ends later by its `aheadMs` (its audio is never pulled back over
 * itself, docs/media-engine.md): that much more is kept, at most a tenth of the call.
 */
export function wallTimeCap(rec: {
  durationMs: number | null;
  interrupted?: boolean;
  mediaStats?: unknown;
}): [number, number][] {
  if (rec.durationMs === null || rec.durationMs <= 0 || rec.interrupted) return [];
  // The stats as stored (jsonb): anything else than a list of legs counts as no lead.
  const legs: unknown = (rec.mediaStats as { legs?: unknown } | null | undefined)?.legs;
  const ahead = Array.isArray(legs)
    ? legs.reduce<number>((m, l: { aheadMs?: unknown } | null) => {
        const a = l?.aheadMs;
        return typeof a === 'number' && Number.isFinite(a) ? Math.max(m, a) : m;
      }, 0)
    : 0;
  const extra = Math.min(ahead, rec.durationMs / 10);
  return [[Math.ceil((rec.durationMs + extra) * 8) + 8000, 2 ** 48]];
}
