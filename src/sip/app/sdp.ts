/**
 * The SDP side of a SIPREC recording session: read the SRC's offer (one m-line per recorded stream,
 * RFC 7866 §8.1.1, each labelled per RFC 4574) and write the SRS's recvonly answer (RFC 3264 §6).
 * Pure functions over strings; sdp-transform does the line grammar.
 */
import { parse, write } from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { ParseError } from '../../errors.js';

export type Direction = 'sendonly' | 'recvonly' | 'sendrecv' | 'inactive';

export interface OfferedStream {
  /** Position of the m-line in the offer, from 0. */
  index: number;
  label: string | null;
  port: number;
  protocol: string;
  /** m-level direction, else session-level, else null (some SRCs send none; RFC 4566 default is sendrecv). */
  direction: Direction | null;
  /** m-level or session-level c= address. */
  connection: string | null;
  /** In offer order; static payload types without an rtpmap get their RFC 3551 names. */
  codecs: { pt: number; name: string; rate: number }[];
  telephoneEventPt: number | null;
}

export type Choice = { pt: number; codec: 'PCMU' | 'PCMA' };

export interface AnswerStream {
  index: number;
  /** 0 = declined. */
  port: number;
  choice: Choice | null;
  telephoneEventPt: number | null;
}

/** RFC 3551 §6 static audio payload types. */
const STATIC_PT: Record<number, { name: string; rate: number }> = {
  0: { name: 'PCMU', rate: 8000 },
  3: { name: 'GSM', rate: 8000 },
  4: { name: 'G723', rate: 8000 },
  5: { name: 'DVI4', rate: 8000 },
  6: { name: 'DVI4', rate: 16000 },
  7: { name: 'LPC', rate: 8000 },
  8: { name: 'PCMA', rate: 8000 },
  9: { name: 'G722', rate: 8000 },
  10: { name: 'L16', rate: 44100 },
  11: { name: 'L16', rate: 44100 },
  12: { name: 'QCELP', rate: 8000 },
  13: { name: 'CN', rate: 8000 },
  14: { name: 'MPA', rate: 90000 },
  15: { name: 'G728', rate: 8000 },
  16: { name: 'DVI4', rate: 11025 },
  17: { name: 'DVI4', rate: 22050 },
  18: { name: 'G729', rate: 8000 },
};

const DIRECTIONS = new Set<string>(['sendonly', 'recvonly', 'sendrecv', 'inactive']);
/** Plain RTP profiles; SAVP/SAVPF (SRTP) and non-RTP transports are not taken. */
const PLAIN_RTP = new Set(['RTP/AVP', 'RTP/AVPF']);

/**
 * Parsed SDP by text: an INVITE's offer is read for the plan and again for the answer (and SRCs
 * repeat identical offers), so a few recent parses are kept. Callers only read the result.
 */
const parsed = new Map<string, SessionDescription>();
const PARSED_KEPT = 128;

function parseSdp(sdp: string): SessionDescription {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new ParseError('empty SDP');
  const hit = parsed.get(sdp);
  if (hit) return hit;
  let session: SessionDescription;
  try {
    session = parse(sdp);
  } catch (err) {
    throw new ParseError(`unreadable SDP: ${(err as Error).message}`);
  }
  if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value as string);
  parsed.set(sdp, session);
  return session;
}

function asPort(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535 ? value : null;
}

function payloadList(media: MediaDescription): number[] {
  const out: number[] = [];
  for (const token of String(media.payloads ?? '').split(/\s+/)) {
    if (!/^\d{1,3}$/.test(token)) continue;
    const pt = Number(token);
    if (pt <= 127 && !out.includes(pt)) out.push(pt);
  }
  return out;
}

/**
 * Read an offer. Lenient about what real SRCs omit (no t=, no c=, no direction); throws ParseError when the
 * text is not SDP with at least one readable m-line.
 */
export function parseOffer(sdp: string): OfferedStream[] {
  const session = parseSdp(sdp);
  const media = session.media ?? [];
  if (media.length === 0) throw new ParseError('no m-line in SDP');
  const sessionDirection =
    session.direction !== undefined && DIRECTIONS.has(session.direction) ? session.direction : null;
  const sessionConnection = session.connection?.ip || null;
  return media.map((m, index) => {
    const port = asPort(m.port);
    if (typeof m.type !== 'string' || m.type === '' || port === null || !m.protocol) {
      throw new ParseError(`unreadable m-line ${index + 1}`);
    }
    const rtpmaps = new Map<number, { name: string; rate: number }>();
    for (const r of m.rtp ?? []) {
      if (typeof r.payload !== 'number' || typeof r.codec !== 'string' || rtpmaps.has(r.payload)) continue;
      const rate = typeof r.rate === 'number' ? r.rate : (STATIC_PT[r.payload]?.rate ?? 8000);
      rtpmaps.set(r.payload, { name: r.codec, rate });
    }
    const codecs: OfferedStream['codecs'] = [];
    let telephoneEventPt: number | null = null;
    for (const pt of payloadList(m)) {
      const known = rtpmaps.get(pt) ?? STATIC_PT[pt];
      if (known === undefined) continue; // dynamic type without rtpmap: cannot be used
      codecs.push({ pt, name: known.name, rate: known.rate });
      // RFC 4733 events; prefer the 8 kHz clock of the G.711 stream they ride with.
      if (known.name.toLowerCase() === 'telephone-event') {
        const current = telephoneEventPt === null ? undefined : rtpmaps.get(telephoneEventPt);
        if (current === undefined || (current.rate !== 8000 && known.rate === 8000)) telephoneEventPt = pt;
      }
    }
    const direction =
      m.direction !== undefined && DIRECTIONS.has(m.direction) ? m.direction : sessionDirection;
    return {
      index,
      label: m.label === undefined || m.label === null ? null : String(m.label),
      port,
      protocol: String(m.protocol),
      direction,
      connection: m.connection?.ip || sessionConnection,
      codecs,
      telephoneEventPt,
    };
  });
}

/**
 * The G.711 codec to record this stream in: the first of PCMU/PCMA (8 kHz) in the SRC's order. Null when
 * there is none (e.g. G.729 only), when the transport is not plain RTP (SRTP), for non-audio media and
 * for a stream the offer already disabled (port 0); the caller declines such streams, and answers 488 when
 * no stream is left.
 */
export function chooseCodec(s: OfferedStream): Choice | null {
  if (s.port === 0 || !PLAIN_RTP.has(s.protocol.toUpperCase())) return null;
  for (const c of s.codecs) {
    if (c.rate !== 8000) continue;
    const name = c.name.toUpperCase();
    if (name === 'PCMU' || name === 'PCMA') return { pt: c.pt, codec: name };
  }
  return null;
}

/** FNV-1a, so the o= session id stays the same across every answer in a dialog (RFC 3264 §8). */
function stableId(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The answer: one m-line per offered m-line in the same order (RFC 3264 §6), each label echoed, recvonly
 * (inactive when the offer was inactive), one codec plus telephone-event when offered. A stream missing
 * from `streams`, with port 0, or without a choice is declined with port 0 and the offer's first format.
 * The o= session id is derived from the offer's o= line, so it is stable across re-INVITEs while the
 * version comes from the caller.
 */
export function buildAnswer(
  offerSdp: string,
  streams: AnswerStream[],
  address: string,
  sessionVersion: number,
): string {
  const offer = parseSdp(offerSdp);
  const offered = parseOffer(offerSdp);
  const offerMedia = offer.media ?? [];
  const ipVer = address.includes(':') ? 6 : 4;
  const origin = offer.origin;
  const answer: SessionDescription = {
    version: 0,
    origin: {
      username: '-',
      sessionId: stableId(`${origin?.username ?? ''} ${origin?.sessionId ?? ''} ${origin?.address ?? ''}`),
      sessionVersion: Math.max(0, Math.floor(sessionVersion)),
      netType: 'IN',
      ipVer,
      address,
    },
    name: '-',
    connection: { version: ipVer, ip: address },
    timing: { start: 0, stop: 0 },
    media: offered.map((o) => {
      const m = offerMedia[o.index] as MediaDescription;
      const wanted = streams.find((s) => s.index === o.index);
      const base: MediaDescription = {
        type: m.type,
        port: 0,
        protocol: o.protocol,
        payloads: '',
        rtp: [],
        fmtp: [],
      };
      if (o.label !== null) base.label = o.label;
      if (wanted === undefined || wanted.port === 0 || wanted.choice === null) {
        base.payloads = String(payloadList(m)[0] ?? wanted?.choice?.pt ?? 0);
        return base;
      }
      const { choice } = wanted;
      base.port = wanted.port;
      base.rtp.push({ payload: choice.pt, codec: choice.codec, rate: 8000 });
      const payloads = [choice.pt];
      const te = wanted.telephoneEventPt;
      if (te !== null && te !== choice.pt) {
        payloads.push(te);
        base.rtp.push({ payload: te, codec: 'telephone-event', rate: 8000 });
        const fmtp = (m.fmtp ?? []).find((f) => f.payload === te);
        base.fmtp.push({ payload: te, config: fmtp?.config ?? '0-15' });
      }
      base.payloads = payloads.join(' ');
      base.direction = o.direction === 'inactive' ? 'inactive' : 'recvonly';
      return base;
    }),
  };
  return write(answer);
}
