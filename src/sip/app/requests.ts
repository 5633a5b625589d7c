/**
 * What the SIPREC application reads from a request (Require, the SDP and metadata body, the local
 * address, how it says it is a recording session), the streams it records of an initial offer, and
 * the final responses it decides before any dialog exists (Reject).
 */
import type Srf from 'drachtio-srf';

import { ParseError, type CapacityError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { StreamOffer } from '../../recording/types.js';
import { usableMediaAddress } from './admission.js';
import { readMetadata, streamIdsOf } from './call-metadata.js';
import { MetadataLimitError, checkMetadataLimits, type RecordingMetadata } from './metadata.js';
import { UnsupportedBodyError, extractMetadataXml, extractSiprecBody } from './multipart.js';
import { chooseStream, parseOffer, type AnswerRules, type Choice, type OfferedStream } from './sdp.js';
import { streamOffer } from './session.js';

/** Require option-tags we implement (RFC 7866 section 6.1.1). */
const SUPPORTED_REQUIRE = new Set(['siprec']);

/** A final response decided before any dialog exists; every INVITE path ends in one. */
export class Reject extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${reason}`);
  }
}

/** A Warning header value (code 399) with `text` made safe for a quoted string. */
export const warning = (text: string): string => `399 srs "${text.replace(/["\\\r\n]/g, ' ')}"`;

/** The 503 for a CapacityError: its own Retry-After when it has one, else `retryAfter`. */
export function capacityReject(err: CapacityError, retryAfter: string): Reject {
  return new Reject(503, 'Service Unavailable', {
    'Retry-After': err.retryAfterSeconds === undefined ? retryAfter : String(err.retryAfterSeconds),
    Warning: warning(err.message),
  });
}

/** 413 for metadata over METADATA_LIMITS (src/sip/app/metadata.ts), its Warning naming the limit. */
function metadataReject(err: MetadataLimitError): Reject {
  return new Reject(413, 'Request Entity Too Large', { Warning: warning(err.message) });
}

/** The request's metadata (null: none, or unparsable and logged); 413 when it is over the limits. */
export function readMetadataOr413(xml: string | null, log: Logger): RecordingMetadata | null {
  try {
    return readMetadata(xml, log);
  } catch (err) {
    if (err instanceof MetadataLimitError) throw metadataReject(err);
    throw err;
  }
}

/** 413 when the metadata state after an update (merged) is over the limits. */
export function checkMergedMetadata(md: RecordingMetadata): void {
  try {
    checkMetadataLimits(md);
  } catch (err) {
    if (err instanceof MetadataLimitError) throw metadataReject(err);
    throw err;
  }
}

/** The local address and port the request arrived on, when drachtio says. */
export function localAddress(req: Srf.SrfRequest): { host: string; port: string } | null {
  const on = (req as unknown as { receivedOn?: string }).receivedOn;
  if (!on) return null;
  const i = on.lastIndexOf(':');
  return i > 0 ? { host: on.slice(0, i), port: on.slice(i + 1) } : null;
}

/** No address, or the unspecified one (0.0.0.0, ::). */
export function isUnspecified(addr: string | undefined): boolean {
  return !addr || addr === '0.0.0.0' || addr === '::';
}

/** 420 Bad Extension for a Require option-tag we do not implement. */
export function checkRequire(req: Srf.SrfRequest, also: readonly string[] = []): void {
  const value = req.has('Require') ? req.get('Require') : '';
  const unsupported = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t && !SUPPORTED_REQUIRE.has(t.toLowerCase()) && !also.includes(t.toLowerCase()));
  if (unsupported.length > 0) {
    throw new Reject(420, 'Bad Extension', { Unsupported: unsupported.join(', ') });
  }
}

/** The offer's streams, SDP and metadata XML; 415 or 400 when the body cannot be read. */
export function parseBody(req: Srf.SrfRequest): {
  offer: OfferedStream[];
  sdp: string;
  metadataXml: string | null;
} {
  const contentType = req.has('Content-Type') ? req.get('Content-Type') : undefined;
  try {
    const body = extractSiprecBody(contentType, req.body ?? '');
    return { offer: parseOffer(body.sdp), sdp: body.sdp, metadataXml: body.metadataXml };
  } catch (err) {
    if (err instanceof UnsupportedBodyError) {
      throw new Reject(415, 'Unsupported Media Type', { Accept: err.accept.join(', ') });
    }
    if (err instanceof ParseError) throw new Reject(400, 'Bad Request', { Warning: warning(err.message) });
    throw err;
  }
}

/**
 * An in-dialog request's body (re-INVITE, UPDATE, ACK): an offer or answer with the metadata sent
 * beside it, metadata alone (RFC 7866 section 7.1.2), or nothing. 400 or 415 when it is neither.
 */
export function parseInDialogBody(req: Srf.SrfRequest): {
  sdp: { offer: OfferedStream[]; sdp: string } | null;
  metadataXml: string | null;
} {
  const contentType = req.has('Content-Type') ? req.get('Content-Type') : undefined;
  const raw = req.body ?? '';
  if (raw.trim() === '') return { sdp: null, metadataXml: null };
  let sdpInside = false;
  try {
    sdpInside = extractSiprecBody(contentType, raw).sdp.trim() !== '';
  } catch {
    sdpInside = false;
  }
  if (sdpInside) {
    const b = parseBody(req);
    return { sdp: { offer: b.offer, sdp: b.sdp }, metadataXml: b.metadataXml };
  }
  let xml: string | null;
  try {
    xml = extractMetadataXml(contentType, raw);
  } catch (err) {
    throw new Reject(400, 'Bad Request', { Warning: warning((err as Error).message) });
  }
  if (xml === null)
    throw new Reject(415, 'Unsupported Media Type', {
      Accept: 'application/sdp, multipart/mixed, application/rs-metadata+xml',
    });
  return { sdp: null, metadataXml: xml };
}

/**
 * Per m-line: record it (codecs, SRTP key) or decline it (port 0); 488 with the reasons in a
 * Warning when nothing can be recorded (RFC 3261 §20.43, code 305: incompatible media format).
 */
export function planStreams(
  offer: OfferedStream[],
  md: RecordingMetadata | null,
  rules: AnswerRules,
  source = '',
): { record: StreamOffer[]; choices: Map<number, Choice> } {
  const record: StreamOffer[] = [];
  const choices = new Map<number, Choice>();
  const reasons: string[] = [];
  for (const s of offer) {
    const c = chooseStream(s, rules);
    if ('declined' in c) {
      if (!reasons.includes(c.declined)) reasons.push(c.declined);
      continue;
    }
    choices.set(s.index, c);
    record.push({
      ...streamOffer(s, c, s.label === null ? null : (streamIdsOf(md)[s.label] ?? null)),
      // Ingress trust: the leg latches on the SRC's media address (native/src/latch.h).
      remoteHost: usableMediaAddress(s.connection, source),
      remotePort: s.port,
    });
  }
  if (record.length === 0) {
    const why = `no stream can be recorded: ${reasons.join('; ')}`.replace(/["\\\r\n]/g, ' ').slice(0, 400);
    throw new Reject(488, 'Not Acceptable Here', { Warning: `305 srs "${why}"` });
  }
  return { record, choices };
}

/** How the request says it is a recording session (RFC 7866 or a vendor variant), for the log. */
export function recognisedBy(req: Srf.SrfRequest, metadataXml: string | null): string {
  const require = req.has('Require') ? req.get('Require').toLowerCase() : '';
  if (/(^|,)\s*siprec\s*(,|$)/.test(require)) return 'require-siprec';
  const contact = req.has('Contact') ? req.get('Contact') : '';
  if (/[;<]\s*\+sip\.src\b/i.test(contact))
    return contact.includes('>') && /\+sip\.src[^>]*>/i.test(contact) ? 'contact-src-in-uri' : 'contact-src';
  if (/;\s*src\b/i.test(contact)) return 'contact-src-broadworks';
  if (metadataXml !== null) return 'rs-metadata-body';
  return 'plain-sdp';
}

/** Standard reason phrases for the decline status a policy may be configured with. */
export const REASONS: Record<number, string> = {
  403: 'Forbidden',
  404: 'Not Found',
  480: 'Temporarily Unavailable',
  486: 'Busy Here',
  488: 'Not Acceptable Here',
  503: 'Service Unavailable',
  603: 'Decline',
};
