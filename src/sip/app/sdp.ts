/**
 * The SDP side of a SIPREC recording session: read the SRC's offer (one m-line per recorded stream,
 * RFC 7866 §8.1.1, each labelled per RFC 4574) and write the SRS's recvonly answer (RFC 3264 §6).
 * Pure functions over strings; sdp-transform does the line grammar.
 */
import { parse, write } from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { ParseError } from '../../errors.js';
import type { CodecName, PayloadSpec } from '../../recording/types.js';
import { ALL_CODECS, payloadSpecOf, type OfferedCodec } from './codecs.js';
import { answerCryptoValue, pickCrypto, readCryptoLines, type CryptoLine, type SecretKey } from './sdes.js';

export type { OfferedCodec };

export type Direction = 'sendonly' | 'recvonly' | 'sendrecv' | 'inactive';

export interface OfferedStream {
  /** Position of the m-line in the offer, from 0. */
  index: number;
  label: string | null;
  /** The m-line's media type: `audio`, `video`, `text`, `application`, ... */
  media: string;
  port: number;
  protocol: string;
  /** m-level direction, else session-level, else null (some SRCs send none; RFC 4566 default is sendrecv). */
  direction: Direction | null;
  /** m-level or session-level c= address. */
  connection: string | null;
  /** In offer order; static payload types without an rtpmap get their RFC 3551 names. */
  codecs: OfferedCodec[];
  telephoneEventPt: number | null;
  /** The usable a=crypto lines (RFC 4568), in offer order. */
  crypto: CryptoLine[];
  /** Why the other a=crypto lines cannot be used (no key material in the text). */
  cryptoRefused: string[];
}

/** SRS_SRTP: take SRTP or plain RTP, only SRTP, or only plain RTP. */
export type SrtpMode = 'accept' | 'require' | 'off';

export interface AnswerRules {
  srtp: SrtpMode;
  /** Codecs the media engine decodes. */
  decodable: readonly CodecName[];
}

/** What we record a stream with: the decodable payload types in the SRC's order and the SDES line. */
export interface Choice {
  payloads: { pt: number; spec: PayloadSpec }[];
  /** The a=crypto line taken; null = plain RTP. */
  crypto: CryptoLine | null;
}

export interface AnswerStream {
  index: number;
  /** 0 = declined. */
  port: number;
  choice: Choice | null;
  /** Our own key for the answer's a=crypto (required with choice.crypto). */
  localKey?: SecretKey | null;
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
/** Plain RTP profiles (an a=crypto on them still means SDES: vendors do this). */
const PLAIN_RTP = new Set(['RTP/AVP', 'RTP/AVPF']);
/** SDES-keyed SRTP profiles (RFC 3711, RFC 5124); DTLS-SRTP (UDP/TLS/RTP/SAVP*) is not taken. */
const SECURE_RTP = new Set(['RTP/SAVP', 'RTP/SAVPF']);

export const DEFAULT_RULES: AnswerRules = Object.freeze({ srtp: 'accept', decodable: ALL_CODECS });

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
    const rtpmaps = new Map<number, { name: string; rate: number; channels?: number }>();
    for (const r of m.rtp ?? []) {
      if (typeof r.payload !== 'number' || typeof r.codec !== 'string' || rtpmaps.has(r.payload)) continue;
      const rate = typeof r.rate === 'number' ? r.rate : (STATIC_PT[r.payload]?.rate ?? 8000);
      const channels = Number(r.encoding);
      rtpmaps.set(
        r.payload,
        Number.isInteger(channels) && channels > 0
          ? { name: r.codec, rate, channels }
          : { name: r.codec, rate },
      );
    }
    const fmtps = new Map<number, string>();
    for (const f of m.fmtp ?? []) {
      if (typeof f.payload === 'number' && typeof f.config === 'string' && !fmtps.has(f.payload))
        fmtps.set(f.payload, f.config.trim());
    }
    const codecs: OfferedStream['codecs'] = [];
    let telephoneEventPt: number | null = null;
    for (const pt of payloadList(m)) {
      const known = rtpmaps.get(pt) ?? STATIC_PT[pt];
      if (known === undefined) continue; // dynamic type without rtpmap: cannot be used
      const codec: OfferedCodec = { pt, ...known };
      const fmtp = fmtps.get(pt);
      if (fmtp !== undefined && fmtp !== '') codec.fmtp = fmtp;
      codecs.push(codec);
      // RFC 4733 events; prefer the 8 kHz clock of the G.711 stream they ride with.
      if (known.name.toLowerCase() === 'telephone-event') {
        const current = telephoneEventPt === null ? undefined : rtpmaps.get(telephoneEventPt);
        if (current === undefined || (current.rate !== 8000 && known.rate === 8000)) telephoneEventPt = pt;
      }
    }
    // RFC 4568 §9.1: a=crypto:<tag> <suite> <key-params> [<session-params>]
    const { lines: crypto, refused: cryptoRefused } = readCryptoLines(
      (m.crypto ?? []).map((c) =>
        [String(c.id), String(c.suite ?? ''), String(c.config ?? ''), String(c.sessionConfig ?? '')]
          .join(' ')
          .trim(),
      ),
    );
    const direction =
      m.direction !== undefined && DIRECTIONS.has(m.direction) ? m.direction : sessionDirection;
    return {
      index,
      label: m.label === undefined || m.label === null ? null : String(m.label),
      media: m.type,
      port,
      protocol: String(m.protocol),
      direction,
      connection: m.connection?.ip || sessionConnection,
      codecs,
      telephoneEventPt,
      crypto,
      cryptoRefused,
    };
  });
}

/**
 * How to record a stream, or why it is declined: the decodable payload types in the SRC's order
 * (RFC 3264 §6.1: the answer keeps the offer's preference), the strongest usable a=crypto line
 * (RFC 4568 §7.1.1), under the SRS_SRTP mode. SAVP with no usable crypto line is declined (we
 * could not decrypt it); plain RTP/AVP carrying a=crypto is SDES-keyed too (vendors do this).
 */
export function chooseStream(
  s: OfferedStream,
  rules: AnswerRules = DEFAULT_RULES,
): Choice | { declined: string } {
  if (s.port === 0) return { declined: 'stream disabled (port 0)' };
  if (s.media.toLowerCase() !== 'audio')
    return { declined: `m=${s.media.slice(0, 20)} is not recorded (audio streams only)` };
  const profile = s.protocol.toUpperCase();
  const secure = SECURE_RTP.has(profile);
  if (!secure && !PLAIN_RTP.has(profile))
    return { declined: `transport ${s.protocol.slice(0, 40)} not supported` };
  let crypto: CryptoLine | null = null;
  if (rules.srtp === 'off') {
    if (secure) return { declined: 'SRTP offered but SRTP is turned off here (SRS_SRTP=off)' };
  } else {
    crypto = pickCrypto(s.crypto);
    const why = s.cryptoRefused.length > 0 ? `: ${s.cryptoRefused.join('; ')}` : '';
    if (secure && crypto === null) return { declined: `${s.protocol} without a usable a=crypto line${why}` };
    if (crypto === null && rules.srtp === 'require')
      return { declined: `plain RTP not accepted (SRS_SRTP=require)${why}` };
  }
  const payloads: Choice['payloads'] = [];
  for (const c of s.codecs) {
    const spec = payloadSpecOf(c, rules.decodable);
    if (spec !== null) payloads.push({ pt: c.pt, spec });
  }
  if (!payloads.some((p) => p.spec.codec !== 'telephone-event' && p.spec.codec !== 'CN')) {
    const offered = [...new Set(s.codecs.map((c) => `${c.name}/${c.rate}`))].join(' ') || 'none';
    return {
      declined: `no decodable codec offered (offered: ${offered.slice(0, 120)}; decodable: ${rules.decodable.join(' ')})`,
    };
  }
  return { payloads, crypto };
}

/** chooseStream without the reason: null when the stream is declined. */
export function chooseCodec(s: OfferedStream, rules: AnswerRules = DEFAULT_RULES): Choice | null {
  const c = chooseStream(s, rules);
  return 'declined' in c ? null : c;
}

/** The audio codec names of a choice, in order, without repeats (catalogue: "G729,PCMU"). */
export function codecNames(c: Choice): string {
  const names: string[] = [];
  for (const p of c.payloads) {
    if (p.spec.codec === 'telephone-event' || p.spec.codec === 'CN') continue;
    if (!names.includes(p.spec.codec)) names.push(p.spec.codec);
  }
  return names.join(',');
}

/** The canonical rtpmap encoding name for a spec (RFC 3551, RFC 7587, RFC 4867, RFC 3952). */
function rtpmapName(spec: PayloadSpec): string {
  return spec.codec;
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
 * (inactive when the offer was inactive), every decodable payload type of the offer in its order
 * with its rtpmap and fmtp, and for SRTP the chosen a=crypto tag and suite with our own key. A stream missing
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
        base.payloads = String(payloadList(m)[0] ?? wanted?.choice?.payloads[0]?.pt ?? 0);
        return base;
      }
      const { choice } = wanted;
      base.port = wanted.port;
      for (const { pt, spec } of choice.payloads) {
        const rtp: MediaDescription['rtp'][number] = {
          payload: pt,
          codec: rtpmapName(spec),
          rate: spec.clockRate,
        };
        if (spec.channels !== undefined && spec.channels > 1) rtp.encoding = spec.channels;
        base.rtp.push(rtp);
        // Echo the SRC's format parameters (AMR octet-align, iLBC mode, G.729 annexb, events).
        const fmtp = spec.fmtp ?? (spec.codec === 'telephone-event' ? '0-15' : undefined);
        if (fmtp !== undefined) base.fmtp.push({ payload: pt, config: fmtp });
      }
      base.payloads = choice.payloads.map((p) => p.pt).join(' ');
      if (choice.crypto !== null) {
        if (!wanted.localKey) throw new Error(`stream ${o.index}: SRTP answer without a local key`);
        const [tag, suite, ...rest] = answerCryptoValue(choice.crypto, wanted.localKey).split(' ');
        const crypto: NonNullable<MediaDescription['crypto']>[number] = {
          id: Number(tag),
          suite: suite as string,
          config: rest[0] as string,
        };
        if (rest.length > 1) crypto.sessionConfig = rest.slice(1).join(' ');
        base.crypto = [crypto];
      }
      base.direction = o.direction === 'inactive' ? 'inactive' : 'recvonly';
      return base;
    }),
  };
  return write(answer);
}
