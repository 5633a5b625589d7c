/**
 * A dialog the recording policy answered without recording (excludedAction `answer`: 200, every
 * stream on port 0). Its re-INVITEs and UPDATEs with SDP are answered like the INVITE was, one
 * answer line per offered m-line, all on port 0 (RFC 3264 section 6: the answer has as many m-lines
 * as the offer; drachtio-srf alone would answer with the first SDP). The session timer the 200
 * promised runs too, so a call whose BYE is lost does not keep its dialog for ever.
 */
import type Srf from 'drachtio-srf';

import type { Logger } from '../../log.js';
import { Reject, checkRequire, parseInDialogBody, warning } from './requests.js';
import { buildAnswer, type OfferedStream } from './sdp.js';
import { answerOf, type Slot } from './session.js';
import { SessionTimer } from './session-timer.js';

export interface ExcludedDialog {
  dialog: Srf.Dialog;
  log: Logger;
  mediaAddress: string;
  contact: string;
  /** Our answer to the INVITE (SDP version 1). */
  answer: string;
  /** The negotiated session timer's interval in seconds (null: none), and the headers of our 200s. */
  timerInterval: number | null;
  timerHeaders: Record<string, string>;
  /** SDES keys offered without TLS (src/sip/app/sdes-transport.ts): the 488 to answer, or null. */
  checkKeys?: (req: Srf.SrfRequest, offer: OfferedStream[]) => Reject | null;
}

export function runExcludedDialog(d: ExcludedDialog): void {
  const { dialog, log, mediaAddress, contact, timerHeaders } = d;
  let version = 1;
  const timer =
    d.timerInterval !== null
      ? new SessionTimer(d.timerInterval, () => {
          log.info('session timer expired on a call not recorded: BYE to the SRC');
          (
            dialog as unknown as {
              destroy(opts: { headers: Record<string, string> }, cb: (err?: Error) => void): void;
            }
          ).destroy({ headers: { Reason: 'SIP;cause=200;text="session-timer-expired"' } }, (err) => {
            if (err) log.warn({ err: err.message }, 'BYE to the SRC failed');
          });
        })
      : null;
  dialog.on('destroy', () => timer?.stop());

  // Our last answer: also the offer of our 200 to a re-INVITE without one (RFC 3261 section 14.2).
  let last = d.answer;
  /** 200 with a declined answer to the offer in `req`, or the error's final response. */
  const answer = (req: Srf.SrfRequest, res: Srf.SrfResponse): void => {
    timer?.refresh();
    try {
      checkRequire(req, d.timerInterval !== null ? ['timer'] : []);
      const body = parseInDialogBody(req);
      if (body.sdp === null && req.method === 'UPDATE') {
        res.send(200, { headers: timerHeaders }); // metadata alone, or a refresh
        return;
      }
      if (body.sdp !== null) {
        const keysRefused = d.checkKeys?.(req, body.sdp.offer);
        if (keysRefused) throw keysRefused;
        const slots: Slot[] = body.sdp.offer.map((s) => ({
          index: s.index,
          label: s.label,
          port: 0,
          choice: null,
          localKey: null,
          paused: false,
        }));
        const candidate = buildAnswer(body.sdp.sdp, answerOf(slots), mediaAddress, version);
        // RFC 3264 section 8: the version moves only when the answer changes.
        if (candidate !== last) last = buildAnswer(body.sdp.sdp, answerOf(slots), mediaAddress, ++version);
      }
      res.send(200, {
        body: last,
        headers: { Contact: contact, 'Content-Type': 'application/sdp', ...timerHeaders },
      });
    } catch (err) {
      const x =
        err instanceof Reject
          ? err
          : new Reject(500, 'Server Internal Error', { Warning: warning('internal error') });
      if (!(err instanceof Reject)) log.warn({ err }, 'in-dialog request of a call not recorded failed');
      if (!res.finalResponseSent) res.send(x.status, x.reason, { headers: x.headers });
    }
  };
  dialog.on('modify', answer);
  dialog.on('update', answer);
}
