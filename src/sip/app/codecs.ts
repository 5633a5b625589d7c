/**
 * The audio formats the SIP side can describe to the media engine: an offered rtpmap (name, clock,
 * channels, fmtp) to a PayloadSpec, or null when the engine cannot decode it. Pure.
 */
import { DECODABLE, type CodecName, type PayloadSpec } from '../../recording/types.js';

export interface OfferedCodec {
  pt: number;
  name: string;
  rate: number;
  /** rtpmap encoding parameters (audio channels), when given. */
  channels?: number;
  /** The a=fmtp value for this payload type, when given. */
  fmtp?: string;
}

/**
 * rtpmap encoding names we can describe to the engine (case-insensitive), with the clock rates and
 * channel counts real SRCs use. G.722 says 8000 for its 16 kHz (RFC 3551 §4.5.2); Opus always
 * says 48000/2 (RFC 7587 §4.1).
 */
const FORMATS: Record<string, { codec: PayloadSpec['codec']; rates: number[]; channels: number[] }> = {
  pcmu: { codec: 'PCMU', rates: [8000], channels: [1] },
  pcma: { codec: 'PCMA', rates: [8000], channels: [1] },
  g722: { codec: 'G722', rates: [8000], channels: [1] },
  g729: { codec: 'G729', rates: [8000], channels: [1] },
  g729a: { codec: 'G729', rates: [8000], channels: [1] },
  opus: { codec: 'opus', rates: [48000], channels: [2, 1] },
  amr: { codec: 'AMR', rates: [8000], channels: [1] },
  'amr-wb': { codec: 'AMR-WB', rates: [16000], channels: [1] },
  ilbc: { codec: 'iLBC', rates: [8000], channels: [1] },
  'g726-32': { codec: 'G726-32', rates: [8000], channels: [1] },
  'telephone-event': { codec: 'telephone-event', rates: [8000, 16000, 48000], channels: [1] },
  cn: { codec: 'CN', rates: [8000], channels: [1] },
};

/** AMR options no decoder here takes (RFC 4867 §8.1: CRC, robust sorting, interleaving). */
const AMR_UNSUPPORTED = /(^|[;\s])(crc=1|robust-sorting=1|interleaving=\d+)/i;

/** Longest a=fmtp value handed to the engine (real ones are a few dozen characters). */
const MAX_FMTP = 1000;

/** The engine's description of an offered payload type, or null when it is not decodable. */
export function payloadSpecOf(c: OfferedCodec, decodable: readonly CodecName[]): PayloadSpec | null {
  const f = FORMATS[c.name.toLowerCase()];
  if (f === undefined || !f.rates.includes(c.rate) || !f.channels.includes(c.channels ?? 1)) return null;
  if (f.codec !== 'telephone-event' && f.codec !== 'CN' && !decodable.includes(f.codec)) return null;
  if ((f.codec === 'AMR' || f.codec === 'AMR-WB') && c.fmtp !== undefined && AMR_UNSUPPORTED.test(c.fmtp))
    return null;
  if (c.fmtp !== undefined && c.fmtp.length > MAX_FMTP) return null;
  const spec: PayloadSpec = { codec: f.codec, clockRate: c.rate };
  if (c.channels !== undefined) spec.channels = c.channels;
  if (c.fmtp !== undefined) spec.fmtp = c.fmtp;
  return spec;
}

/** The value of `name` in an a=fmtp parameter list (`a=1; b=2`), lower-cased, '' when absent (as codec.cc reads it). */
function fmtpValue(fmtp: string | undefined, name: string): string {
  for (const item of (fmtp ?? '').toLowerCase().split(';')) {
    const eq = item.indexOf('=');
    if (eq >= 0 && item.slice(0, eq).trim() === name) return item.slice(eq + 1).trim();
  }
  return '';
}

/**
 * Whether the engine decodes two specs of one payload type the same way. A leg's payload table is
 * fixed when the leg opens, and the only a=fmtp parameter it decodes by is AMR's and AMR-WB's
 * `octet-align` (RFC 4867 §4.4: the packing of every packet; crc, robust-sorting and interleaving
 * are refused by payloadSpecOf). iLBC's `mode` does not count: the engine tells 20 ms from 30 ms
 * frames by the payload length (native/src/codec.cc).
 */
export function sameDecoding(a: PayloadSpec, b: PayloadSpec): boolean {
  if (a.codec !== b.codec || a.clockRate !== b.clockRate) return false;
  if (a.codec === 'AMR' || a.codec === 'AMR-WB')
    return (fmtpValue(a.fmtp, 'octet-align') === '1') === (fmtpValue(b.fmtp, 'octet-align') === '1');
  return true;
}

/** Every codec name an SRS build could take (the default `decodable`): the engine's list. */
export const ALL_CODECS: readonly CodecName[] = DECODABLE;
