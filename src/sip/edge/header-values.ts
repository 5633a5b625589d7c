/**
 * Pure parsers and serializers of SIP header values (RFC 3261 section 19 and 20): parameters, Via,
 * name-addr (From, To, Contact, Route), SIP URIs and CSeq. No I/O; malformed input throws ParseError.
 */
import { ParseError } from '../../errors.js';

export type Params = [string, string | undefined][];

function parseParams(s: string): Params {
  const out: Params = [];
  for (const part of splitParams(s)) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq === -1) out.push([p.toLowerCase(), undefined]);
    else out.push([p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()]);
  }
  return out;
}

function splitParams(s: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let cur = '';
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === ';' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function getParam(params: Params, name: string): string | undefined {
  const p = params.find(([k]) => k === name);
  return p ? (p[1] ?? '') : undefined;
}

function stringifyParams(params: Params): string {
  return params.map(([k, v]) => (v === undefined ? `;${k}` : `;${k}=${v}`)).join('');
}

export interface Via {
  protocol: string;
  transport: string;
  host: string;
  port?: number;
  params: Params;
}

function splitHostPort(hp: string): { host: string; port?: number } {
  let host: string;
  let portStr: string | undefined;
  if (hp.startsWith('[')) {
    const close = hp.indexOf(']');
    if (close === -1) throw new ParseError(`invalid IPv6 reference: "${hp.slice(0, 60)}"`);
    host = hp.slice(1, close);
    const rest = hp.slice(close + 1);
    if (rest) {
      if (!rest.startsWith(':')) throw new ParseError(`invalid host:port: "${hp.slice(0, 60)}"`);
      portStr = rest.slice(1);
    }
  } else {
    const colon = hp.lastIndexOf(':');
    host = colon === -1 ? hp : hp.slice(0, colon);
    portStr = colon === -1 ? undefined : hp.slice(colon + 1);
  }
  if (!host || /[\s<>"]/.test(host)) throw new ParseError(`invalid host: "${hp.slice(0, 60)}"`);
  if (portStr === undefined) return { host };
  if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535) {
    throw new ParseError(`invalid port: "${portStr.slice(0, 20)}"`);
  }
  return { host, port: Number(portStr) };
}

function joinHostPort(host: string, port?: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** Parse one Via value: `SIP/2.0/UDP host:port;branch=...`. */
export function parseVia(value: string): Via {
  const m = /^\s*([^/\s]+)\s*\/\s*([^/\s]+)\s*\/\s*([^\s]+)\s+([^;]+)(.*)$/.exec(value);
  if (!m) throw new ParseError(`invalid Via: "${value.slice(0, 80)}"`);
  const { host, port } = splitHostPort((m[4] ?? '').trim());
  const via: Via = {
    protocol: `${m[1]}/${m[2]}`,
    transport: (m[3] ?? '').toUpperCase(),
    host,
    params: parseParams(m[5] ?? ''),
  };
  if (port !== undefined) via.port = port;
  return via;
}

export function stringifyVia(via: Via): string {
  return `${via.protocol}/${via.transport} ${joinHostPort(via.host, via.port)}${stringifyParams(via.params)}`;
}

export interface NameAddr {
  display: string;
  uri: string;
  params: Params;
}

/** Parse From/To/Contact/Route-style values: `"Name" <sip:a@b>;tag=x` or `sip:a@b;tag=x`. */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  const lt = v.indexOf('<');
  if (lt !== -1) {
    const gt = v.indexOf('>', lt);
    if (gt === -1) throw new ParseError(`unterminated '<' in "${v.slice(0, 80)}"`);
    return {
      display: v.slice(0, lt).trim(),
      uri: v.slice(lt + 1, gt).trim(),
      params: parseParams(v.slice(gt + 1).replace(/^\s*;/, '')),
    };
  }
  if (!v) throw new ParseError('empty address');
  // addr-spec form: any ';' parameters belong to the header, not the URI (RFC 3261 20.10).
  const semi = v.indexOf(';');
  return {
    display: '',
    uri: semi === -1 ? v : v.slice(0, semi).trim(),
    params: semi === -1 ? [] : parseParams(v.slice(semi + 1)),
  };
}

export function stringifyNameAddr(na: NameAddr): string {
  return `${na.display ? na.display + ' ' : ''}<${na.uri}>${stringifyParams(na.params)}`;
}

/** The `tag` parameter of a From/To value, or undefined. */
export function getTag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const t = getParam(parseNameAddr(value).params, 'tag');
    return t || undefined;
  } catch {
    return undefined;
  }
}

export interface SipUri {
  scheme: string;
  user?: string;
  host: string;
  port?: number;
  params: Params;
}

/** Parse a sip:/sips: URI enough to route to it (user, host, port, parameters). */
export function parseSipUri(uri: string): SipUri {
  const m = /^(sips?):(?:([^@]*)@)?([^;?]+)((?:;[^?]*)?)(?:\?.*)?$/i.exec(uri.trim());
  if (!m) throw new ParseError(`not a SIP URI: "${uri.slice(0, 80)}"`);
  const { host, port } = splitHostPort(m[3] ?? '');
  const out: SipUri = { scheme: (m[1] ?? 'sip').toLowerCase(), host, params: parseParams(m[4] ?? '') };
  if (m[2] !== undefined) out.user = m[2];
  if (port !== undefined) out.port = port;
  return out;
}

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string | undefined): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*$/.exec(value ?? '');
  if (!m) throw new ParseError(`invalid CSeq: "${(value ?? '').slice(0, 40)}"`);
  return { seq: Number(m[1]), method: (m[2] ?? '').toUpperCase() };
}

/**
 * Printable ASCII but `|`: what a Call-ID or a tag may hold here. The edge writes the dialog id
 * (`<Call-ID>;from-tag=<tag>`) into drachtio's `|`-separated control lines, so `|`, spaces, CR and
 * other controls must not get that far. RFC 3261 25.1 is stricter (a Call-ID is `word [ "@" word ]`,
 * a tag a `token`), but SRCs in the field send `=` (base64) and `;` in Call-IDs: those do no harm
 * to a control line and are served, so a call is not refused for what cannot hurt.
 */
const SAFE_RE = /^[\x21-\x7b\x7d\x7e]+$/;

export function isValidCallId(value: string): boolean {
  return SAFE_RE.test(value);
}

/** Whether a From or To tag is safe to carry in the dialog id (see SAFE_RE). */
export function isToken(value: string): boolean {
  return SAFE_RE.test(value);
}
