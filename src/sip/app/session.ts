/**
 * The media state of one SIPREC dialog across offers (RFC 7866 §8.1.2, RFC 3264 §8): which m-line
 * slots are recorded, on which port, codecs and SRTP key, and which are paused. Pure except for the
 * answer's fresh SRTP key (`newKey`): `planOffer` says what a new offer changes; the caller applies
 * it through the recording service.
 */
import type { PayloadSpec, StreamChange, StreamOffer } from '../../recording/types.js';
import {
  DEFAULT_RULES,
  chooseCodec,
  codecNames,
  type AnswerRules,
  type AnswerStream,
  type Choice,
  type OfferedStream,
} from './sdp.js';
import { sameDecoding } from './codecs.js';
import { newLocalKey, sameCrypto, srtpParamsOf, type SecretKey } from './sdes.js';

export interface Slot {
  /** m-line index. */
  index: number;
  label: string | null;
  /** Recorded on this port, or 0 when declined/removed. */
  port: number;
  choice: Choice | null;
  /** Our key in the answer's a=crypto (kept across re-offers while the suite stays). */
  localKey: SecretKey | null;
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
  /** Kept streams whose SRTP key changed (a new a=crypto, or SRTP turned on or off). */
  rekey: NonNullable<StreamChange['rekey']>;
  /** The choice each offered stream is answered with now (by m-line index). */
  choices: Map<number, Choice>;
  /** True when nothing changes (an identical re-INVITE, e.g. OpenSIPS' pause). */
  unchanged: boolean;
}

/** What the recording service is asked to start for a stream. */
export function streamOffer(s: OfferedStream, c: Choice, streamId: string | null = null): StreamOffer {
  const payloads: Record<number, PayloadSpec> = {};
  for (const p of c.payloads) payloads[p.pt] = p.spec;
  return {
    index: s.index,
    label: s.label,
    codec: codecNames(c),
    payloads,
    srtp: c.crypto === null ? null : srtpParamsOf(c.crypto),
    streamId,
  };
}

/**
 * A kept stream's choice under a new offer: the engine knows the payload types it started with, so
 * the answer may only name those that the new offer still carries (RFC 3264 §6.1). Null when none
 * is left, or when the offer keeps one of the leg's payload types with a packing the leg does not
 * decode (AMR `octet-align` changed): the stream then restarts on a new leg, which decodes every
 * format of the new offer, instead of answering a packing the old leg would record as undecodable.
 */
function keptChoice(prev: Choice, next: Choice): Choice | null {
  const same = (p: Choice['payloads'][number], q: Choice['payloads'][number]): boolean =>
    q.pt === p.pt && q.spec.codec === p.spec.codec && q.spec.clockRate === p.spec.clockRate;
  if (next.payloads.some((p) => prev.payloads.some((q) => same(p, q) && !sameDecoding(p.spec, q.spec))))
    return null;
  const payloads = next.payloads.filter((p) => prev.payloads.some((q) => same(p, q)));
  if (!payloads.some((p) => p.spec.codec !== 'telephone-event' && p.spec.codec !== 'CN')) return null;
  return { payloads, crypto: next.crypto };
}

function sameKeying(a: Choice, b: Choice): boolean {
  if (a.crypto === null || b.crypto === null) return a.crypto === b.crypto;
  return sameCrypto(a.crypto, b.crypto);
}

/** What a new offer changes against the current slots. */
export function planOffer(
  slots: readonly Slot[],
  offer: readonly OfferedStream[],
  rules: AnswerRules = DEFAULT_RULES,
): OfferPlan {
  const add: StreamOffer[] = [];
  const remove: number[] = [];
  const pauseChanges: OfferPlan['pauseChanges'] = [];
  const rekey: OfferPlan['rekey'] = [];
  const choices = new Map<number, Choice>();
  for (const s of offer) {
    const slot = slots.find((x) => x.index === s.index);
    const live = slot !== undefined && slot.port !== 0 && slot.choice !== null;
    const next = s.port === 0 ? null : chooseCodec(s, rules);
    if (next === null) {
      if (live) remove.push(s.index);
      continue;
    }
    const kept = live ? keptChoice(slot.choice as Choice, next) : null;
    if (kept === null) {
      if (live) remove.push(s.index); // no codec in common, or a packing the leg does not decode: a new leg takes over
      add.push(streamOffer(s, next));
      choices.set(s.index, next);
      continue;
    }
    choices.set(s.index, kept);
    if (!sameKeying(slot!.choice as Choice, kept))
      rekey.push({ index: s.index, srtp: kept.crypto === null ? null : srtpParamsOf(kept.crypto) });
    const paused = s.direction === 'inactive';
    if (paused !== slot!.paused) pauseChanges.push({ index: s.index, label: s.label, paused });
  }
  for (const slot of slots) {
    if (slot.port !== 0 && !offer.some((s) => s.index === slot.index)) remove.push(slot.index);
  }
  return {
    add,
    remove,
    pauseChanges,
    rekey,
    choices,
    unchanged: add.length === 0 && remove.length === 0 && pauseChanges.length === 0 && rekey.length === 0,
  };
}

/** Our answer key for a slot: kept while the suite (so the key length) stays, else a fresh one. */
function localKeyFor(prev: Slot | undefined, c: Choice, newKey: typeof newLocalKey): SecretKey | null {
  if (c.crypto === null) return null;
  const old = prev?.choice?.crypto;
  if (prev?.localKey && old && old.suite === c.crypto.suite) return prev.localKey;
  return newKey(c.crypto.suite);
}

/**
 * The slots after an offer was applied: `addedPorts` are the ports of `plan.add` in order. A kept
 * stream keeps its port (RFC 3264 §8.3.1 lets an answerer keep its port) and the payload types
 * the new offer still carries; a label changes with the offer, since a label means something only
 * within the message carrying it.
 */
export function applyPlan(
  slots: readonly Slot[],
  offer: readonly OfferedStream[],
  plan: OfferPlan,
  addedPorts: readonly number[],
  newKey: typeof newLocalKey = newLocalKey,
): Slot[] {
  const out: Slot[] = [];
  for (const s of offer) {
    const prev = slots.find((x) => x.index === s.index);
    const addAt = plan.add.findIndex((a) => a.index === s.index);
    const paused = s.direction === 'inactive';
    const choice = plan.choices.get(s.index);
    if (addAt >= 0 && choice) {
      const port = addedPorts[addAt] ?? 0;
      out.push({
        index: s.index,
        label: s.label,
        port,
        choice,
        localKey: localKeyFor(undefined, choice, newKey),
        paused,
      });
    } else if (prev && prev.port !== 0 && choice && !plan.remove.includes(s.index)) {
      out.push({ ...prev, label: s.label, choice, localKey: localKeyFor(prev, choice, newKey), paused });
    } else {
      out.push({ index: s.index, label: s.label, port: 0, choice: null, localKey: null, paused });
    }
  }
  return out;
}

export function answerOf(slots: readonly Slot[]): AnswerStream[] {
  return slots.map((s) => ({
    index: s.index,
    port: s.port,
    choice: s.port === 0 ? null : s.choice,
    localKey: s.localKey,
  }));
}
