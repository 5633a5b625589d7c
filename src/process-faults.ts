/**
 * A promise rejected with nobody to catch it would end Node's process by default, and with it every
 * live call of the recorder (their spools stay on disk, but the calls are cut). A rejection belongs
 * to one task (one request, one call's step): the server logs it at error level, counts it
 * (`srs_unhandled_rejections_total`) and keeps recording. An uncaught exception still ends it.
 */
import type { Logger } from './log.js';

let rejections = 0;

/** Rejections nobody handled since the start. */
export const unhandledRejections = (): number => rejections;

/** Installs the handler (for `srs serve`); returns the function that removes it. */
export function keepRunningOnRejections(log: Logger): () => void {
  const on = (reason: unknown): void => {
    rejections++;
    log.error(
      { err: reason, unhandledRejections: rejections },
      'unhandled promise rejection: that task failed; the server keeps running',
    );
  };
  process.on('unhandledRejection', on);
  return () => void process.off('unhandledRejection', on);
}
