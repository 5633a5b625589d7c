import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SPOOL_HEADER_SIZE, scanSpoolRecords } from '../media/spool.js';
import type { LiveFrame, MediaEngine } from '../media/types.js';

/**
 * Live audio of a call for listen-in. When the engine offers a live tap (`MediaEngine.watch`) it
 * is used; otherwise the per-leg spool files, which the engine appends to every ~150 ms, are
 * tailed. Either way a tap exists only while somebody listens: the first subscriber starts it,
 * the last one leaving stops it, so unwatched calls cost nothing.
 */

export type { LiveFrame };

export type FrameListener = (frames: LiveFrame[]) => void;

/** Tails one session's `<legId>.spool` files, delivering new records every `pollMs`. */
class SpoolTail {
  readonly #legs = new Map<string, { fh: FileHandle; pos: number; rest: Buffer }>();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #closed = false;

  constructor(
    readonly spoolDir: string,
    readonly onFrames: FrameListener,
    readonly pollMs: number,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.#poll(), this.pollMs);
    this.#timer.unref();
    void this.#poll(true);
  }

  async #poll(first = false): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      const names = await readdir(this.spoolDir).catch(() => [] as string[]);
      for (const n of names) {
        if (!n.endsWith('.spool') || this.#legs.has(n.slice(0, -6))) continue;
        const fh = await open(join(this.spoolDir, n), 'r').catch(() => null);
        if (!fh) continue;
        if (this.#closed) {
          await fh.close();
          return;
        }
        this.#legs.set(n.slice(0, -6), { fh, pos: SPOOL_HEADER_SIZE, rest: Buffer.alloc(0) });
      }
      const frames: LiveFrame[] = [];
      for (const [legId, leg] of this.#legs) {
        const { size } = await leg.fh.stat();
        if (size <= leg.pos) continue;
        const buf = Buffer.alloc(size - leg.pos);
        const { bytesRead } = await leg.fh.read(buf, 0, buf.length, leg.pos);
        leg.pos += bytesRead;
        let data = leg.rest.length
          ? Buffer.concat([leg.rest, buf.subarray(0, bytesRead)])
          : buf.subarray(0, bytesRead);
        const legFrames: LiveFrame[] = [];
        const p = scanSpoolRecords(data, 0, (offset, ulaw) => legFrames.push({ legId, offset, ulaw }));
        leg.rest = Buffer.from(data.subarray(p));
        data = Buffer.alloc(0);
        // On the first read a listener joins mid-call: only the last half second is live audio.
        if (first && legFrames.length > 0) {
          const end = Math.max(...legFrames.map((f) => f.offset + f.ulaw.length));
          frames.push(...legFrames.filter((f) => f.offset + f.ulaw.length > end - 4000));
        } else frames.push(...legFrames);
      }
      if (frames.length > 0 && !this.#closed) this.onFrames(frames);
    } catch {
      // The spool vanished (call finalized) or a read failed: the next poll retries; close() ends it.
    } finally {
      this.#busy = false;
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const l of this.#legs.values()) void l.fh.close().catch(() => undefined);
    this.#legs.clear();
  }
}

export interface TapHubOptions {
  dataDir: string;
  engine?: Pick<MediaEngine, 'watch'>;
  /** Spool poll interval (default 40 ms). */
  pollMs?: number;
}

/** Shares one tap per call among all its listeners. */
export class TapHub {
  readonly #taps = new Map<string, { listeners: Set<FrameListener>; stop: () => void }>();

  constructor(readonly o: TapHubOptions) {}

  get activeTaps(): number {
    return this.#taps.size;
  }

  subscribe(recordingId: string, listener: FrameListener): () => void {
    let tap = this.#taps.get(recordingId);
    if (!tap) {
      const listeners = new Set<FrameListener>();
      const fan: FrameListener = (frames) => {
        for (const l of listeners) l(frames);
      };
      let stop: () => void;
      if (this.o.engine?.watch) {
        stop = this.o.engine.watch(recordingId, fan);
      } else {
        const tail = new SpoolTail(join(this.o.dataDir, 'spool', recordingId), fan, this.o.pollMs ?? 40);
        tail.start();
        stop = () => tail.close();
      }
      tap = { listeners, stop };
      this.#taps.set(recordingId, tap);
    }
    tap.listeners.add(listener);
    const t = tap;
    return () => {
      t.listeners.delete(listener);
      if (t.listeners.size === 0 && this.#taps.get(recordingId) === t) {
        this.#taps.delete(recordingId);
        t.stop();
      }
    };
  }

  close(): void {
    for (const t of this.#taps.values()) t.stop();
    this.#taps.clear();
  }
}

const ULAW = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  ULAW[i] = u & 0x80 ? 0x84 - t : t - 0x84;
}

function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, sample));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exp = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exp > 0; mask >>= 1) exp--;
  const mant = (s >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mant) & 0xff;
}

/**
 * Mixes the legs' frames of each batch into one u-law stream. Audio for a time already mixed (a
 * leg's batch arriving late) is dropped rather than delaying everyone.
 */
export class LiveMixer {
  #pos = -1;

  mix(frames: LiveFrame[]): LiveFrame | null {
    if (frames.length === 0) return null;
    let start = Infinity;
    let end = 0;
    for (const f of frames) {
      start = Math.min(start, f.offset);
      end = Math.max(end, f.offset + f.ulaw.length);
    }
    if (this.#pos < 0 || this.#pos < end - 16000) this.#pos = Math.max(start, end - 16000);
    start = Math.max(start, this.#pos);
    if (end <= start) return null;
    const acc = new Int32Array(end - start);
    for (const f of frames) {
      for (let i = 0; i < f.ulaw.length; i++) {
        const at = f.offset + i - start;
        if (at >= 0 && at < acc.length) acc[at] = (acc[at] as number) + (ULAW[f.ulaw[i] as number] as number);
      }
    }
    const out = Buffer.alloc(acc.length);
    for (let i = 0; i < acc.length; i++) out[i] = linearToUlaw(acc[i] as number);
    this.#pos = end;
    return { legId: 'mix', offset: start, ulaw: out };
  }
}
