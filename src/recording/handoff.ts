/**
 * The end-of-call hand-off (end event, catalogue update, finalize job) must survive a database that
 * is away for a while: it is retried in-process with backoff, so the recording is stored once the
 * database returns, without a restart (docs/security.md).
 */
import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';
import type { FinalizeQueuePort, RecordingControlHooks, RecordingStorePort } from './types.js';

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

/**
 * The end-of-call steps, run again as a whole until they succeed: the `call-ended-by-server`
 * event (once, when `serverReason`), markEnded, recording control's verdict (once), the finalize
 * job. `afterStep('call-ended')` is the test-only crash hook between markEnded and the job.
 */
export function endOfCall(o: {
  store: Pick<RecordingStorePort, 'addEvents' | 'markEnded'>;
  finalize: FinalizeQueuePort;
  control: RecordingControlHooks | null;
  recordingId: string;
  endedAt: Date;
  durationMs: number;
  stats: SessionStats | null;
  serverReason: string | undefined;
  afterStep?: ((step: string) => void) | undefined;
}): () => Promise<void> {
  let evented = false;
  let keep: boolean | undefined;
  return async () => {
    if (!evented && o.serverReason) {
      await o.store.addEvents(o.recordingId, [
        { at: o.endedAt, type: 'call-ended-by-server', detail: { reason: o.serverReason } },
      ]);
      evented = true;
    }
    await o.store.markEnded(o.recordingId, o.endedAt, o.durationMs, o.stats);
    o.afterStep?.('call-ended');
    // Recording control: an on-demand call never started (or a `never` call) is discarded.
    keep ??= (await o.control?.ended(o.recordingId)) ?? true;
    if (keep) await o.finalize.enqueueFinalize(o.recordingId);
  };
}

/**
 * Hand-offs that gave up after their attempts (SRS_HANDOFF_RETRY_LIMIT, about 8 h at the default)
 * are tried again every `everyMs` while the process lives, so the recording leaves its plaintext
 * spool for the store once the database is back, without a restart (startup recovery covers a
 * restart). One failure ends a round: the database is still away.
 */
export class HandoffBacklog {
  readonly #waiting = new Map<string, () => Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly log: Logger,
    /**
     * The row's state, read before each later try: a recording no longer `recording` (finished by
     * the startup recovery of a node sharing the data directory, or deleted) is dropped.
     */
    private readonly store?: Pick<RecordingStorePort, 'get'>,
    private readonly everyMs = 30_000,
  ) {}

  get size(): number {
    return this.#waiting.size;
  }

  add(recordingId: string, attempt: () => Promise<void>): void {
    this.#waiting.set(recordingId, attempt);
    this.#timer ??= setInterval(() => void this.retry(), this.everyMs);
  }

  /** One round: each waiting hand-off in turn, until one fails. */
  async retry(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (const [recordingId, attempt] of this.#waiting) {
        try {
          const row = this.store?.get ? await this.store.get(recordingId) : { state: 'recording' };
          if (row?.state === 'recording') await attempt();
          this.#waiting.delete(recordingId);
          if (row?.state === 'recording')
            this.log.info({ recordingId }, 'end-of-call hand-off done on a later try');
          else
            this.log.warn(
              { recordingId, state: row?.state ?? 'deleted' },
              'end-of-call hand-off dropped: finished elsewhere',
            );
        } catch (err) {
          this.log.warn(
            { recordingId, waiting: this.#waiting.size, err: (err as Error).message },
            'end-of-call hand-off still failing; trying again later',
          );
          break;
        }
      }
    } finally {
      this.#running = false;
      if (this.#waiting.size === 0) this.stop();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
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
