/**
 * Pure SIP message parser and serializer (RFC 3261 section 7 and 20). No I/O.
 *
 * Headers keep the spelling and raw line they arrived with, so that a message forwarded to the
 * application is byte-for-byte what the network sent except where we deliberately change it
 * (the top Via's rport/received, RFC 3581), as drachtio-server does. Header values (Via, name-addr,
 * URIs, CSeq) are parsed in header-values.ts.
 */
import { ParseError } from '../../errors.js';

export {
  getParam,
  getTag,
  parseCSeq,
  parseNameAddr,
  parseSipUri,
  parseVia,
  stringifyNameAddr,
  stringifyVia,
  type CSeq,
  type NameAddr,
  type Params,
  type SipUri,
  type Via,
} from './header-values.js';

export interface SipHeader {
  /** Name as written on the wire (may be a compact form such as `v`). */
  name: string;
  /** Value with folding undone and surrounding whitespace trimmed. */
  value: string;
  /** The original header text (without the final CRLF), used when serializing unchanged headers. */
  raw?: string;
}

interface SipMessageBase {
  version: string;
  headers: SipHeader[];
  body: Buffer;
}

export interface SipRequest extends SipMessageBase {
  type: 'request';
  method: string;
  uri: string;
}

export interface SipResponse extends SipMessageBase {
  type: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 7.3.3 and later RFCs' compact header forms. */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  a: 'accept-contact',
  u: 'allow-events',
  j: 'reject-contact',
  d: 'request-disposition',
  x: 'session-expires',
  y: 'identity',
  n: 'identity-info',
};

/** Conventional spelling of the headers we emit or reorder; others keep the app's spelling. */
const DISPLAY: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  'max-forwards': 'Max-Forwards',
  'record-route': 'Record-Route',
  'mime-version': 'MIME-Version',
  rseq: 'RSeq',
  rack: 'RAck',
};

/** Headers whose values may be comma-separated lists (RFC 3261 7.3.1). */
const LIST_HEADERS = new Set([
  'via',
  'route',
  'record-route',
  'contact',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'allow-events',
  'path',
]);

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const MAX_HEADERS = 512;

/** Lower-case canonical (long) name of a header: `v` and `VIA` both give `via`. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** Conventional display form of a canonical header name (`call-id` -> `Call-ID`). */
export function displayName(name: string): string {
  const c = canonicalName(name);
  const known = DISPLAY[c];
  if (known) return known;
  return c.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

function findHeaderEnd(buf: Buffer, from = 0): { end: number; sepLen: number } | null {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf === -1 && lf === -1) return null;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { end: crlf, sepLen: 4 };
  return { end: lf, sepLen: 2 };
}

function parseContentLength(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new ParseError(`invalid Content-Length: "${value.slice(0, 40)}"`);
  return Number(value);
}

/**
 * The body length a head declares (Content-Length or its compact form `l`), or undefined when it
 * names none. Framing a stream and parsing the message both read it here, from the same unfolded
 * header fields, so that they cannot disagree on where a message ends: a second Content-Length, or
 * a value other than 1 to 9 digits, is refused (ParseError).
 */
function declaredLength(headers: readonly SipHeader[]): number | undefined {
  const found = headers.filter((h) => canonicalName(h.name) === 'content-length');
  if (found.length > 1) throw new ParseError(`${found.length} Content-Length headers`);
  const cl = found[0];
  return cl ? parseContentLength(cl.value) : undefined;
}

/**
 * The head's start line and header fields (RFC 3261 7.3.1: a line that starts with whitespace
 * continues the field above it). `strict` refuses a line that is not a field; otherwise (framing
 * a stream, where the parser answers 400 afterwards) such a line is skipped.
 */
function parseHead(text: string, strict = true): { start: string; headers: SipHeader[] } {
  const lines = text.split(/\r?\n/);
  const start = lines.shift() ?? '';
  const headers: SipHeader[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    if (line[0] === ' ' || line[0] === '\t') {
      const prev = headers[headers.length - 1];
      if (!prev) {
        if (strict) throw new ParseError('header continuation line before any header');
        continue;
      }
      prev.value = (prev.value + ' ' + line.trim()).trim();
      prev.raw = `${prev.raw ?? ''}\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!TOKEN_RE.test(name)) {
      if (!strict) continue;
      if (colon <= 0) throw new ParseError(`malformed header line: "${line.slice(0, 60)}"`);
      throw new ParseError(`invalid header name: "${name.slice(0, 60)}"`);
    }
    headers.push({ name, value: line.slice(colon + 1).trim(), raw: line });
    if (headers.length > MAX_HEADERS && strict) throw new ParseError('too many headers');
  }
  return { start, headers };
}

/**
 * Parse one complete SIP message (a UDP datagram or a frame cut from a TCP stream).
 * Throws ParseError, and nothing else, on malformed input. With `ignoreContentLength` the body is
 * everything after the head (drachtio-srf computes Content-Length in UTF-16 units, not bytes).
 */
export function parseMessage(
  input: Buffer | string,
  opts: { ignoreContentLength?: boolean } = {},
): SipMessage {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  // Leading CRLFs are allowed before a message (RFC 3261 7.5).
  let offset = 0;
  while (offset < buf.length && (buf[offset] === 0x0d || buf[offset] === 0x0a)) offset++;
  if (offset >= buf.length) throw new ParseError('empty message');
  const he = findHeaderEnd(buf, offset);
  // A message with no body may lack the final blank line on UDP; accept the whole datagram as head.
  const headEnd = he ? he.end : buf.length;
  const bodyStart = he ? he.end + he.sepLen : buf.length;
  const { start, headers } = parseHead(buf.toString('utf8', offset, headEnd));

  let body = buf.subarray(bodyStart);
  const n = opts.ignoreContentLength ? undefined : declaredLength(headers);
  if (n !== undefined) {
    if (n > body.length) throw new ParseError(`body shorter than Content-Length (${body.length} < ${n})`);
    body = body.subarray(0, n);
  }

  const resp = /^SIP\/(\d+\.\d+)[ \t]+(\d{3})(?:[ \t]+(.*))?$/.exec(start);
  if (resp) {
    const status = Number(resp[2]);
    if (status < 100 || status > 699) throw new ParseError(`invalid status code ${status}`);
    return { type: 'response', version: resp[1] ?? '2.0', status, reason: resp[3] ?? '', headers, body };
  }
  const req = /^([A-Za-z0-9\-.!%*_+`'~]+) +(\S+) +SIP\/(\d+\.\d+)$/.exec(start);
  if (req) {
    return {
      type: 'request',
      method: (req[1] ?? '').toUpperCase(),
      uri: req[2] ?? '',
      version: req[3] ?? '2.0',
      headers,
      body,
    };
  }
  throw new ParseError(`invalid start line: "${start.slice(0, 80)}"`);
}

export type StreamFrame =
  { kind: 'incomplete' } | { kind: 'keepalive'; length: number } | { kind: 'message'; length: number };

/**
 * A stream that cannot be framed past this point. `headLength` bytes (the head, when it is
 * complete) name enough of the request to answer it with `status` before the connection closes.
 */
export class FramingError extends ParseError {
  constructor(
    message: string,
    readonly status: 400 | 513,
    readonly headLength: number,
  ) {
    super(message);
  }
}

/**
 * Cut the next message from a stream buffer (SIP over TCP, RFC 3261 18.3: Content-Length frames
 * the body). Leading CRLFs are keep-alives (RFC 5626 3.5.1). Throws FramingError when the stream
 * cannot be resynchronised (a bad or repeated length, an oversize message).
 */
export function frameStream(buf: Buffer, maxMessage = 1024 * 1024): StreamFrame {
  let i = 0;
  while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
  if (i > 0) return { kind: 'keepalive', length: i };
  if (buf.length === 0) return { kind: 'incomplete' };
  const he = findHeaderEnd(buf);
  if (!he) {
    if (buf.length > maxMessage) throw new FramingError('message head too large', 513, 0);
    return { kind: 'incomplete' };
  }
  const headLength = he.end + he.sepLen;
  let cl: number | undefined;
  try {
    cl = declaredLength(parseHead(buf.toString('latin1', 0, he.end), false).headers);
  } catch (err) {
    throw new FramingError((err as Error).message, 400, headLength);
  }
  // RFC 3261 18.3: Content-Length is mandatory on streams; without it assume no body.
  const length = headLength + (cl ?? 0);
  if (length > maxMessage) throw new FramingError(`message too large (${length} bytes)`, 513, headLength);
  if (buf.length < length) return { kind: 'incomplete' };
  return { kind: 'message', length };
}

/** Serialize. Headers with a `raw` form are written unchanged; the body is written as given. */
export function serializeMessage(msg: SipMessage): Buffer {
  const start =
    msg.type === 'request'
      ? `${msg.method} ${msg.uri} SIP/${msg.version}`
      : `SIP/${msg.version} ${msg.status} ${msg.reason}`;
  let head = start + '\r\n';
  for (const h of msg.headers) head += (h.raw ?? `${h.name}: ${h.value}`) + '\r\n';
  head += '\r\n';
  return msg.body.length ? Buffer.concat([Buffer.from(head, 'utf8'), msg.body]) : Buffer.from(head, 'utf8');
}

/** Split a header value on commas that are not inside quotes or angle brackets. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (quoted) {
      if (ch === '\\' && i + 1 < value.length) {
        cur += ch + (value[++i] as string);
        continue;
      }
      if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** First value of a header (the first list element for list headers), or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const c = canonicalName(name);
  const h = msg.headers.find((x) => canonicalName(x.name) === c);
  if (!h) return undefined;
  return LIST_HEADERS.has(c) ? splitList(h.value)[0] : h.value;
}

/** All values of a header across lines, list headers split on commas. */
export function getHeaders(msg: SipMessage, name: string): string[] {
  const c = canonicalName(name);
  const out: string[] = [];
  for (const h of msg.headers) {
    if (canonicalName(h.name) !== c) continue;
    if (LIST_HEADERS.has(c)) out.push(...splitList(h.value));
    else out.push(h.value);
  }
  return out;
}
