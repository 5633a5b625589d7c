/**
 * A dying media worker must not record silence: once a second the engine's worker state is read;
 * when the worker has stopped, new calls are refused (503, /healthz says why) and the live calls
 * are ended (BYE, stored with what was received, event `media-engine-failed`).
 */
import type { EngineHealth } from '../media/types.js';

export interface EngineHealthOptions {
  health: () => EngineHealth;
  onFailure: (reason: string) => void;
  intervalMs?: number;
}

export interface EngineHealthMonitor {
  /** Why calls are refused (the worker stopped), or null. */
  readonly failure: string | null;
  readonly eventsDropped: number;
  /** The latest reading (spool writer queue and drops). */
  readonly last: EngineHealth;
  stop(): void;
}

export function startEngineHealth(o: EngineHealthOptions): EngineHealthMonitor {
  let failure: string | null = null;
  let eventsDropped = 0;
  let last: EngineHealth = { workerFailure: null, eventsDropped: 0 };
  const check = (): void => {
    const h = o.health();
    last = h;
    eventsDropped = h.eventsDropped;
    if (h.workerFailure !== null && failure === null) {
      failure = h.workerFailure;
      o.onFailure(failure);
    }
  };
  const timer = setInterval(check, o.intervalMs ?? 1000);
  timer.unref();
  return {
    get failure() {
      return failure;
    },
    get eventsDropped() {
      return eventsDropped;
    },
    get last() {
      return last;
    },
    stop: () => clearInterval(timer),
  };
}
