/**
 * Splitting a SIP message body into the parts a SIPREC INVITE carries (RFC 7866 §8: an SDP part and an
 * rs-metadata part inside multipart/mixed, RFC 2046 §5.1).
 *
 * Pure functions over strings. Written to survive what SRCs actually send (SIPREC-NOTES.md, "The body"):
 * parameters in any order and quoted or not, part headers in any case and in compact form, CRLF or bare LF,
 * preamble/epilogue, a missing close delimiter, and part content that itself contains blank lines.
 */
import { ParseError, UnsupportedError } from '../../errors.js';

export interface BodyPart {
  /** Lower-cased `type/subtype` without parameters; `text/plain` when the part has no Content-Type (RFC 2046 §5.1). */
  contentType: string;
  /** Content-Type parameters, names lower-cased. */
  params: Record<string, string>;
  /** First token of Content-Disposition, lower-cased (`recording-session`, `session`), or null. */
  disposition: string | null;
  /** Part headers, names lower-cased, compact forms expanded; a repeated header keeps the first value. */
  headers: Record<string, string>;
  body: string;
}

export interface SiprecBody {
  sdp: string;
  metadataXml: string | null;
  /** Content types of the parts that were neither the SDP nor the metadata (e.g. Cisco `application/gtd`). */
  otherParts: string[];
}

/** The body's type is not one the SRS takes: answer 415 with `Accept: <accept joined by ", ">`. */
export class UnsupportedBodyError extends UnsupportedError {
  readonly accept: string[];
  constructor(message: string, accept: string[] = [...ACCEPTED_TYPES]) {
    super(message);
    this.accept = accept;
  }
}

const ACCEPTED_TYPES = ['application/sdp', 'multipart/mixed'] as const;
const METADATA_TYPES = new Set(['application/rs-metadata+xml', 'application/rs-metadata']);

/** SIP compact header forms that can appear on a body part (RFC 3261 §7.3.3, §20). */
const COMPACT = new Map([
  ['c', 'content-type'],
  ['e', 'content-encoding'],
  ['l', 'content-length'],
]);

// RFC 3261 token characters; a header name is a token followed by optional whitespace and a colon.
const HEADER_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:(.*)$/;

/**
 * `type/subtype; name=value; name="quoted; value"` → lower-cased type and parameters.
 * Never throws: an empty or odd value gives whatever could be read (type '' when there is none).
 */
export function parseContentType(value: string): { type: string; params: Record<string, string> } {
  // A Map, then fromEntries: a parameter called `__proto__` or `constructor` is just a parameter.
  const params = new Map<string, string>();
  const segments = splitParams(value);
  const type = (segments.shift() ?? '')
    .trim()
    .toLowerCase()
    .replace(/\s*\/\s*/, '/');
  for (const segment of segments) {
    const eq = segment.indexOf('=');
    const name = (eq < 0 ? segment : segment.slice(0, eq)).trim().toLowerCase();
    if (name === '' || params.has(name)) continue;
    params.set(name, eq < 0 ? '' : unquote(segment.slice(eq + 1).trim()));
  }
  return { type, params: Object.fromEntries(params) };
}

/** Split on `;` outside double quotes (a quoted boundary may contain `;`). */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (quoted && ch === '\\' && i + 1 < value.length) {
      current += ch + (value[i + 1] as string);
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
      current += ch;
    } else if (ch === ';' && !quoted) {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (value.startsWith('"')) return value.slice(1).replace(/\\(.)/g, '$1'); // unterminated quote: lenient
  return value;
}

interface Line {
  /** The line without its terminator. */
  text: string;
  /** Offset of the line's first character. */
  start: number;
  /** Offset just past the line's terminator (CRLF, LF or a lone CR). */
  next: number;
  /** Offset of the terminator itself (== next at end of input). */
  end: number;
}

function* lines(body: string): Generator<Line> {
  let start = 0;
  while (start < body.length) {
    let end = start;
    while (end < body.length && body[end] !== '\n' && body[end] !== '\r') end++;
    let next = end;
    if (body[next] === '\r') next++;
    if (body[next] === '\n') next++;
    yield { text: body.slice(start, end), start, next, end };
    start = next;
  }
}

/**
 * Split a multipart body (RFC 2046 §5.1.1). The line break before a delimiter belongs to the delimiter, so
 * a part's body is exactly what was put in it. A missing close delimiter ends the last part at the end of
 * the body rather than losing it.
 */
export function parseMultipart(contentType: string, body: string): BodyPart[] {
  const { type, params } = parseContentType(contentType);
  if (!type.startsWith('multipart/')) throw new ParseError(`not a multipart type: ${type || '(none)'}`);
  const boundary = params['boundary'];
  if (boundary === undefined || boundary === '') throw new ParseError('no boundary');
  if (boundary.length > 200) throw new ParseError('boundary too long');
  const delimiter = `--${boundary}`;

  // Offsets of each part's content: from after its delimiter line to the line break before the next one.
  const spans: { start: number; end: number }[] = [];
  let openStart = -1;
  let closed = false;
  for (const line of lines(body)) {
    if (!line.text.startsWith(delimiter)) continue;
    const rest = line.text.slice(delimiter.length);
    const isClose = rest.startsWith('--') && rest.slice(2).trim() === '';
    // Transport padding (linear whitespace) may follow a delimiter; anything else means this is content.
    if (!isClose && rest.trim() !== '') continue;
    if (openStart >= 0) spans.push({ start: openStart, end: precedingBreak(body, line.start, openStart) });
    if (isClose) {
      closed = true;
      openStart = -1;
      break;
    }
    openStart = line.next;
  }
  if (openStart >= 0) spans.push({ start: openStart, end: body.length }); // lenient: no close delimiter
  if (spans.length === 0) {
    throw new ParseError(closed ? 'multipart body has no parts' : 'boundary not found in body');
  }
  return spans.map(({ start, end }) => parsePart(body.slice(start, end)));
}

/** The offset of the line break that ends just before `lineStart` (never before `floor`). */
function precedingBreak(body: string, lineStart: number, floor: number): number {
  let end = lineStart;
  if (end > floor && body[end - 1] === '\n') end--;
  if (end > floor && body[end - 1] === '\r') end--;
  return end;
}

function parsePart(raw: string): BodyPart {
  const headers = new Map<string, string>();
  let bodyStart = 0;
  let lastName: string | null = null;
  for (const line of lines(raw)) {
    if (line.text.trim() === '') {
      bodyStart = line.next; // the blank line that ends the headers
      break;
    }
    if ((line.text.startsWith(' ') || line.text.startsWith('\t')) && lastName !== null) {
      headers.set(lastName, `${headers.get(lastName) ?? ''} ${line.text.trim()}`); // folded (RFC 3261 §7.3.1)
      bodyStart = line.next;
      continue;
    }
    const m = HEADER_LINE.exec(line.text);
    if (!m) {
      // No blank line after the headers (seen from sloppy SRCs): the content starts here.
      bodyStart = line.start;
      break;
    }
    const short = (m[1] as string).toLowerCase();
    const name = COMPACT.get(short) ?? short;
    if (!headers.has(name)) headers.set(name, (m[2] as string).trim());
    lastName = name;
    bodyStart = line.next;
  }
  const ct = headers.get('content-type');
  const { type, params } = ct === undefined ? { type: 'text/plain', params: {} } : parseContentType(ct);
  const cd = headers.get('content-disposition');
  const disposition = cd === undefined ? null : parseContentType(cd).type || null;
  return {
    contentType: type,
    params,
    disposition,
    headers: Object.fromEntries(headers),
    body: raw.slice(bodyStart),
  };
}

/**
 * Pick the SDP and the rs-metadata out of a SIPREC request body.
 * - `multipart/*`: the first `application/sdp` part and the first rs-metadata part, in any order; other
 *   parts are listed in `otherParts` and otherwise ignored.
 * - `application/sdp` alone (Cisco CUBE network-based recording): metadataXml is null.
 * - no Content-Type but a body starting with `v=`: taken as SDP (lenient).
 * Throws ParseError when there is no usable SDP and UnsupportedBodyError for a type the SRS does not take.
 */
export function extractSiprecBody(contentType: string | undefined, body: string): SiprecBody {
  if (body.trim() === '') throw new ParseError('no SDP in request');
  const type = contentType === undefined ? '' : parseContentType(contentType).type;
  if (type === '') {
    if (/^\s*v=/.test(body)) return { sdp: body, metadataXml: null, otherParts: [] };
    throw new UnsupportedBodyError('body without Content-Type');
  }
  if (type === 'application/sdp') return { sdp: body, metadataXml: null, otherParts: [] };
  if (type.startsWith('multipart/')) {
    const parts = parseMultipart(contentType as string, body);
    let sdp: string | null = null;
    let metadataXml: string | null = null;
    const otherParts: string[] = [];
    for (const part of parts) {
      if (part.contentType === 'application/sdp' && sdp === null) sdp = part.body;
      else if (METADATA_TYPES.has(part.contentType) && metadataXml === null) metadataXml = part.body;
      else otherParts.push(part.contentType);
    }
    if (sdp === null) throw new ParseError('no SDP part in multipart body');
    if (sdp.trim() === '') throw new ParseError('empty SDP part');
    return { sdp, metadataXml, otherParts };
  }
  throw new UnsupportedBodyError(`unsupported body type ${type}`);
}

/**
 * The rs-metadata XML of a body that may carry metadata alone (an UPDATE or re-INVITE, RFC 7866 §7.1.2),
 * or null when there is none. Throws like extractSiprecBody for a multipart body that cannot be split.
 */
export function extractMetadataXml(contentType: string | undefined, body: string): string | null {
  if (contentType === undefined || body.trim() === '') return null;
  const type = parseContentType(contentType).type;
  if (METADATA_TYPES.has(type)) return body;
  if (!type.startsWith('multipart/')) return null;
  const part = parseMultipart(contentType, body).find((p) => METADATA_TYPES.has(p.contentType));
  return part === undefined ? null : part.body;
}
