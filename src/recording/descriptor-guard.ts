/**
 * Descriptor admission. A call holds descriptors while it lasts: per stream its RTP socket, its
 * RTCP socket (SRS_RTCP) and its spool file, which the media worker opens after the call is
 * answered. A call that cannot get them is answered and records nothing: with an open-files limit
 * of 256, 108 of 202 answered calls lost their audio before this guard. So a new call is taken only
 * when what it needs, what the live calls need and a reserve for everything else (the pipeline's
 * files, database connections, HTTP and monitor sockets) fit under the limit; else 503 with
 * Retry-After, and /healthz says why.
 *
 * What the live calls need is the larger of two figures: the descriptors open at the last count
 * (every second, /proc/self/fd) and the descriptors open at start plus `perStream` for every live
 * stream. The second covers the calls answered since the count, whose files are not open yet.
 */
import { maxFds, openFds } from '../descriptors.js';

export interface DescriptorGuardOptions {
  /** Descriptors one live stream holds (RTP socket, spool file, RTCP socket when drained). */
  perStream: number;
  intervalMs?: number;
  /** Test hooks: the open count and the limit (default /proc/self). */
  count?: () => Promise<number | undefined>;
  limit?: () => Promise<number | undefined>;
}

export interface DescriptorState {
  open: number | null;
  max: number | null;
}

export interface DescriptorGuard {
  readonly state: DescriptorState;
  /** Why a new call of `streams` streams is refused while `liveStreams` streams are live, or undefined. */
  admit(streams: number, liveStreams: number): string | undefined;
  /** Why even a one-stream call would be refused now, or null (for /healthz). */
  refusing(liveStreams: number): string | null;
  stop(): void;
}

/** Kept free for what is not a call: at least 64, or 5 % of the limit. */
export const reserveOf = (max: number) => Math.max(64, Math.ceil(max * 0.05));

export async function startDescriptorGuard(o: DescriptorGuardOptions): Promise<DescriptorGuard> {
  const count = o.count ?? openFds;
  const limit = o.limit ?? maxFds;
  const state: DescriptorState = { open: (await count()) ?? null, max: (await limit()) ?? null };
  const baseline = state.open ?? 0;
  let stopped = false;
  const timer = setInterval(() => {
    void count().then((n) => {
      if (!stopped && n !== undefined) state.open = n;
    });
  }, o.intervalMs ?? 1000);
  timer.unref();
  const admit = (streams: number, liveStreams: number): string | undefined => {
    const { open, max } = state;
    if (max === null || open === null) return undefined;
    const held = Math.max(open, baseline + o.perStream * liveStreams);
    if (held + o.perStream * streams + reserveOf(max) <= max) return undefined;
    return (
      `open files near the limit: about ${held} descriptors held of ${max}, a call needs ${o.perStream} ` +
      `per stream and ${reserveOf(max)} stay free (raise the limit: ulimit -n, systemd LimitNOFILE)`
    );
  };
  return {
    state,
    admit,
    refusing: (liveStreams) => admit(1, liveStreams) ?? null,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
