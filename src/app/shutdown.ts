import type { Logger } from '../log.js';

/** Registers a step of the shutdown; steps run in the reverse order of their registration. */
export type Defer = (fn: () => Promise<void> | void) => void;

/**
 * The shutdown steps of the running server: each part registers its stop as it starts, and
 * `stopAll` runs them last-started first, logging (not stopping at) a step that fails.
 */
export function shutdownList(log: Logger): { defer: Defer; stopAll: () => Promise<void> } {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, 'error during shutdown');
      }
    }
    cleanups.length = 0;
  };
  return { defer: (fn) => void cleanups.push(fn), stopAll };
}
