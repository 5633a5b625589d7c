import { constants as bufferLimits } from 'node:buffer';
import { createDecipheriv, createHash, type Decipher, type Hash } from 'node:crypto';
import * as openpgp from 'openpgp';

/**
 * The one place that turns a stored OpenPGP file into its plaintext (the API's playback and
 * export, delivery, `srs recordings download`, re-encryption).
 *
 * A message of the shape src/pipeline/pgp.ts writes (Public-Key Encrypted Session Key packets,
 * then one SEIPD v1 packet around one binary Literal Data packet, definite or partial body
 * lengths) is read as it streams: openpgp.js only unwraps the session key (the PKESK packets);
 * node's crypto decrypts the rest (RFC 4880 5.13: AES-CFB with a zero IV, no resync), the
 * length octets are taken out, the Modification Detection Code is checked, and the plaintext
 * goes into one buffer allocated once at its final size while its SHA-256 is computed. So a read
 * costs about the plaintext in memory, not several copies of the message. Anything else (another
 * writer's compressed or signed message, an AEAD packet) is decrypted by openpgp.js from the
 * whole message, as before.
 */

export interface Decrypted {
  plain: Buffer;
  sha256Plain: string;
  sha256Cipher: string;
  /** How it was read: streamed here, or (another shape) by openpgp.js from the whole message. */
  via: 'stream' | 'openpgp';
}

/** The ciphertext: in memory, or a stream of it (a store's `get()` body) with its size. */
export type Ciphertext = Buffer | { body: AsyncIterable<Uint8Array>; size: number };

/** The message is damaged, truncated or altered, or the key does not open it. */
export class PgpDecryptError extends Error {
  override name = 'PgpDecryptError';
}

/** The ciphertext does not have the SHA-256 the caller expected (checked before anything else). */
export class CiphertextHashError extends Error {
  override name = 'CiphertextHashError';
}

/** Not the shape read here: openpgp.js reads the whole message instead. */
class OtherShape extends Error {}

const CIPHERS: Record<string, string> = {
  aes128: 'aes-128-cfb',
  aes192: 'aes-192-cfb',
  aes256: 'aes-256-cfb',
};
const BLOCK = 16;
/** The random prefix and its 2 repeated octets (RFC 4880 5.13). */
const PREFIX = BLOCK + 2;
/** The MDC packet: 0xD3, length 20, SHA-1 (RFC 4880 5.14). */
const MDC = 22;
/** A Buffer's ciphertext goes through in slices of this (subarrays, not copies). */
const SLICE = 1 << 20;
const EMPTY: Buffer = Buffer.alloc(0);

interface Length {
  length: number;
  partial: boolean;
  /** Octets the length (or the whole header) took. */
  size: number;
}

/** New-format body length octets at `at` (RFC 4880 4.2.2); null until they are all there. */
function bodyLength(b: Buffer, at: number): Length | null {
  if (at >= b.length) return null;
  const o = b[at] as number;
  if (o < 192) return { length: o, partial: false, size: 1 };
  if (o < 224)
    return at + 1 < b.length
      ? { length: ((o - 192) << 8) + (b[at + 1] as number) + 192, partial: false, size: 2 }
      : null;
  if (o < 255) return { length: 2 ** (o & 0x1f), partial: true, size: 1 };
  return at + 4 < b.length ? { length: b.readUInt32BE(at + 1), partial: false, size: 5 } : null;
}

/** A packet header at `at` (RFC 4880 4.2, both formats); null until it is all there. */
function packetHeader(b: Buffer, at: number): (Length & { tag: number }) | null {
  if (at >= b.length) return null;
  const t = b[at] as number;
  if (!(t & 0x80)) throw new OtherShape();
  if (t & 0x40) {
    const l = bodyLength(b, at + 1);
    return l && { ...l, tag: t & 0x3f, size: 1 + l.size };
  }
  if ((t & 3) === 3) throw new OtherShape(); // old format, indeterminate length
  const n = 1 << (t & 3);
  return at + n < b.length
    ? { tag: (t >> 2) & 0xf, length: b.readUIntBE(at + 1, n), partial: false, size: 1 + n }
    : null;
}

/** A packet body as it goes by: the length octets of each later part taken out (RFC 4880 4.2.2.4). */
class Body {
  #left: number;
  #last: boolean;
  #octets = EMPTY;
  done: boolean;

  constructor(first: Length) {
    this.#left = first.length;
    this.#last = !first.partial;
    this.done = this.#last && this.#left === 0;
  }

  /** Body bytes of `b` to `onBody`; returns what follows the packet (empty while it lasts). */
  push(b: Buffer, onBody: (part: Buffer) => void): Buffer {
    let at = 0;
    while (at < b.length && !this.done) {
      if (this.#left === 0) {
        this.#octets = Buffer.concat([this.#octets, b.subarray(at, at + 1)]);
        at += 1;
        const l = bodyLength(this.#octets, 0);
        if (!l) continue;
        this.#octets = EMPTY;
        this.#left = l.length;
        this.#last = !l.partial;
      } else {
        const n = Math.min(this.#left, b.length - at);
        onBody(b.subarray(at, at + n));
        at += n;
        this.#left -= n;
      }
      if (this.#left === 0 && this.#last) this.done = true;
    }
    return b.subarray(at);
  }
}

/** The chunks of `input`, hashed; kept (for openpgp.js) while `keep` holds. */
class Source {
  readonly hash = createHash('sha256');
  readonly kept: Buffer[] = [];
  keep = true;
  readonly #it: AsyncIterator<Uint8Array>;

  constructor(input: Ciphertext) {
    this.#it = Buffer.isBuffer(input)
      ? (async function* () {
          for (let at = 0; at < input.length; at += SLICE) yield input.subarray(at, at + SLICE);
        })()
      : input.body[Symbol.asyncIterator]();
  }

  async next(): Promise<Buffer | null> {
    const r = await this.#it.next();
    if (r.done) return null;
    const c = Buffer.isBuffer(r.value)
      ? r.value
      : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.hash.update(c);
    if (this.keep) this.kept.push(c);
    return c;
  }

  async drain(): Promise<void> {
    while (await this.next());
  }

  /** Stops reading early (a stream is destroyed). */
  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

/**
 * The plaintext of `input`, opened with `key`. `sha256Cipher`: the ciphertext must have this
 * SHA-256 (CiphertextHashError otherwise, whatever else is wrong with it). A damaged, truncated
 * or altered message throws PgpDecryptError; an error of the stream itself is thrown as it is.
 */
export async function decryptArtifact(
  input: Ciphertext,
  key: openpgp.PrivateKey,
  { sha256Cipher }: { sha256Cipher?: string } = {},
): Promise<Decrypted> {
  const src = new Source(input);
  const size = Buffer.isBuffer(input) ? input.length : input.size;
  const checkHash = () => {
    const got = src.hash.digest('hex');
    if (sha256Cipher !== undefined && got !== sha256Cipher)
      throw new CiphertextHashError(`the ciphertext does not match its SHA-256 (${got})`);
    return got;
  };
  try {
    let r: Omit<Decrypted, 'sha256Cipher' | 'via'>;
    try {
      r = await streamed(src, size, key);
    } catch (err) {
      if (err instanceof PgpDecryptError && sha256Cipher !== undefined) {
        src.keep = false;
        await src.drain();
        checkHash();
      }
      if (!(err instanceof OtherShape)) throw err;
      await src.drain();
      const cipher = Buffer.isBuffer(input) ? input : Buffer.concat(src.kept);
      src.kept.length = 0;
      const got = checkHash();
      return { ...(await withOpenpgp(cipher, key)), sha256Cipher: got, via: 'openpgp' };
    }
    try {
      return { ...r, sha256Cipher: checkHash(), via: 'stream' };
    } catch (err) {
      r.plain.fill(0);
      throw err;
    }
  } finally {
    await src.close();
  }
}

/** The whole message through openpgp.js (the shapes streamed() does not read). */
async function withOpenpgp(
  cipher: Buffer,
  key: openpgp.PrivateKey,
): Promise<Omit<Decrypted, 'sha256Cipher' | 'via'>> {
  let d: Uint8Array;
  try {
    const message = await openpgp.readMessage({ binaryMessage: cipher });
    d = (await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary' })).data as Uint8Array;
  } catch (err) {
    throw new PgpDecryptError(`openpgp.js cannot decrypt it: ${(err as Error).message}`);
  }
  const plain = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return { plain, sha256Plain: createHash('sha256').update(plain).digest('hex') };
}

const truncated = (what: string) => new PgpDecryptError(`the OpenPGP message is truncated (${what})`);

/** PKESK packets, then the SEIPD packet's header: the session key packets and what follows. */
async function sessionPackets(
  src: Source,
): Promise<{ pkesks: Buffer; seipd: Length; rest: Buffer; offset: number }> {
  let b = EMPTY;
  for (;;) {
    let at = 0;
    for (;;) {
      const h = packetHeader(b, at);
      if (!h) break;
      if (h.tag === 18) {
        if (at === 0) throw new OtherShape(); // no PKESK (a passphrase-encrypted message)
        return { pkesks: b.subarray(0, at), seipd: h, rest: b.subarray(at + h.size), offset: at + h.size };
      }
      if (h.tag !== 1 || h.partial) throw new OtherShape();
      if (at + h.size + h.length > b.length) break;
      at += h.size + h.length;
    }
    const c = await src.next();
    if (!c) {
      if (b.length === 0) throw new OtherShape(); // empty: openpgp.js says what it is not
      throw truncated('it ends before the encrypted data');
    }
    b = b.length ? Buffer.concat([b, c]) : c;
  }
}

async function sessionKey(
  pkesks: Buffer,
  key: openpgp.PrivateKey,
): Promise<{ data: Uint8Array; algorithm: string }> {
  try {
    const message = await openpgp.readMessage({ binaryMessage: pkesks });
    const [k] = await openpgp.decryptSessionKeys({ message, decryptionKeys: key });
    if (!k) throw new Error('no session key');
    return k as { data: Uint8Array; algorithm: string };
  } catch (err) {
    throw new PgpDecryptError(`cannot decrypt the session key: ${(err as Error).message}`);
  }
}

/** The plaintext of a message of our writer's shape, read as it streams (OtherShape otherwise). */
async function streamed(
  src: Source,
  size: number,
  key: openpgp.PrivateKey,
): Promise<Omit<Decrypted, 'sha256Cipher' | 'via'>> {
  const { pkesks, seipd: seipdLength, rest, offset } = await sessionPackets(src);
  const sk = await sessionKey(pkesks, key);
  const algorithm = CIPHERS[sk.algorithm];
  if (!algorithm) throw new OtherShape();
  const decipher: Decipher = createDecipheriv(algorithm, sk.data, Buffer.alloc(BLOCK));
  sk.data.fill(0);
  const mdc: Hash = createHash('sha1');
  const plainHash = createHash('sha256');
  const seipd = new Body(seipdLength);
  /** Octets of the message before the encrypted data (the SEIPD version octet included). */
  const before = offset + 1;

  let version = false;
  let probe = EMPTY; // decrypted, until the literal packet's header and head are read
  let literal: Body | null = null;
  let skip = 0; // the literal body's head (format, file name, date) left to skip
  let plain = EMPTY;
  let written = 0;
  let tail = EMPTY; // what follows the literal packet: the MDC packet

  const data = (part: Buffer) => {
    if (skip > 0) {
      const n = Math.min(skip, part.length);
      skip -= n;
      part = part.subarray(n);
    }
    if (part.length === 0) return;
    if (written + part.length > plain.length)
      throw truncated(`its packets announce more than its ${size} bytes hold`);
    plainHash.update(part);
    part.copy(plain, written);
    written += part.length;
  };
  const decrypted = (d: Buffer) => {
    if (literal) {
      const after = literal.push(d, data);
      mdc.update(d.subarray(0, d.length - after.length));
      if (tail.length + after.length > MDC)
        throw new PgpDecryptError('data follows the integrity check (MDC)');
      tail = tail.length ? Buffer.concat([tail, after]) : Buffer.from(after);
      return;
    }
    probe = probe.length ? Buffer.concat([probe, d]) : d;
    if (probe.length < PREFIX) return;
    // RFC 4880 5.13: the last 2 octets of the random prefix are repeated.
    if (probe[PREFIX - 2] !== probe[PREFIX - 4] || probe[PREFIX - 1] !== probe[PREFIX - 3])
      throw new PgpDecryptError('the session key does not open this message (its check octets differ)');
    const h = packetHeader(probe, PREFIX);
    if (!h) return;
    if (h.tag !== 11) throw new OtherShape(); // compressed, signed, ...: not ours
    const start = PREFIX + h.size;
    if (probe.length < start + 2) return;
    const head = 6 + (probe[start + 1] as number); // format, name length, name, 4-octet date
    if (probe[start] !== 0x62 || h.length < head) throw new OtherShape(); // text, or a head split
    if (probe.length < start + head) return;
    // The content's size: exact for a definite length, else the most the rest of the file holds
    // (the length octets of later parts, a few per GiB, are the slack).
    const room = size - before - start - head - MDC;
    const bound = h.partial ? room : h.length - head;
    if (bound > room) throw truncated(`its literal data announces ${bound} bytes, the file holds ${room}`);
    if (bound > bufferLimits.MAX_LENGTH)
      throw new PgpDecryptError(
        `the plaintext (${bound} bytes) is larger than one buffer of this Node.js (${bufferLimits.MAX_LENGTH})`,
      );
    plain = Buffer.allocUnsafeSlow(Math.max(0, bound));
    src.keep = false;
    src.kept.length = 0;
    literal = new Body(h);
    skip = head;
    mdc.update(probe.subarray(0, start));
    const first = probe.subarray(start);
    probe = EMPTY;
    decrypted(first);
  };
  const seipdBody = (part: Buffer) => {
    if (!version) {
      if (part[0] !== 1) throw new OtherShape(); // SEIPD v2 (AEAD)
      version = true;
      part = part.subarray(1);
    }
    if (part.length) decrypted(decipher.update(part));
  };

  try {
    let c: Buffer | null = rest;
    while (c) {
      if (seipd.push(c, seipdBody).length > 0) throw new PgpDecryptError('data follows the encrypted packet');
      c = await src.next();
    }
    if (!seipd.done) throw truncated('the encrypted packet ends early');
    if (!literal) throw truncated('it ends before the literal data');
    if (!(literal as Body).done) throw truncated('the literal data ends early');
    if (tail.length < MDC || tail[0] !== 0xd3 || tail[1] !== 0x14)
      throw truncated('the integrity check (MDC) is missing');
    mdc.update(tail.subarray(0, 2));
    if (!mdc.digest().equals(tail.subarray(2)))
      throw new PgpDecryptError('the OpenPGP message was altered: its integrity check (MDC) does not match');
    return { plain: plain.subarray(0, written), sha256Plain: plainHash.digest('hex') };
  } catch (err) {
    plain.fill(0);
    throw err;
  }
}
