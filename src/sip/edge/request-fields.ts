import { ParseError } from '../../errors.js';
import { isToken, isValidCallId } from './header-values.js';
import {
  canonicalName,
  getHeader,
  getHeaders,
  getTag,
  parseCSeq,
  parseNameAddr,
  type SipHeader,
  type SipRequest,
} from './message.js';

/**
 * The fields of a request from the network that the edge needs to answer it and to file it under a
 * dialog (RFC 3261 8.2 and 16.3 minimum: Via, From, To, Call-ID, CSeq), or a ParseError (400).
 *
 * The Call-ID and the From tag make the dialog id the edge writes, unescaped, into the
 * `|`-separated control lines to the app: a Call-ID `<victim's>;from-tag=<tag>|x` would have
 * drachtio-srf file the sender's dialog under another call's id. What could cut or split such a
 * line is refused (an ACK is dropped) before any of it reaches the app.
 */
export function dialogFields(req: SipRequest): {
  viaHeader: SipHeader;
  from: string;
  to: string;
  callId: string;
  cseq: ReturnType<typeof parseCSeq>;
} {
  const viaHeader = req.headers.find((h) => canonicalName(h.name) === 'via');
  if (!viaHeader) throw new ParseError('request without Via');
  const from = getHeader(req, 'from');
  const to = getHeader(req, 'to');
  const callId = getHeader(req, 'call-id');
  if (!from || !to || !callId) throw new ParseError('request lacks From, To or Call-ID');
  const cseq = parseCSeq(getHeader(req, 'cseq'));
  if (cseq.method !== req.method) throw new ParseError('CSeq method does not match the request');
  parseNameAddr(from);
  parseNameAddr(to);
  for (const name of ['call-id', 'from', 'to'])
    if (getHeaders(req, name).length > 1) throw new ParseError(`more than one ${name} header`);
  if (!isValidCallId(callId)) throw new ParseError('Call-ID holds characters that cannot be served');
  for (const [name, value] of [
    ['From', from],
    ['To', to],
  ] as const) {
    const tag = getTag(value);
    if (tag !== undefined && !isToken(tag))
      throw new ParseError(`${name} tag holds characters that cannot be served`);
  }
  return { viaHeader, from, to, callId, cseq };
}
