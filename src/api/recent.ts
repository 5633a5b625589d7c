/**
 * Recently made buffers (decrypted audio, joined interactions) kept a while for the requests that
 * follow (a player's ranges): each made once however many ask at the same time, renewed when used,
 * the oldest dropped past the bounds (never the one just made) or after `ttlMs` unused.
 */
export class RecentBuffers {
  readonly #kept = new Map<string, { at: number; data: Buffer }>();
  readonly #making = new Map<string, Promise<Buffer>>();
  constructor(readonly o: { ttlMs: number; maxEntries?: number; maxBytes?: number }) {}

  /** The buffer kept under `key`, if still fresh; `touch` renews it and makes it the newest. */
  hit(key: string, touch = true): Buffer | undefined {
    const e = this.#kept.get(key);
    if (!e || Date.now() - e.at >= this.o.ttlMs) return undefined;
    if (touch) {
      e.at = Date.now();
      this.#kept.delete(key);
      this.#kept.set(key, e);
    }
    return e.data;
  }

  /** Makes the buffer (once for concurrent askers) and keeps it. */
  fill(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
    let p = this.#making.get(key);
    if (!p) {
      p = make()
        .then((data) => {
          this.#keep(key, data);
          return data;
        })
        .finally(() => this.#making.delete(key));
      this.#making.set(key, p);
    }
    return p;
  }

  #keep(key: string, data: Buffer): void {
    this.#kept.delete(key);
    this.#kept.set(key, { at: Date.now(), data });
    const { maxEntries = Infinity, maxBytes = Infinity } = this.o;
    let bytes = 0;
    for (const e of this.#kept.values()) bytes += e.data.length;
    for (const [k, e] of this.#kept) {
      if ((this.#kept.size <= maxEntries && bytes <= maxBytes) || k === key) break;
      this.#kept.delete(k);
      bytes -= e.data.length;
    }
  }
}
