/**
 * Receive logic of one leg, the TypeScript twin of native/src/leg.cc (LegReceiver): SSRC latching
 * and changes, RFC 3550 A.1 sequence tracking with probation for large jumps, duplicates, a reorder
 * window that gives up after 200 ms, loss left as silence, placement on the session timeline with
 * re-anchoring on timestamp steps, talk spurts off arrival time and drift (never behind the audio
 * already recorded, docs/media-engine.md), A-law to u-law,
 * comfort noise as silence and RFC 4733 events as DTMF. Times are samples at 8 kHz since t0.
 * Pure and deterministic: the parity tests require its spool (and so the mixed WAV) to match the
 * native engine's byte for byte.
 */
import type { SimulatedLegResult } from '../engine.js';
import type { PayloadKind } from '../types.js';
import { ALAW_TO_ULAW } from './g711.js';
import { parseRtp } from './rtp.js';
import { SpoolBufferRef } from './spool-buffer.js';
import { TimelineRef } from './timeline.js';

export const REORDER_WINDOW = 16;
export const REORDER_WAIT_SAMPLES = 1600;
export const MAX_DROPOUT = 3000;
export const MAX_MISORDER = 1000;
export const HISTORY = 1024;

export interface LegEventRef {
  type: 'first-packet' | 'ssrc-change' | 'dtmf' | 'pause' | 'resume';
  atSamples: number;
  ssrc: number;
  digit: string;
  durationSamples: number;
}

/** The native leg's counters (its test-only simulateLeg result without the events). */
export type LegCountersRef = Omit<SimulatedLegResult, 'events'>;

export const MAX_DTMF = 1000;

interface Held {
  used: boolean;
  ext: number;
  timestamp: number;
  payloadType: number;
  marker: boolean;
  arrival: number;
  payload: Uint8Array;
}

const DIGITS = '0123456789*#ABCD';
/** Index into a power-of-two ring as C++ does for a (possibly negative) int64 cast to size_t. */
const ring = (v: number, size: number): number => ((v % size) + size) % size;

export class LegReceiverRef {
  readonly counters: LegCountersRef = {
    packetsReceived: 0,
    packetsLost: 0,
    packetsDuplicate: 0,
    packetsLate: 0,
    packetsIgnored: 0,
    reanchors: 0,
    packetsPaused: 0,
    jitterQ4: 0,
    ssrcs: [],
    dtmf: [],
    packetsUndecodable: 0,
    codecs: [],
  };
  /** Audio kinds played (reported in the native engine's enum order, PCMU before PCMA). */
  readonly #seen = new Set<PayloadKind>();
  readonly spool = new SpoolBufferRef();
  readonly #kinds: (PayloadKind | undefined)[];
  #firstPacketAt = -1;

  #haveSsrc = false;
  #ssrc = 0;
  #haveSeq = false;
  #maxExt = 0;
  #nextExt = 0;
  #badSeq = -1;
  readonly #history = new Array<number>(HISTORY).fill(-1);
  readonly #held: Held[] = Array.from({ length: REORDER_WINDOW }, () => ({
    used: false,
    ext: 0,
    timestamp: 0,
    payloadType: 0,
    marker: false,
    arrival: 0,
    payload: new Uint8Array(0),
  }));
  #heldCount = 0;

  #haveTs = false;
  #lastTs = 0;
  #lastExtTs = 0;
  readonly #timeline = new TimelineRef();

  #haveTransit = false;
  #lastTransit = 0;
  #paused = false;

  #dtmfActive = false;
  #dtmfEnded = false;
  #dtmfTs = 0;
  #dtmfDigit = '';
  #dtmfPosition = 0;
  #dtmfDuration = 0;

  constructor(payloadTypes: Readonly<Record<number, PayloadKind>>) {
    this.#kinds = Array.from({ length: 128 }, (_, pt) => payloadTypes[pt]);
  }

  onDatagram(data: Uint8Array, arrival: number, events: LegEventRef[]): void {
    const parsed = parseRtp(data);
    if (parsed.kind !== 'ok') {
      this.counters.packetsIgnored++;
      return;
    }
    const p = parsed.packet;
    if (this.#paused) {
      this.counters.packetsPaused++;
      // RFC 4733 events are still read while paused (a phone code can resume): never audio.
      if (this.#kinds[p.payloadType & 0x7f] === 'telephone-event')
        this.#telephoneEvent(p.timestamp, arrival, p.payload, events);
      return;
    }
    if (this.#firstPacketAt < 0) {
      this.#firstPacketAt = arrival;
      events.push({ type: 'first-packet', atSamples: arrival, ssrc: p.ssrc, digit: '', durationSamples: 0 });
    }
    if (!this.#haveSsrc || p.ssrc !== this.#ssrc) this.#switchSsrc(p.ssrc, arrival, events);

    let ext: number;
    if (!this.#haveSeq) {
      this.#haveSeq = true;
      ext = p.seq;
      this.#maxExt = ext;
      this.#nextExt = ext;
    } else {
      const delta = ((p.seq - (this.#maxExt & 0xffff)) << 16) >> 16; // int16 of the u16 difference
      ext = this.#maxExt + delta;
      if (ext > this.#maxExt + MAX_DROPOUT || ext < this.#nextExt - MAX_MISORDER) {
        if (this.#badSeq !== p.seq) {
          this.#badSeq = (p.seq + 1) & 0xffff;
          this.counters.packetsIgnored++;
          return;
        }
        this.#releaseAll(events);
        this.#history.fill(-1);
        this.#haveTs = false;
        this.#timeline.restart();
        this.#maxExt = ext;
        this.#nextExt = ext;
      }
      this.#badSeq = -1;
    }

    const slot = ring(ext, HISTORY);
    if (this.#history[slot] === ext) {
      this.counters.packetsDuplicate++;
      return;
    }
    this.#history[slot] = ext;
    this.counters.packetsReceived++;

    const kind = this.#kinds[p.payloadType & 0x7f];
    if (kind === 'PCMU' || kind === 'PCMA') {
      const transit = (arrival - p.timestamp) >>> 0;
      if (this.#haveTransit) {
        const d = (transit - this.#lastTransit) | 0;
        const j = this.counters.jitterQ4;
        this.counters.jitterQ4 = j + Math.abs(d) - Math.floor((j + 8) / 16);
      }
      this.#haveTransit = true;
      this.#lastTransit = transit;
    }

    if (ext < this.#nextExt) {
      this.counters.packetsLate++;
      if (this.counters.packetsLost > 0) this.counters.packetsLost--;
      this.#play(p.payloadType, p.marker, p.timestamp, p.payload, arrival, ext, true, events);
      return;
    }
    if (ext > this.#maxExt) this.#maxExt = ext;
    if (ext === this.#nextExt && this.#heldCount === 0) {
      this.#play(p.payloadType, p.marker, p.timestamp, p.payload, arrival, ext, false, events);
      this.#nextExt++;
      return;
    }
    while (ext >= this.#nextExt + REORDER_WINDOW) {
      if (this.#heldCount === 0) {
        const skip = ext - REORDER_WINDOW + 1 - this.#nextExt;
        this.counters.packetsLost += skip;
        this.#timeline.missing();
        this.#nextExt += skip;
        break;
      }
      this.#advance(events);
    }
    const h = this.#held[ring(ext, REORDER_WINDOW)] as Held;
    h.used = true;
    h.ext = ext;
    h.timestamp = p.timestamp;
    h.payloadType = p.payloadType;
    h.marker = p.marker;
    h.arrival = arrival;
    h.payload = p.payload.slice();
    this.#heldCount++;
    while (this.#heldCount > 0) {
      const next = this.#held[ring(this.#nextExt, REORDER_WINDOW)] as Held;
      if (!next.used || next.ext !== this.#nextExt) break;
      this.#advance(events);
    }
  }

  /** Releases packets held too long behind a gap (the worker calls it every tick). */
  tick(now: number, events: LegEventRef[]): void {
    if (this.#heldCount === 0) return;
    let oldest = now;
    for (const h of this.#held) if (h.used) oldest = Math.min(oldest, h.arrival);
    if (now - oldest >= REORDER_WAIT_SAMPLES) this.#releaseAll(events);
  }

  /** Releases everything held (end of the session). */
  finish(events: LegEventRef[]): void {
    this.#releaseAll(events);
    this.#endPendingDtmf(events);
  }

  #advance(events: LegEventRef[]): void {
    const h = this.#held[ring(this.#nextExt, REORDER_WINDOW)] as Held;
    if (h.used && h.ext === this.#nextExt) {
      h.used = false;
      this.#heldCount--;
      this.#play(h.payloadType, h.marker, h.timestamp, h.payload, h.arrival, h.ext, false, events);
    } else {
      this.counters.packetsLost++;
      this.#timeline.missing();
    }
    this.#nextExt++;
  }

  #releaseAll(events: LegEventRef[]): void {
    while (this.#heldCount > 0) this.#advance(events);
  }

  #switchSsrc(ssrc: number, arrival: number, events: LegEventRef[]): void {
    if (this.#haveSsrc) {
      this.#releaseAll(events);
      this.#endPendingDtmf(events);
      events.push({ type: 'ssrc-change', atSamples: arrival, ssrc, digit: '', durationSamples: 0 });
    }
    this.#haveSsrc = true;
    this.#ssrc = ssrc;
    if (!this.counters.ssrcs.includes(ssrc)) this.counters.ssrcs.push(ssrc);
    this.#restartStream();
  }

  /** Forgets sequence, timestamp, DTMF and jitter state: the stream starts anew (new SSRC, resume). */
  #restartStream(): void {
    this.#haveSeq = false;
    this.#badSeq = -1;
    this.#history.fill(-1);
    this.#haveTs = false;
    this.#timeline.restart();
    this.#dtmfActive = false;
    this.#haveTransit = false;
  }

  /** See LegReceiver::pause in native/src/leg.h. */
  pause(now: number, events: LegEventRef[]): void {
    if (this.#paused) return;
    this.#releaseAll(events);
    this.#endPendingDtmf(events);
    this.#paused = true;
    events.push({ type: 'pause', atSamples: now, ssrc: this.#ssrc, digit: '', durationSamples: 0 });
  }

  resume(now: number, events: LegEventRef[]): void {
    if (!this.#paused) return;
    this.#paused = false;
    // The telephone-event state stays: the code that resumed may still repeat its end packets.
    const dtmfActive = this.#dtmfActive;
    this.#restartStream();
    this.#dtmfActive = dtmfActive;
    events.push({ type: 'resume', atSamples: now, ssrc: this.#ssrc, digit: '', durationSamples: 0 });
  }

  #play(
    pt: number,
    marker: boolean,
    timestamp: number,
    payload: Uint8Array,
    arrival: number,
    ext: number,
    late: boolean,
    events: LegEventRef[],
  ): void {
    const kind = this.#kinds[pt & 0x7f];
    if (kind === undefined) {
      this.counters.packetsIgnored++;
      return;
    }
    let extTs: number;
    if (!this.#haveTs) {
      this.#haveTs = true;
      extTs = timestamp;
    } else {
      extTs = this.#lastExtTs + ((timestamp - this.#lastTs) | 0);
    }
    this.#lastTs = timestamp;
    this.#lastExtTs = extTs;
    const audio = kind !== 'telephone-event';
    const samples = kind === 'PCMU' || kind === 'PCMA' ? payload.length : 0;
    const position = this.#timeline.place(extTs, ext, arrival, marker, late, audio, samples);
    this.counters.reanchors = this.#timeline.reanchors;
    if (position === null) {
      // It would reach into the audio placed since a re-anchor: dropped (lost), never written over it.
      this.counters.packetsLost++;
      return;
    }
    if (!late && samples > 0) {
      const ulaw = kind === 'PCMA' ? payload.map((a) => ALAW_TO_ULAW[a] as number) : payload;
      if (this.#timeline.skipQuiet(ulaw, position, arrival, ext)) {
        this.counters.reanchors = this.#timeline.reanchors;
        return;
      }
    }
    if ((kind === 'PCMU' || kind === 'PCMA') && !this.#seen.has(kind)) {
      this.#seen.add(kind);
      this.counters.codecs = (['PCMU', 'PCMA'] as const).filter((k) => this.#seen.has(k));
    }
    switch (kind) {
      case 'PCMU':
        this.spool.append(position, payload);
        this.#timeline.wrote(position + payload.length);
        break;
      case 'PCMA':
        this.spool.append(
          position,
          payload.map((a) => ALAW_TO_ULAW[a] as number),
        );
        this.#timeline.wrote(position + payload.length);
        break;
      case 'CN':
        break;
      case 'telephone-event':
        this.#telephoneEvent(timestamp, position, payload, events);
        break;
    }
  }

  #telephoneEvent(timestamp: number, position: number, payload: Uint8Array, events: LegEventRef[]): void {
    if (payload.length < 4) {
      this.counters.packetsIgnored++;
      return;
    }
    const event = payload[0] as number;
    const digit = event < 16 ? (DIGITS[event] as string) : '';
    if (digit === '') {
      this.counters.packetsIgnored++;
      return;
    }
    const end = ((payload[1] as number) & 0x80) !== 0;
    const duration = ((payload[2] as number) << 8) | (payload[3] as number);
    if (!this.#dtmfActive || timestamp !== this.#dtmfTs) {
      this.#endPendingDtmf(events);
      this.#dtmfActive = true;
      this.#dtmfEnded = false;
      this.#dtmfTs = timestamp;
      this.#dtmfDigit = digit;
      this.#dtmfPosition = position;
      this.#dtmfDuration = duration;
    } else if (!this.#dtmfEnded) {
      this.#dtmfDuration = Math.max(this.#dtmfDuration, duration);
    }
    if (end && !this.#dtmfEnded) this.#reportDtmf(events);
  }

  #reportDtmf(events: LegEventRef[]): void {
    this.#dtmfEnded = true;
    events.push({
      type: 'dtmf',
      atSamples: this.#dtmfPosition,
      ssrc: this.#ssrc,
      digit: this.#dtmfDigit,
      durationSamples: this.#dtmfDuration,
    });
    if (this.counters.dtmf.length < MAX_DTMF) {
      this.counters.dtmf.push({
        digit: this.#dtmfDigit,
        atSamples: this.#dtmfPosition,
        durationSamples: this.#dtmfDuration,
      });
    }
  }

  #endPendingDtmf(events: LegEventRef[]): void {
    if (this.#dtmfActive && !this.#dtmfEnded) this.#reportDtmf(events);
  }
}
