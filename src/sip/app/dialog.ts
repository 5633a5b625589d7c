/**
 * One answered SIPREC dialog that records: its in-dialog offers (re-INVITE, UPDATE with SDP) and
 * metadata updates, one at a time; its session timer; and the end of its recording, by the SRC's
 * BYE or by the server (BYE to the SRC with a Reason).
 */
import type Srf from 'drachtio-srf';

import { CapacityError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RecordingPort } from '../../recording/types.js';
import { participantChanges, streamIdsOf } from './call-metadata.js';
import { mergeMetadata, participantsForLabels, type RecordingMetadata } from './metadata.js';
import type { Refusal } from './admission.js';
import {
  Reject,
  capacityReject,
  checkMergedMetadata,
  checkRequire,
  parseInDialogBody,
  readMetadataOr413,
  warning,
} from './requests.js';
import { buildAnswer, parseOffer, type AnswerRules, type OfferedStream } from './sdp.js';
import { answerOf, applyPlan, planOffer, type OfferPlan, type Slot } from './session.js';
import { SessionTimer } from './session-timer.js';

export interface RecordingDialog {
  dialog: Srf.Dialog;
  recordingId: string;
  recording: RecordingPort;
  /** The call's logger. */
  log: Logger;
  rules: AnswerRules;
  /** The c= address of our answers. */
  mediaAddress: string;
  /** Our Contact header. */
  contact: string;
  /** Retry-After of a 503 when the recording service is over capacity and does not say when. */
  retryAfter: string;
  /** The metadata so far, the m-line slots and our answer (SDP version 1) after the INVITE. */
  md: RecordingMetadata | null;
  slots: Slot[];
  answer: string;
  /** The negotiated session timer's interval in seconds (null: none), and the headers of our 200s. */
  timerInterval: number | null;
  timerHeaders: Record<string, string>;
  /** Called once when the dialog ends: the session no longer counts for its source's admission. */
  untrack: () => void;
  /** SRS_MAX_STREAMS for each new offer: its refusal (488), or null. Unset: no limit. */
  checkStreams?: (streams: number) => Refusal | null;
  /** SDES keys offered without TLS (src/sip/app/sdes-transport.ts): the 488 to answer, or null. */
  checkKeys?: (req: Srf.SrfRequest, offer: OfferedStream[]) => Reject | null;
}

/** An update's metadata read and merged, before anything of the call changes. */
interface MetadataUpdate {
  xml: string;
  /** The parsed update, or null when it does not parse (kept raw only). */
  update: RecordingMetadata | null;
  /** What is known once the update is applied. */
  merged: RecordingMetadata | null;
}

/** Serves an answered dialog until it ends (see the file comment). */
export function runRecordingDialog(d: RecordingDialog): void {
  const { dialog, recording, rules, mediaAddress, contact, timerHeaders, retryAfter } = d;
  const clog = d.log;
  const id = d.recordingId;
  let md = d.md;
  let slots = d.slots;
  let version = 1;
  let lastAnswer = d.answer;

  const initiallyPaused = slots.filter((x) => x.port !== 0 && x.paused).map((x) => x.index);
  if (initiallyPaused.length > 0) {
    void recording
      .updateStreams(id, { add: [], remove: [], pause: initiallyPaused })
      .catch((err: unknown) => clog.warn({ err }, 'could not pause the inactive streams'));
  }

  /** The dialog ended: requests still queued behind its BYE get 487 (RFC 3261 section 15.1.2). */
  let gone = false;
  /**
   * The CSeq of the re-INVITE without an offer whose 200 carried ours, until its ACK brings the
   * SRC's answer (null: no offer of ours is open).
   */
  let offerSent: number | null = null;
  /** Offers of the SRC received and not yet answered. */
  let offersOpen = 0;

  /** Serialises in-dialog requests: each sees the state the previous one left. */
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<void>): void => {
    chain = chain
      .then(fn)
      .catch((err: unknown) => clog.error({ err }, 'in-dialog request or end of call failed'));
  };

  // Catalogue events are written in order in the background (retried while the database is away):
  // the answer to the SRC never waits on the database.
  const addEvents = (events: Parameters<typeof recording.addEvents>[1]): void => {
    void recording
      .addEvents(id, events)
      .catch((err: unknown) => clog.warn({ err }, 'call events not stored'));
  };

  /** Reads and merges an update's metadata; 413 over METADATA_LIMITS, with nothing changed. */
  function readUpdate(xml: string | null): MetadataUpdate | null {
    if (xml === null) return null;
    const update = readMetadataOr413(xml, clog);
    if (!update) return { xml, update: null, merged: md };
    const merged = mergeMetadata(md, update);
    checkMergedMetadata(merged);
    return { xml, update, merged };
  }

  async function applyMetadata(u: MetadataUpdate | null): Promise<void> {
    if (u === null) return;
    const { xml, update, merged } = u;
    if (!update || !merged) {
      addEvents([{ at: new Date(), type: 'metadata', detail: { xml, parsed: false } }]);
      return;
    }
    const events = participantChanges(md, merged, new Date());
    md = merged;
    const participants = participantsForLabels(merged);
    await recording.updateMetadata(id, {
      participants,
      streamIds: streamIdsOf(merged),
      metadataXml: xml,
      parsed: {
        dialect: update.dialect,
        dataMode: update.dataMode,
        participants: update.participants.map((p) => p.id),
        streams: update.streams.map((x) => x.id),
      },
      // A group named only now (an Oracle SBC sends the metadata in the re-INVITE after the answer).
      interactionId: merged.groups[0]?.slice(0, 256) ?? null,
    });
    addEvents(events);
  }

  /** Applies a plan through the recording service: the ports of the streams it adds. */
  async function changeStreams(plan: OfferPlan): Promise<number[]> {
    if (plan.unchanged) return [];
    return (
      await recording.updateStreams(id, {
        add: plan.add,
        remove: plan.remove,
        pause: plan.pauseChanges.filter((c) => c.paused).map((c) => c.index),
        resume: plan.pauseChanges.filter((c) => !c.paused).map((c) => c.index),
        rekey: plan.rekey,
      })
    ).ports;
  }

  /** A new offer (re-INVITE or UPDATE with SDP) in `req`: returns the answer. */
  async function handleOffer(
    req: Srf.SrfRequest,
    next: { offer: OfferedStream[]; sdp: string; metadataXml: string | null },
  ): Promise<string> {
    const keysRefused = d.checkKeys?.(req, next.offer);
    if (keysRefused) throw keysRefused;
    // SRS_MAX_STREAMS holds for the whole call, as for its INVITE: refused whole, nothing changes.
    const refused = d.checkStreams?.(next.offer.filter((s) => s.port !== 0).length);
    if (refused) throw new Reject(refused.status, refused.reason, refused.headers);
    const meta = readUpdate(next.metadataXml);
    const plan = planOffer(slots, next.offer, rules);
    if (!plan.unchanged) {
      // Metadata arriving with the offer names the new streams.
      const ids = streamIdsOf(meta?.merged ?? md);
      plan.add = plan.add.map((a) => ({
        ...a,
        streamId: a.label === null ? null : (ids[a.label] ?? null),
      }));
    }
    const added = await changeStreams(plan);
    slots = applyPlan(slots, next.offer, plan, added);
    await applyMetadata(meta);
    const candidate = buildAnswer(next.sdp, answerOf(slots), mediaAddress, version);
    // RFC 3264 §8: the version moves only when the answer changes.
    if (candidate !== lastAnswer) {
      version++;
      lastAnswer = buildAnswer(next.sdp, answerOf(slots), mediaAddress, version);
    }
    clog.info(
      {
        add: plan.add.length,
        remove: plan.remove.length,
        pause: plan.pauseChanges,
        rekey: plan.rekey.map((r) => ({ index: r.index, suite: r.srtp?.suite ?? 'plain RTP' })),
        unchanged: plan.unchanged,
      },
      'SIPREC offer in dialog',
    );
    return lastAnswer;
  }

  /**
   * The SRC's answer, in its ACK, to the offer we made in the 200 to a re-INVITE without one. It
   * may decline streams (port 0), pause or resume them, or change its SRTP key; it cannot add a
   * stream or a codec our offer did not have, and such lines leave their stream as it was.
   */
  async function applyAnswer(answer: OfferedStream[]): Promise<void> {
    if (answer.length !== slots.length) {
      clog.warn(
        { offered: slots.length, answered: answer.length },
        'the SRC answered our offer with another number of m-lines: the streams stay as they were',
      );
      return;
    }
    const plan = planOffer(slots, answer, rules);
    for (const a of plan.add) {
      const prev = slots.find((x) => x.index === a.index);
      plan.remove = plan.remove.filter((i) => i !== a.index);
      if (prev?.choice && prev.port !== 0) plan.choices.set(a.index, prev.choice);
      else plan.choices.delete(a.index);
    }
    plan.add = [];
    plan.unchanged = plan.remove.length === 0 && plan.pauseChanges.length === 0 && plan.rekey.length === 0;
    await changeStreams(plan);
    slots = applyPlan(slots, answer, plan, []);
    clog.info(
      { remove: plan.remove.length, pause: plan.pauseChanges, unchanged: plan.unchanged },
      'SIPREC answer in an ACK',
    );
  }

  const fail = (r: Srf.SrfResponse, err: unknown): void => {
    const x =
      err instanceof Reject
        ? err
        : err instanceof CapacityError
          ? capacityReject(err, retryAfter)
          : new Reject(500, 'Server Internal Error', { Warning: warning('internal error') });
    if (!(err instanceof Reject)) clog.warn({ err }, 'in-dialog request failed');
    if (!r.finalResponseSent) r.send(x.status, x.reason, { headers: x.headers });
  };

  // The server ends the call itself (RTP timeout, maximum duration, disk floor, session timer,
  // shutdown): BYE to the SRC, then the recording ends with that reason.
  let endReason = 'bye';
  let untrack = d.untrack;
  const terminate = (reason: string): void => {
    if (endReason !== 'bye') return;
    endReason = reason;
    clog.info({ recordingId: id, reason }, 'ending the call: BYE to the SRC');
    // RFC 3326 Reason: why the recorder hung up (shown in the SRC's logs).
    (
      dialog as unknown as {
        destroy(opts: { headers: Record<string, string> }, cb: (err?: Error) => void): void;
      }
    ).destroy({ headers: { Reason: `SIP;cause=200;text="${reason}"` } }, (err) => {
      if (err) clog.warn({ err: err.message }, 'BYE to the SRC failed');
    });
    // drachtio-srf's destroy() sends the BYE and drops the listeners without a 'destroy' event:
    // the session timer stops and the source's session slot is given back here.
    ended();
    serial(() => recording.end(id, reason));
  };
  recording.onTerminate?.(id, terminate);
  const sessionTimer =
    d.timerInterval !== null
      ? new SessionTimer(d.timerInterval, () => terminate('session-timer-expired'))
      : null;
  const ended = (): void => {
    gone = true;
    sessionTimer?.stop();
    untrack();
    untrack = () => undefined;
  };
  dialog.on('destroy', () => {
    ended();
    serial(() => recording.end(id, endReason));
  });
  // An ACK and a BYE in one read from drachtio: the dialog ended before this listener existed.
  if (!(dialog as unknown as { connected?: boolean }).connected) {
    ended();
    serial(() => recording.end(id, 'bye'));
  }

  const cseqOf = (req: Srf.SrfRequest): number => parseInt(req.get('CSeq'), 10);

  /** The body of an in-dialog request, or the error its final response is made of. */
  const bodyOf = (req: Srf.SrfRequest): ReturnType<typeof parseInDialogBody> | { error: unknown } => {
    try {
      return parseInDialogBody(req);
    } catch (error) {
      return { error };
    }
  };

  const onUpdate = (ureq: Srf.SrfRequest, ures: Srf.SrfResponse): void => {
    sessionTimer?.refresh();
    const body = bodyOf(ureq);
    const offers = 'sdp' in body && body.sdp !== null;
    // RFC 3311 section 5.2: an offer while ours awaits its answer gets 491; while an offer of the
    // SRC is still being answered, 500 with a Retry-After.
    if (offers && offerSent !== null) return fail(ures, new Reject(491, 'Request Pending'));
    if (offers && offersOpen > 0)
      return fail(ures, new Reject(500, 'Server Internal Error', { 'Retry-After': '1' }));
    if (offers) offersOpen++;
    serial(async () => {
      try {
        if (gone) throw new Reject(487, 'Request Terminated');
        if ('error' in body) throw body.error;
        if (body.sdp !== null) {
          const answer = await handleOffer(ureq, { ...body.sdp, metadataXml: body.metadataXml });
          ures.send(200, {
            body: answer,
            headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
          });
          return;
        }
        await applyMetadata(readUpdate(body.metadataXml));
        ures.send(200, { headers: timerHeaders });
      } catch (err) {
        fail(ures, err);
      } finally {
        if (offers) offersOpen--;
      }
    });
  };

  dialog.on('modify', (mreq: Srf.SrfRequest, mres: Srf.SrfResponse) => {
    sessionTimer?.refresh();
    const body = bodyOf(mreq);
    const offers = 'sdp' in body && body.sdp !== null;
    if (offers) offersOpen++;
    // A CANCEL before the answer: the edge has answered 487, so nothing may change (RFC 3261 9.2).
    let cancelled = false;
    mreq.on('cancel', () => (cancelled = true));
    // drachtio-srf hands an UPDATE that arrives while a re-INVITE is unanswered to the re-INVITE.
    (mreq as unknown as NodeJS.EventEmitter).on('update', onUpdate);
    serial(async () => {
      try {
        if (gone) throw new Reject(487, 'Request Terminated');
        if (cancelled) {
          // The embedded edge leaves a re-INVITE's 487 to us (drachtio-server sends its own, and
          // then this one is refused, harmlessly).
          clog.info('re-INVITE cancelled by the SRC before it was answered: nothing changes');
          throw new Reject(487, 'Request Terminated');
        }
        if ('error' in body) throw body.error;
        checkRequire(mreq, d.timerInterval !== null ? ['timer'] : []);
        if (offers && offerSent !== null) throw new Reject(491, 'Request Pending');
        let sdp: string;
        if (body.sdp !== null) sdp = await handleOffer(mreq, { ...body.sdp, metadataXml: body.metadataXml });
        else {
          // No offer (a session refresh, or metadata alone): ours is the media as it stands, and
          // the SRC answers it in the ACK (RFC 3261 section 14.2, RFC 3264 section 8). Our offer
          // carries our SRTP keys: over a transport SRS_SDES_REQUIRE_TLS refuses, the 488 an offer
          // bringing keys gets, and nothing changes.
          const keysRefused = d.checkKeys?.(mreq, parseOffer(lastAnswer));
          if (keysRefused) throw keysRefused;
          await applyMetadata(readUpdate(body.metadataXml));
          offerSent = cseqOf(mreq);
          sdp = lastAnswer;
        }
        mres.send(200, {
          body: sdp,
          headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
        });
      } catch (err) {
        fail(mres, err);
      } finally {
        if (offers) offersOpen--;
      }
    });
  });
  dialog.on('ack', (ack: Srf.SrfRequest) => {
    serial(async () => {
      // The ACK of that re-INVITE: not the INVITE's, which srf may hand over after the re-INVITE.
      if (offerSent === null || cseqOf(ack) !== offerSent || gone) return;
      offerSent = null;
      const body = bodyOf(ack);
      if (!('sdp' in body) || body.sdp === null) {
        clog.warn('the ACK carried no usable answer to our offer: the streams stay as they were');
        return;
      }
      // The answer may bring new keys: not taken over a transport SRS_SDES_REQUIRE_TLS refuses
      // (counted like a refused offer; an ACK has no response, so the refusal is logged here).
      if (d.checkKeys?.(ack, body.sdp.offer)) {
        clog.warn(
          { transport: (ack as unknown as { protocol?: string }).protocol ?? 'unknown' },
          'SRTP keys in an ACK over SIP without TLS: the answer is not applied, the streams keep their keys (SRS_SDES_REQUIRE_TLS)',
        );
        return;
      }
      await applyAnswer(body.sdp.offer);
    });
  });
  dialog.on('update', onUpdate);
}
