/**
 * SDES (RFC 4568): read the SRC's `a=crypto` lines, pick the one we take, and write the answer's.
 * Pure functions over the attribute text, except `newLocalKey` (crypto.randomBytes).
 *
 * Keys are secrets: they live in `SecretKey`, which prints and serializes as "[redacted]", so a
 * logged object or an error message can never carry one. Errors name the attribute's tag and
 * suite, never the inline value.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { SrtpParams, SrtpSuite } from '../../recording/types.js';

/** Key material that never leaves through JSON.stringify, util.inspect or template strings. */
export class SecretKey {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = Buffer.from(bytes);
  }
  /** The raw key||salt bytes (a copy). */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }
  get length(): number {
    return this.#bytes.length;
  }
  equals(other: SecretKey): boolean {
    return this.#bytes.equals(other.#bytes);
  }
  /** For the SDP we send (the answer's inline: value) and nothing else. */
  base64(): string {
    return this.#bytes.toString('base64');
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'SecretKey [redacted]';
  }
}

interface SuiteInfo {
  /** Master key + master salt bytes (RFC 4568 §6.2, RFC 6188 §7, RFC 7714 §12). */
  keySaltBytes: number;
  /** Preference: higher is stronger. */
  rank: number;
}

/** The suites the engine decrypts, strongest first by rank. */
export const SUITES: Readonly<Record<SrtpSuite, SuiteInfo>> = {
  AEAD_AES_256_GCM: { keySaltBytes: 32 + 12, rank: 6 },
  AEAD_AES_128_GCM: { keySaltBytes: 16 + 12, rank: 5 },
  AES_256_CM_HMAC_SHA1_80: { keySaltBytes: 32 + 14, rank: 4 },
  AES_256_CM_HMAC_SHA1_32: { keySaltBytes: 32 + 14, rank: 3 },
  AES_CM_128_HMAC_SHA1_80: { keySaltBytes: 16 + 14, rank: 2 },
  AES_CM_128_HMAC_SHA1_32: { keySaltBytes: 16 + 14, rank: 1 },
};

function isSuite(name: string): name is SrtpSuite {
  return Object.prototype.hasOwnProperty.call(SUITES, name);
}

export interface InlineKey {
  key: SecretKey;
  /** Master key lifetime in packets (RFC 4568 §6.1: decimal or 2^n), when given. */
  lifetime?: number;
  mki?: { value: number; length: number };
}

/** One readable `a=crypto` line. */
export interface CryptoLine {
  tag: number;
  suite: SrtpSuite;
  /** Every inline key of the line (several only with MKIs), in order. */
  keys: InlineKey[];
  unencryptedSrtp: boolean;
  unencryptedSrtcp: boolean;
  unauthenticatedSrtp: boolean;
  /** The session parameters echoed in the answer (RFC 4568 §6.3.x: they must match both ways). */
  echoParams: string[];
}

/** Why an `a=crypto` line is not usable (no key material in the text). */
export class CryptoLineError extends Error {}

const MAX_LIFETIME_POW = 48; // RFC 3711 §9.2: at most 2^48 SRTP packets per master key.

function parseLifetime(text: string): number {
  const pow = /^2\^(\d{1,2})$/.exec(text);
  if (pow) {
    const n = Number(pow[1]);
    if (n > MAX_LIFETIME_POW) throw new CryptoLineError(`key lifetime 2^${n} above 2^48`);
    return 2 ** n;
  }
  if (/^\d{1,15}$/.test(text) && Number(text) > 0) return Number(text);
  throw new CryptoLineError('unreadable key lifetime');
}

function parseInline(text: string, suite: SrtpSuite): InlineKey {
  if (!text.toLowerCase().startsWith('inline:')) throw new CryptoLineError('key method is not inline');
  const [b64 = '', ...rest] = text.slice('inline:'.length).split('|');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new CryptoLineError('key is not base64');
  const bytes = Buffer.from(b64, 'base64');
  const want = SUITES[suite].keySaltBytes;
  if (bytes.length !== want) {
    throw new CryptoLineError(`${suite} needs a ${want}-byte key||salt, the line has ${bytes.length}`);
  }
  const out: InlineKey = { key: new SecretKey(bytes) };
  bytes.fill(0);
  for (const part of rest) {
    const mki = /^(\d{1,10}):(\d{1,3})$/.exec(part);
    if (mki && out.mki === undefined) {
      const value = Number(mki[1]);
      const length = Number(mki[2]);
      // RFC 4568 §6.1 allows 1..128 bytes (its own example says 1:32); the engine takes 1..4,
      // which is what SRCs send.
      if (length < 1 || length > 4)
        throw new CryptoLineError(`MKI length ${length} not supported (1..4 bytes)`);
      if (value >= 2 ** (8 * length)) throw new CryptoLineError('MKI value does not fit its length');
      out.mki = { value, length };
    } else if (!part.includes(':') && out.lifetime === undefined && out.mki === undefined) {
      out.lifetime = parseLifetime(part);
    } else {
      throw new CryptoLineError('unreadable key parameters');
    }
  }
  return out;
}

/**
 * Reads one `a=crypto` value (`<tag> <suite> <key-params> [<session-params>]`, RFC 4568 §9.1).
 * Throws CryptoLineError for a line we cannot use: unknown suite, bad key length, KDR other than 0
 * (libsrtp derives once), FEC_* or an unknown session parameter (§6.3: the answerer must refuse a
 * line whose parameters it does not support).
 */
export function parseCryptoLine(value: string): CryptoLine {
  const fields = value.trim().split(/\s+/);
  const [tagText = '', suiteName = '', keyParams = '', ...sessionParams] = fields;
  if (!/^\d{1,9}$/.test(tagText)) throw new CryptoLineError('tag is not a 1-9 digit number');
  const tag = Number(tagText);
  if (!isSuite(suiteName))
    throw new CryptoLineError(`tag ${tag}: suite ${suiteName.slice(0, 40)} not supported`);
  const keys = keyParams.split(';').map((k) => parseInline(k, suiteName));
  const line: CryptoLine = {
    tag,
    suite: suiteName,
    keys,
    unencryptedSrtp: false,
    unencryptedSrtcp: false,
    unauthenticatedSrtp: false,
    echoParams: [],
  };
  for (const p of sessionParams) {
    if (p === 'UNENCRYPTED_SRTP') line.unencryptedSrtp = true;
    else if (p === 'UNENCRYPTED_SRTCP') line.unencryptedSrtcp = true;
    else if (p === 'UNAUTHENTICATED_SRTP') line.unauthenticatedSrtp = true;
    else if (p === 'KDR=0') continue;
    else if (/^WSH=\d{1,6}$/.test(p))
      continue; // window size hint: a hint (§6.3.7)
    else throw new CryptoLineError(`tag ${tag}: session parameter ${p.slice(0, 20)} not supported`);
    line.echoParams.push(p);
  }
  if (line.unauthenticatedSrtp && suiteName.startsWith('AEAD_')) {
    throw new CryptoLineError(`tag ${tag}: UNAUTHENTICATED_SRTP with an AEAD suite`);
  }
  return line;
}

/** Every `a=crypto` value of an m-line, read: the usable lines and how many were refused. */
export function readCryptoLines(values: readonly string[]): { lines: CryptoLine[]; refused: string[] } {
  const lines: CryptoLine[] = [];
  const refused: string[] = [];
  for (const v of values) {
    try {
      const line = parseCryptoLine(v);
      if (!lines.some((l) => l.tag === line.tag)) lines.push(line);
    } catch (err) {
      if (!(err instanceof CryptoLineError)) throw err;
      refused.push(err.message);
    }
  }
  return { lines, refused };
}

/** The strongest usable line (GCM-256 > GCM-128 > AES256-80 > AES256-32 > AES128-80 > AES128-32); first on ties. */
export function pickCrypto(lines: readonly CryptoLine[]): CryptoLine | null {
  let best: CryptoLine | null = null;
  for (const l of lines) if (best === null || SUITES[l.suite].rank > SUITES[best.suite].rank) best = l;
  return best;
}

/**
 * The engine's parameters for what the SRC sends: its own key (RFC 4568 §6.1, each side encrypts
 * with the key it offered). With several MKI keys the first is used; packets under another MKI
 * fail authentication and are counted.
 */
export function srtpParamsOf(line: CryptoLine): SrtpParams {
  const first = line.keys[0] as InlineKey;
  const p: SrtpParams = { suite: line.suite, keySalt: first.key.bytes() };
  if (first.mki) p.mki = { ...first.mki };
  if (line.unencryptedSrtp) p.unencryptedSrtp = true;
  if (line.unencryptedSrtcp) p.unencryptedSrtcp = true;
  if (line.unauthenticatedSrtp) p.unauthenticatedSrtp = true;
  return p;
}

/** Same SRTP context: same suite, key, MKI and session parameters. */
export function sameCrypto(a: CryptoLine, b: CryptoLine): boolean {
  const ka = a.keys[0] as InlineKey;
  const kb = b.keys[0] as InlineKey;
  return (
    a.suite === b.suite &&
    ka.key.equals(kb.key) &&
    ka.mki?.value === kb.mki?.value &&
    ka.mki?.length === kb.mki?.length &&
    a.unencryptedSrtp === b.unencryptedSrtp &&
    a.unencryptedSrtcp === b.unencryptedSrtcp &&
    a.unauthenticatedSrtp === b.unauthenticatedSrtp
  );
}

/** Our own fresh key for the answer (we never send media, but RFC 4568 §7.1.2 wants one). */
export function newLocalKey(suite: SrtpSuite, random: (n: number) => Buffer = randomBytes): SecretKey {
  const bytes = random(SUITES[suite].keySaltBytes);
  const key = new SecretKey(bytes);
  bytes.fill(0);
  return key;
}

/** The answer's `a=crypto` value: the chosen tag and suite, our key, the offer's session params. */
export function answerCryptoValue(line: CryptoLine, local: SecretKey): string {
  return [String(line.tag), line.suite, `inline:${local.base64()}`, ...line.echoParams].join(' ');
}
