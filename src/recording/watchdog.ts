/**
 * Every call ends: a watchdog over the live sessions. Once a second it reads the engine's per-leg
 * counters in one call and ends (BYE to the SRC, recording stored, event) a call whose legs have all
 * been silent for `rtpTimeoutSeconds` while none is paused, or that has lasted `maxDurationSeconds`.
 * Datagrams from sources other than the latched SRC do not count as activity.
 */
import type { LegCounters } from '../media/types.js';

export interface WatchdogTarget {
  /** `startedMono`: performance.now() at the call's start (the watchdog's clock is monotonic). */
  liveSessions(): { recordingId: string; startedMono: number; paused: number }[];
  terminate(recordingId: string, reason: string): Promise<void>;
}

export interface WatchdogOptions {
  target: WatchdogTarget;
  counters: () => Map<string, LegCounters[]>;
  rtpTimeoutSeconds: number;
  maxDurationSeconds: number;
  intervalMs?: number;
  now?: () => number;
}

export interface Watchdog {
  /** Calls ended by the watchdog, by reason (for /metrics). */
  readonly ended: ReadonlyMap<string, number>;
  stop(): void;
}

export function startWatchdog(o: WatchdogOptions): Watchdog {
  // Monotonic: a step of the wall clock must not end every live call as too long.
  const now = o.now ?? (() => performance.now());
  const seen = new Map<string, { activity: number; at: number }>();
  const ended = new Map<string, number>();
  const end = (id: string, reason: string): void => {
    ended.set(reason, (ended.get(reason) ?? 0) + 1);
    seen.delete(id);
    void o.target.terminate(id, reason);
  };
  const check = (): void => {
    const sessions = o.target.liveSessions();
    if (sessions.length === 0) {
      seen.clear();
      return;
    }
    const t = now();
    const counters = o.rtpTimeoutSeconds > 0 ? o.counters() : new Map<string, LegCounters[]>();
    const live = new Set<string>();
    for (const s of sessions) {
      live.add(s.recordingId);
      if (o.maxDurationSeconds > 0 && t - s.startedMono >= o.maxDurationSeconds * 1000) {
        end(s.recordingId, 'max-duration');
        continue;
      }
      if (o.rtpTimeoutSeconds <= 0) continue;
      const legs = counters.get(s.recordingId) ?? [];
      let activity = 0;
      for (const l of legs) activity += l.packetsReceived + (l.packetsPaused ?? 0);
      const prev = seen.get(s.recordingId);
      // A paused leg is not silent: the SRC said so (SIPREC pause, a=inactive).
      if (!prev || prev.activity !== activity || s.paused > 0) {
        seen.set(s.recordingId, { activity, at: t });
        continue;
      }
      if (t - prev.at >= o.rtpTimeoutSeconds * 1000) end(s.recordingId, 'rtp-timeout');
    }
    for (const id of seen.keys()) if (!live.has(id)) seen.delete(id);
  };
  const timer = setInterval(check, o.intervalMs ?? 1000);
  timer.unref();
  return {
    ended,
    stop: () => clearInterval(timer),
  };
}
