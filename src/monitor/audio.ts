/**
 * Listen-in audio on the wire: the binary frame format, and the frames of a batch mixed and encoded
 * once per channel mode, whatever the number of listeners (hundreds on one call share the same
 * Buffers).
 */
import { LiveMixer, type LiveFrame } from './tap.js';

/** Audio frame on the wire: u8 version (1), u8 channel (leg index, 255 = mix), u16 reserved,
 *  u32 sample offset from the call's t0, u32 latency in ms (arrival of the frame's oldest audio to
 *  send), u-law bytes. */
export const AUDIO_HEADER = 12;
export const MIX_CHANNEL = 255;

export function encodeAudioFrame(
  channel: number,
  offset: number,
  latencyMs: number,
  ulaw: Uint8Array,
): Buffer {
  const b = Buffer.allocUnsafe(AUDIO_HEADER + ulaw.length);
  b[0] = 1;
  b[1] = channel;
  b.writeUInt16LE(0, 2);
  b.writeUInt32LE(offset >>> 0, 4);
  b.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.round(latencyMs))), 8);
  b.set(ulaw, AUDIO_HEADER);
  return b;
}

/** Encodes each batch of a call's frames once per channel mode ("mix", "all" or a legId). */
export class FrameEncoder {
  readonly #batchCache = new WeakMap<LiveFrame[], Map<string, Buffer[]>>();
  readonly #mixers = new Map<string, LiveMixer>();
  readonly #onLatency: ((ms: number) => void) | undefined;

  /** `onLatency`: called with the latency of each frame encoded (ms from the audio's arrival). */
  constructor(onLatency?: (ms: number) => void) {
    this.#onLatency = onLatency;
  }

  /** The frames of `channel` for a batch; `t0` is the call's start (epoch ms). */
  encoded(recordingId: string, frames: LiveFrame[], channel: string, legIds: string[], t0: number): Buffer[] {
    let perChannel = this.#batchCache.get(frames);
    if (!perChannel) {
      perChannel = new Map();
      this.#batchCache.set(frames, perChannel);
    }
    const hit = perChannel.get(channel);
    if (hit) return hit;
    const now = Date.now();
    const enc = (f: LiveFrame, ch: number): Buffer => {
      // Worst case in the frame: from the arrival of its oldest audio (the engine places audio on the
      // call's wall-clock timeline, so offset / 8 ms after t0 is when it arrived) to now.
      const latency = now - (t0 + f.offset / 8);
      this.#onLatency?.(latency);
      return encodeAudioFrame(ch, f.offset, latency, f.ulaw);
    };
    const out: Buffer[] = [];
    if (channel === 'mix') {
      let m = this.#mixers.get(recordingId);
      if (!m) {
        m = new LiveMixer();
        this.#mixers.set(recordingId, m);
      }
      const mixed = m.mix(frames);
      if (mixed) out.push(enc(mixed, MIX_CHANNEL));
    } else {
      for (const f of frames) {
        if (channel !== 'all' && f.legId !== channel) continue;
        const idx = legIds.indexOf(f.legId);
        out.push(enc(f, idx < 0 ? 254 : idx));
      }
    }
    perChannel.set(channel, out);
    return out;
  }

  /** Forgets a call's mixer (nobody listens to its mix any more). */
  dropMixer(recordingId: string): void {
    this.#mixers.delete(recordingId);
  }
}
