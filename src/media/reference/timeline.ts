/**
 * Placement of one leg's packets on the session timeline, the twin of LegReceiver's anchor and
 * LegReceiver::place (native/src/leg.cc, leg_timeline.cc): RTP timestamps through an anchor, and a
 * re-anchor on arrival time on a step back, more than a second of skew, or a talk spurt more than
 * 60 ms off arrival, never before the end of the audio already recorded (docs/media-engine.md,
 * "Timeline"). Times are samples at 8 kHz since t0. Pure.
 */
import { ULAW_DECODE } from './g711.js';

export const MAX_SKEW_SAMPLES = 8000;
export const SPURT_SAMPLES = 480;
export const OVERLAP_SAMPLES = 40;
/** A G.711 packet whose every sample is under this (-54 dBFS) is quiet. */
export const QUIET_LEVEL = 64;

export class TimelineRef {
  /** Times the stream was moved off its RTP clock. */
  reanchors = 0;
  #anchored = false;
  #anchorExtTs = 0;
  #anchorPosition = 0;
  /** Just after the latest-ending audio played (-1: none yet). */
  #audioEnd = -1;
  /** The anchor before the latest re-anchor, for late packets from before it. */
  #havePrevAnchor = false;
  #prevAnchorExtTs = 0;
  #prevAnchorPosition = 0;
  #reanchorPosition = 0;
  #reanchorExt = 0;
  /** Sequence numbers are missing just before the next packet played. */
  #seqGap = false;

  /** The next packet starts a stream (new SSRC, restarted sequence, resume). */
  restart(): void {
    this.#anchored = false;
  }

  /** Sequence numbers were given up on (counted lost). */
  missing(): void {
    this.#seqGap = true;
  }

  /** Audio was written up to `end`. */
  wrote(end: number): void {
    this.#audioEnd = Math.max(this.#audioEnd, end);
  }

  /**
   * Where a packet goes: `samples` is what it writes (0 for none), `audio` false for a
   * telephone-event. Null: a late packet that would reach into audio placed after a re-anchor
   * (dropped).
   */
  place(
    extTs: number,
    ext: number,
    arrival: number,
    marker: boolean,
    late: boolean,
    audio: boolean,
    samples: number,
  ): number | null {
    if (!this.#anchored) {
      this.#anchored = true;
      this.#havePrevAnchor = false;
      this.#anchorExtTs = extTs;
      this.#anchorPosition = Math.max(arrival, this.#audioEnd);
    }
    const before = late && this.#havePrevAnchor && ext < this.#reanchorExt;
    const position = before
      ? this.#prevAnchorPosition + (extTs - this.#prevAnchorExtTs)
      : this.#anchorPosition + (extTs - this.#anchorExtTs);
    if (audio && !late) {
      const at = this.#realign(marker, extTs, position, arrival, ext);
      this.#seqGap = false;
      return at;
    }
    if (before && samples > 0 && position + samples > this.#reanchorPosition) return null;
    return position;
  }

  /** See LegReceiver::skipQuiet: true when this quiet packet, far enough ahead, is left out. */
  skipQuiet(ulaw: ArrayLike<number>, position: number, arrival: number, ext: number): boolean {
    const n = ulaw.length;
    if (n === 0 || position - arrival < SPURT_SAMPLES + n) return false;
    for (let i = 0; i < n; i++) {
      const v = ULAW_DECODE[ulaw[i] as number] as number;
      if (v >= QUIET_LEVEL || v <= -QUIET_LEVEL) return false;
    }
    this.reanchors++;
    this.#havePrevAnchor = true;
    this.#prevAnchorExtTs = this.#anchorExtTs;
    this.#prevAnchorPosition = this.#anchorPosition;
    this.#anchorPosition -= n;
    this.#reanchorPosition = position;
    this.#reanchorExt = ext;
    return true;
  }

  #realign(marker: boolean, extTs: number, position: number, arrival: number, ext: number): number {
    const offset = position - arrival;
    const end = this.#audioEnd;
    const stepBack = end >= 0 && position < end - OVERLAP_SAMPLES;
    const farOff = offset > MAX_SKEW_SAMPLES || offset < -MAX_SKEW_SAMPLES;
    const spurt = marker || (end >= 0 && position - end >= SPURT_SAMPLES);
    if (!stepBack && !farOff && !(spurt && (offset > SPURT_SAMPLES || offset < -SPURT_SAMPLES)))
      return position;
    const target = Math.max(arrival, end);
    if (target === position) return position;
    if (target < position && this.#seqGap && !farOff) return position;
    this.reanchors++;
    this.#havePrevAnchor = true;
    this.#prevAnchorExtTs = this.#anchorExtTs;
    this.#prevAnchorPosition = this.#anchorPosition;
    this.#anchorExtTs = extTs;
    this.#anchorPosition = target;
    this.#reanchorPosition = target;
    this.#reanchorExt = ext;
    return target;
  }
}
