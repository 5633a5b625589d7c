import { CapacityError, databaseUnavailable } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * A new recording's catalogue row, awaited within a deadline. A stalled database answers nothing,
 * not even an error: the SRC gets 503 in time instead of no final response at all, and can try
 * another recorder. On any failure `undo` runs first (the engine session and ports the call took)
 * and `forget` removes what the call left: at once, or, after the deadline, once the insert (which
 * may still commit when the database answers) settles. The deadline and a database away are a
 * CapacityError (503); any other error is thrown as it is.
 */
export async function awaitCatalogueRow(o: {
  created: Promise<void>;
  waitMs: number;
  undo: () => void;
  forget?: () => Promise<void>;
  log: Logger;
}): Promise<void> {
  const { created, waitMs, log } = o;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      created,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CatalogueTimeout(waitMs)), waitMs);
      }),
    ]);
  } catch (err) {
    o.undo();
    const forget = () =>
      o.forget?.().catch((e: unknown) => log.warn({ err: e }, 'could not remove what the refused call left'));
    if (err instanceof CatalogueTimeout) {
      log.warn({ waitMs }, `the catalogue did not answer within ${waitMs} ms: call refused`);
      // The insert may still commit once the database answers: removed then.
      void created.then(forget, forget);
      throw new CapacityError(`the catalogue did not answer within ${waitMs} ms`);
    }
    void forget();
    if (databaseUnavailable(err))
      throw new CapacityError(`the catalogue is unavailable: ${(err as Error).message}`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

class CatalogueTimeout extends Error {
  constructor(readonly ms: number) {
    super(`the catalogue did not answer within ${ms} ms`);
  }
}
