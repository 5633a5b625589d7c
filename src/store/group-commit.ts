/**
 * Group commit for the writes every call makes (create at the INVITE, markEnded at the BYE): calls
 * arriving while a statement is in flight go out together in the next one, so hundreds of calls
 * per second cost a few statements (bench:cps). A batch that fails is retried one by one, so a
 * row the database refuses fails only its own call. `run` returns, per item, its error or
 * undefined. `lingerMs` holds the first item of a batch that long for others to join (each
 * statement is a commit, and a WAL flush, in Postgres).
 */
export function groupCommit<T>(
  run: (items: T[]) => Promise<(Error | undefined)[]>,
  one: (item: T) => Promise<void>,
  { maxBatch = 256, maxInFlight = 1, lingerMs = 0 } = {},
): (item: T) => Promise<void> {
  let pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let inFlight = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    while (pending.length > 0 && inFlight < maxInFlight) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      inFlight++;
      const settle = async (): Promise<void> => {
        if (batch.length === 1) {
          const b = batch[0]!;
          await one(b.item).then(b.resolve, b.reject);
          return;
        }
        let results: (Error | undefined)[];
        try {
          results = await run(batch.map((b) => b.item));
        } catch {
          await Promise.all(batch.map((b) => one(b.item).then(b.resolve, b.reject)));
          return;
        }
        batch.forEach((b, i) => (results[i] ? b.reject(results[i]) : b.resolve()));
      };
      void settle().finally(() => {
        inFlight--;
        flush();
      });
    }
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      // Items of the same turn of the event loop (or of the next lingerMs) join one batch.
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true;
        if (lingerMs > 0) setTimeout(flush, lingerMs);
        else setImmediate(flush);
      }
    });
}
