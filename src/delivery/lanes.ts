/**
 * Transfers over several connections at once. A destination across a network is bound by round
 * trips, not bandwidth: one file at a time over SFTP at 40 ms RTT moved 1.5 one-minute recordings a
 * second, to S3 5.3 (scripts/delivery-rate.ts with DELIVERY_RTT_MS=40), far below the 27 calls a
 * second the recorder ends at its sustained load. Each lane is a connection of its own (SFTP and
 * FTP servers, and their client libraries, take one operation at a time per connection); the lanes
 * take the items in order from one queue. The first lane's connection must open; a lane whose
 * connection fails to open is left out (a server limiting connections per user still gets the
 * work, slower). The plaintext held at once is bounded (a lane waits while others hold
 * `budgetBytes`; one item larger than that runs alone). The first failure stops the lanes from
 * taking more, lets the items in flight end, then is thrown: the caller retries the batch and the
 * items already done are skipped.
 */

export interface Lane<S> {
  sink: S;
  /** Lane number, 0 first. */
  index: number;
}

export async function runLanes<T, S extends { close(): Promise<void> }>(o: {
  items: readonly T[];
  lanes: number;
  open: (index: number) => Promise<S>;
  /** A lane that failed to open (not the first): logged by the caller. */
  onOpenFailed?: (index: number, err: unknown) => void;
  /** Bytes an item holds while it is in flight (its plaintext). */
  sizeOf: (item: T) => number;
  budgetBytes: number;
  /** Checked before each item: true stops the lanes (as a failure: 'stopping'). */
  stopping?: () => boolean;
  work: (item: T, lane: Lane<S>) => Promise<void>;
  /** Runs with the first lane's connection after every item is done (the CSV, the manifest). */
  after?: (first: S) => Promise<void>;
}): Promise<void> {
  const first = await o.open(0);
  const sinks: S[] = [first];
  try {
    const wanted = Math.max(1, Math.min(o.lanes, o.items.length));
    const more = await Promise.all(
      Array.from({ length: wanted - 1 }, (_, i) =>
        o.open(i + 1).catch((err: unknown) => {
          o.onOpenFailed?.(i + 1, err);
          return undefined;
        }),
      ),
    );
    for (const s of more) if (s) sinks.push(s);
    let next = 0;
    let held = 0;
    let inFlight = 0;
    let failure: { err: unknown } | undefined;
    const waiting: (() => void)[] = [];
    const release = (bytes: number) => {
      held -= bytes;
      inFlight--;
      for (const w of waiting.splice(0)) w();
    };
    const lane = async (sink: S, index: number) => {
      while (!failure && next < o.items.length) {
        if (o.stopping?.()) {
          failure ??= { err: new Error('stopping') };
          break;
        }
        const item = o.items[next++] as T;
        const bytes = o.sizeOf(item);
        while (inFlight > 0 && held + bytes > o.budgetBytes) await new Promise<void>((r) => waiting.push(r));
        // Another lane failed meanwhile: this item is left for the batch's next attempt.
        if (failure) break;
        held += bytes;
        inFlight++;
        try {
          await o.work(item, { sink, index });
        } catch (err) {
          failure ??= { err };
        } finally {
          release(bytes);
        }
      }
    };
    await Promise.all(sinks.map((s, i) => lane(s, i)));
    if (failure) throw failure.err;
    await o.after?.(first);
  } finally {
    for (const s of sinks) await s.close().catch(() => undefined);
  }
}
