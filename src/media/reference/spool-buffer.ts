/**
 * Pending spool records of one leg, as native/src/spool.cc's SpoolBuffer builds them: consecutive
 * audio is merged into one record (up to 65535 samples), a negative offset is clipped at 0, offsets
 * beyond u32 are dropped. Pure.
 */
export const MAX_RECORD_SAMPLES = 65535;
const UINT32_MAX = 0xffffffff;

export class SpoolBufferRef {
  #chunks: number[] = [];
  #lastHeader = -1;
  #lastEnd = -1;

  append(offset: number, samples: ArrayLike<number>): void {
    let from = 0;
    if (offset < 0) {
      const skip = -offset;
      if (skip >= samples.length) return;
      from = skip;
      offset = 0;
    }
    let count = samples.length - from;
    let p = from;
    const b = this.#chunks;
    while (count > 0 && offset <= UINT32_MAX) {
      if (this.#lastHeader >= 0 && offset === this.#lastEnd) {
        const h = this.#lastHeader;
        const have = (b[h + 4] as number) | ((b[h + 5] as number) << 8);
        const take = Math.min(count, MAX_RECORD_SAMPLES - have);
        if (take > 0) {
          const n = have + take;
          b[h + 4] = n & 0xff;
          b[h + 5] = (n >> 8) & 0xff;
          for (let i = 0; i < take; i++) b.push(samples[p + i] as number);
          p += take;
          count -= take;
          offset += take;
          this.#lastEnd = offset;
          continue;
        }
      }
      const take = Math.min(count, MAX_RECORD_SAMPLES);
      this.#lastHeader = b.length;
      b.push(offset & 0xff, (offset >>> 8) & 0xff, (offset >>> 16) & 0xff, (offset >>> 24) & 0xff);
      b.push(take & 0xff, (take >> 8) & 0xff);
      for (let i = 0; i < take; i++) b.push(samples[p + i] as number);
      p += take;
      count -= take;
      offset += take;
      this.#lastEnd = offset;
    }
  }

  get empty(): boolean {
    return this.#chunks.length === 0;
  }

  /** The pending bytes (what a flush appends to the spool file), then cleared. */
  take(): Uint8Array {
    const out = Uint8Array.from(this.#chunks);
    this.#chunks = [];
    this.#lastHeader = -1;
    this.#lastEnd = -1;
    return out;
  }
}
