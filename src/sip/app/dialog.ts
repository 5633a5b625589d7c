/**
 * One answered SIPREC dialog that records: its in-dialog offers (re-INVITE, UPDATE with SDP) and
 * metadata updates, one at a time; its session timer; and the end of its recording, by the SRC's
 * BYE or by the server (BYE to the SRC with a Reason).
 */
import type Srf from 'drachtio-srf';

import { CapacityError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RecordingPort } from '../../recording/types.js';
import { emptyMd, participantChanges, readMetadata, streamIdsOf } from './call-metadata.js';
import { mergeMetadata, participantsForLabels, type RecordingMetadata } from './metadata.js';
import { extractMetadataXml, extractSiprecBody } from './multipart.js';
import { Reject, capacityReject, checkRequire, parseBody, warning } from './requests.js';
import { buildAnswer, type AnswerRules, type OfferedStream } from './sdp.js';
import { answerOf, applyPlan, planOffer, type Slot } from './session.js';
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

  async function applyMetadata(xml: string | null): Promise<void> {
    if (xml === null) return;
    const update = readMetadata(xml, clog);
    if (!update) {
      addEvents([{ at: new Date(), type: 'metadata', detail: { xml, parsed: false } }]);
      return;
    }
    const merged = mergeMetadata(md, update);
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

  /** A new offer (re-INVITE or UPDATE with SDP): returns the answer. */
  async function handleOffer(next: {
    offer: OfferedStream[];
    sdp: string;
    metadataXml: string | null;
  }): Promise<string> {
    const plan = planOffer(slots, next.offer, rules);
    let added: number[] = [];
    if (!plan.unchanged) {
      // Metadata arriving with the offer names the new streams.
      const ids = streamIdsOf(
        next.metadataXml ? mergeMetadata(md, readMetadata(next.metadataXml, clog) ?? md ?? emptyMd()) : md,
      );
      plan.add = plan.add.map((a) => ({
        ...a,
        streamId: a.label === null ? null : (ids[a.label] ?? null),
      }));
      added = (
        await recording.updateStreams(id, {
          add: plan.add,
          remove: plan.remove,
          pause: plan.pauseChanges.filter((c) => c.paused).map((c) => c.index),
          resume: plan.pauseChanges.filter((c) => !c.paused).map((c) => c.index),
          rekey: plan.rekey,
        })
      ).ports;
    }
    slots = applyPlan(slots, next.offer, plan, added);
    await applyMetadata(next.metadataXml);
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
  dialog.on('modify', (mreq: Srf.SrfRequest, mres: Srf.SrfResponse) => {
    sessionTimer?.refresh();
    serial(async () => {
      try {
        checkRequire(mreq, d.timerInterval !== null ? ['timer'] : []);
        const answer = await handleOffer(parseBody(mreq));
        mres.send(200, {
          body: answer,
          headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
        });
      } catch (err) {
        fail(mres, err);
      }
    });
  });
  dialog.on('update', (ureq: Srf.SrfRequest, ures: Srf.SrfResponse) => {
    sessionTimer?.refresh();
    serial(async () => {
      try {
        const contentType = ureq.has('Content-Type') ? ureq.get('Content-Type') : undefined;
        const raw = ureq.body ?? '';
        let sdpInside = false;
        try {
          sdpInside = raw.trim() !== '' && extractSiprecBody(contentType, raw).sdp !== '';
        } catch {
          sdpInside = false;
        }
        if (sdpInside) {
          const answer = await handleOffer(parseBody(ureq));
          ures.send(200, {
            body: answer,
            headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
          });
          return;
        }
        let xml: string | null;
        try {
          xml = extractMetadataXml(contentType, raw);
        } catch (err) {
          throw new Reject(400, 'Bad Request', { Warning: warning((err as Error).message) });
        }
        if (xml === null && raw.trim() !== '') {
          throw new Reject(415, 'Unsupported Media Type', {
            Accept: 'application/sdp, multipart/mixed, application/rs-metadata+xml',
          });
        }
        await applyMetadata(xml);
        ures.send(200, { headers: timerHeaders });
      } catch (err) {
        fail(ures, err);
      }
    });
  });
}
