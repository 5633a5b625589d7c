/**
 * The media state of one SIPREC dialog across offers (RFC 7866 §8.1.2, RFC 3264 §8): which m-line
 * slots are recorded, on which port and codec, and which are paused. Pure: `planOffer` says what a
 * new offer changes; the caller applies it through the recording service.
 */
import type { StreamOffer } from '../../recording/types.js';
import { chooseCodec, type AnswerStream, type Choice, type OfferedStream } from './sdp.js';

export interface Slot {
  /** m-line index. */
  index: number;
  label: string | null;
  /** Recorded on this port, or 0 when declined/removed. */
  port: number;
  choice: Choice | null;
  telephoneEventPt: number | null;
  /** The SRC's direction is inactive (paused). */
  paused: boolean;
}

export interface OfferPlan {
  /** Streams to start: new m-lines, or port-0 slots brought back. */
  add: StreamOffer[];
  /** m-line indexes whose recording stops (port 0, codec gone, or m-line missing). */
  remove: number[];
  /** Recorded streams whose pause state flips. */
  pauseChanges: { index: number; label: string | null; paused: boolean }[];
  /** True when nothing changes (an identical re-INVITE, e.g. OpenSIPS' pause). */
  unchanged: boolean;
}

export function streamOffer(s: OfferedStream, c: Choice, streamId: string | null = null): StreamOffer {
  return {
    index: s.index,
    label: s.label,
    codec: c.codec,
    pt: c.pt,
    telephoneEventPt: s.telephoneEventPt,
    streamId,
  };
}

/** What a new offer changes against the current slots. */
export function planOffer(slots: readonly Slot[], offer: readonly OfferedStream[]): OfferPlan {
  const add: StreamOffer[] = [];
  const remove: number[] = [];
  const pauseChanges: OfferPlan['pauseChanges'] = [];
  for (const s of offer) {
    const slot = slots.find((x) => x.index === s.index);
    const live = slot !== undefined && slot.port !== 0;
    const choice = s.port === 0 ? null : chooseCodec(s);
    if (choice === null) {
      if (live) remove.push(s.index);
      continue;
    }
    if (!live) {
      add.push(streamOffer(s, choice));
      continue;
    }
    const paused = s.direction === 'inactive';
    if (paused !== slot.paused) pauseChanges.push({ index: s.index, label: s.label, paused });
  }
  for (const slot of slots) {
    if (slot.port !== 0 && !offer.some((s) => s.index === slot.index)) remove.push(slot.index);
  }
  return {
    add,
    remove,
    pauseChanges,
    unchanged: add.length === 0 && remove.length === 0 && pauseChanges.length === 0,
  };
}

/**
 * The slots after an offer was applied: `addedPorts` are the ports of `plan.add` in order. A kept
 * stream keeps its port and codec (RFC 3264 §8.3.1 lets an answerer keep its port); a label
 * changes with the offer, since a label means something only within the message carrying it.
 */
export function applyPlan(
  slots: readonly Slot[],
  offer: readonly OfferedStream[],
  plan: OfferPlan,
  addedPorts: readonly number[],
): Slot[] {
  const out: Slot[] = [];
  for (const s of offer) {
    const prev = slots.find((x) => x.index === s.index);
    const addAt = plan.add.findIndex((a) => a.index === s.index);
    const paused = s.direction === 'inactive';
    if (addAt >= 0) {
      const a = plan.add[addAt] as StreamOffer;
      out.push({
        index: s.index,
        label: s.label,
        port: addedPorts[addAt] ?? 0,
        choice: { pt: a.pt, codec: a.codec },
        telephoneEventPt: a.telephoneEventPt,
        paused,
      });
    } else if (prev && prev.port !== 0 && !plan.remove.includes(s.index)) {
      out.push({ ...prev, label: s.label, paused });
    } else {
      out.push({ index: s.index, label: s.label, port: 0, choice: null, telephoneEventPt: null, paused });
    }
  }
  return out;
}

export function answerOf(slots: readonly Slot[]): AnswerStream[] {
  return slots.map((s) => ({
    index: s.index,
    port: s.port,
    choice: s.port === 0 ? null : s.choice,
    telephoneEventPt: s.telephoneEventPt,
  }));
}
