/**
 * RFC 4028 session timers, UAS side. The SRS never refreshes: it asks the SRC (the UAC) to, with
 * `refresher=uac`, and sends BYE when a refresh (re-INVITE or UPDATE) does not come in time
 * (section 10: slightly before expiry, by min(32 s, interval / 3)). Requests naming an interval
 * below our Min-SE get 422 with our Min-SE (section 9). An SRC that does not support timers, or
 * that asks the SRS to be the refresher, gets no Session-Expires: the session runs without a timer
 * (the RTP timeout and the maximum duration still end it).
 */
import type Srf from 'drachtio-srf';

export interface SessionTimerConfig {
  /** Interval we ask for when the SRC names none (Session-Expires), seconds. */
  expires: number;
  /** Smallest interval we accept (Min-SE), seconds. */
  minSE: number;
}

/**
 * The longest interval we run a timer for (a day, SRS_SESSION_EXPIRES's maximum): an SRC whose
 * Min-SE asks more gets no timer at all (the RTP timeout and the maximum duration still end the
 * call) rather than an interval past what setTimeout holds, which fires at once.
 */
const MAX_INTERVAL = 86_400;

export type TimerDecision =
  { reject: Record<string, string> } | { interval: number; headers: Record<string, string> } | { none: true };

function header(req: Srf.SrfRequest, name: string): string {
  return req.has(name) ? String(req.get(name)) : '';
}

/** Seconds and the refresher parameter of a Session-Expires (or compact `x`) header. */
export function parseSessionExpires(value: string): { seconds: number; refresher: string | null } | null {
  const m = /^\s*(\d{1,9})\s*((?:;[^;]*)*)$/.exec(value);
  if (!m) return null;
  const r = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '');
  return { seconds: Number(m[1]), refresher: r ? (r[1] as string).toLowerCase() : null };
}

export function negotiateSessionTimer(req: Srf.SrfRequest, c: SessionTimerConfig): TimerDecision {
  const supported = /(^|,)\s*timer\s*(,|$)/i.test(`${header(req, 'Supported')},${header(req, 'k')}`);
  const seRaw = header(req, 'Session-Expires') || header(req, 'x');
  const se = seRaw ? parseSessionExpires(seRaw) : null;
  const theirMin = Number(/^\s*(\d{1,9})/.exec(header(req, 'Min-SE'))?.[1] ?? 0);
  if (se && se.seconds < c.minSE) return { reject: { 'Min-SE': String(c.minSE) } };
  if (!supported || se?.refresher === 'uas' || theirMin > MAX_INTERVAL) return { none: true };
  const interval = Math.max(Math.min(se?.seconds ?? c.expires, c.expires), c.minSE, theirMin);
  return {
    interval,
    headers: { 'Session-Expires': `${interval};refresher=uac`, Require: 'timer', Supported: 'timer' },
  };
}

/** Fires `onExpire` when no refresh came within the interval (less the RFC 4028 section 10 margin). */
export class SessionTimer {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly intervalSeconds: number,
    private readonly onExpire: () => void,
  ) {
    this.refresh();
  }

  refresh(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const s = Math.min(this.intervalSeconds, MAX_INTERVAL);
    const at = Math.max(0.5, s - Math.min(32, s / 3));
    this.#timer = setTimeout(() => {
      this.#stopped = true;
      this.onExpire();
    }, at * 1000);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** A decision as a dialog runs it: the interval (null: no timer) and the headers of its 200s. */
export function agreedTimer(t: TimerDecision | null): {
  timerInterval: number | null;
  timerHeaders: Record<string, string>;
} {
  return {
    timerInterval: t && 'interval' in t ? t.interval : null,
    timerHeaders: t && 'headers' in t ? t.headers : {},
  };
}
