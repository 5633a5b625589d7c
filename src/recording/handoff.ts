/**
 * The end-of-call hand-off (end event, catalogue update, finalize job) must survive a database that
 * is away for a while: it is retried in-process with backoff, so the recording is stored once the
 * database returns, without a restart (docs/security.md).
 */
import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';

/** End reasons that mean the server, not the SRC, ended the call. */
export const SERVER_ENDED = new Set([
  'rtp-timeout',
  'max-duration',
  'disk-full',
  'shutdown',
  'session-timer-expired',
]);

/** Runs `fn` until it succeeds: backoff 0.5 s doubling to 30 s, `attempts` retries at most. */
export async function handOff(
  fn: () => Promise<void>,
  o: {
    attempts: number;
    onRetry?: (attempt: number, err: unknown, delayMs: number) => void;
    stopped?: () => boolean;
  },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (attempt > o.attempts || o.stopped?.()) throw err;
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt - 1, 6));
      o.onRetry?.(attempt, err, delayMs);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/** Logs the legs whose spool writes failed: audio lost in the spans listed on the recording. */
export function logSpoolDamage(log: Logger, stats: SessionStats | null): void {
  const damaged = stats?.legs.filter((l) => (l.spoolErrors ?? 0) > 0) ?? [];
  if (damaged.length === 0) return;
  log.error(
    {
      legs: damaged.map((l) => ({ legId: l.legId, spoolErrors: l.spoolErrors, damagedMs: l.spoolDamagedMs })),
    },
    'recording damaged: spool writes failed (audio lost in the spans listed on the recording)',
  );
}
