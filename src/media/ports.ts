import { CapacityError } from '../errors.js';

/**
 * Even RTP ports handed out in contiguous runs: `allocate(2)` gives [P, P+2], so a session's legs sit
 * at a fixed spacing (SIPp's play_pcap_audio sends a capture's second flow to the first port plus an
 * offset). Odd ports stay free for RTCP (port+1). Allocation walks round the range from where the last
 * one ended (next fit), so a port just released is not handed out again at once and late packets of a
 * finished call do not land in a new one.
 */
export class PortPool {
  readonly min: number;
  readonly max: number;
  /** used[i] is port min + 2*i. */
  private readonly used: Uint8Array;
  private cursor = 0;
  private inUse = 0;

  /**
   * @param min first port, even.
   * @param max last port of the range (inclusive); the last even port is the highest P with P+1 <= max,
   *   so its RTCP port stays inside the range.
   */
  constructor(min: number, max: number) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 2 || max > 65535) {
      throw new RangeError(`port range must be integers within 2..65535, got ${min}..${max}`);
    }
    if (min % 2 !== 0) throw new RangeError(`the first port must be even, got ${min}`);
    if (max < min + 1) throw new RangeError(`the port range ${min}..${max} holds no RTP/RTCP pair`);
    this.min = min;
    this.max = max;
    this.used = new Uint8Array(Math.floor((max - 1 - min) / 2) + 1);
  }

  /** Number of even ports the pool manages. */
  get size(): number {
    return this.used.length;
  }

  /** Even ports currently free. */
  get available(): number {
    return this.used.length - this.inUse;
  }

  /** Returns n even ports [P, P+2, ..., P+2(n-1)], all free. Throws CapacityError if no such run exists. */
  allocate(n: number): number[] {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`allocate(n) needs a positive integer, got ${n}`);
    const slots = this.used.length;
    if (n <= slots && n <= this.available) {
      // Runs do not wrap past the end of the range; scan one full turn starting at the cursor.
      let start = this.cursor;
      let run = 0;
      for (let scanned = 0; scanned < slots + n; scanned++) {
        const i = (this.cursor + scanned) % slots;
        if (i === 0 && scanned > 0) run = 0;
        if (run === 0) start = i;
        if (this.used[i] === 0) {
          run++;
          if (run === n) {
            const ports: number[] = [];
            for (let k = start; k < start + n; k++) {
              this.used[k] = 1;
              ports.push(this.min + 2 * k);
            }
            this.inUse += n;
            this.cursor = (start + n) % slots;
            return ports;
          }
        } else {
          run = 0;
        }
      }
    }
    throw new CapacityError(
      `no run of ${n} free even RTP port(s) in ${this.min}..${this.max} (${this.available} of ${slots} free)`,
    );
  }

  /** Returns ports to the pool. Ports it does not hold (or already released) are ignored, so this is safe twice. */
  release(ports: Iterable<number>): void {
    for (const port of ports) {
      const offset = port - this.min;
      if (!Number.isInteger(port) || offset < 0 || offset % 2 !== 0) continue;
      const i = offset / 2;
      if (i < this.used.length && this.used[i] === 1) {
        this.used[i] = 0;
        this.inUse--;
      }
    }
  }
}
