import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { renameDurable } from './artifacts.js';

/**
 * OpenPGP encryption of recordings in one pass (RFC 4880 / RFC 9580 packet formats; what
 * `gpg --decrypt` and openpgp.js read).
 *
 * openpgp.js wraps the session key for the recipient (the public-key part: RSA or ECDH, one
 * Public-Key Encrypted Session Key packet). The bulk of the message, a Symmetrically Encrypted
 * Integrity Protected Data packet (version 1: AES-256 in CFB mode with a zero IV, a random
 * prefix and a Modification Detection Code) around a Literal Data packet, is written here with
 * node's crypto as the plaintext goes by: no copies of the recording inside openpgp.js, and the
 * SHA-256 of the plaintext and of the ciphertext come out of the same pass.
 *
 * Packet lengths are definite when they fit in 32 bits (the size is known up front). A longer
 * packet (an MP3 of a long call at a high bit rate passes 4 GiB: 74.6 h at 128 kbit/s) is written
 * with partial body lengths (RFC 4880 4.2.2.4, for the Literal Data and the SEIPD packet): parts
 * of 1 GiB, then the rest with a definite length. Any size can be encrypted.
 */

export interface EncryptResult {
  /** Size of the ciphertext. */
  bytes: number;
  sha256Plain: string;
  sha256Cipher: string;
}

/** The plaintext: in memory, or a file of known size. */
export type Plaintext = Buffer | { path: string; size: number };

const AES256 = 'aes256' as const;
const BLOCK = 16;
/** The longest packet body with a definite length; a longer one is written in parts. */
const MAX_DEFINITE = 0xffffffff;
/** Parts of 2^30 bytes (1 GiB, the largest partial body length). */
const PART_LOG2 = 30;
const MDC_HEADER = Buffer.from([0xd3, 0x14]);
/** Plaintext encrypted and written per step. */
const SLICE = 1 << 20;

/** A new-format definite body length (1, 2 or 5 octets). */
function definiteLength(length: number): Buffer {
  if (length < 192) return Buffer.from([length]);
  if (length < 8384) return Buffer.from([((length - 192) >> 8) + 192, (length - 192) & 0xff]);
  const h = Buffer.alloc(5);
  h[0] = 0xff;
  h.writeUInt32BE(length, 1);
  return h;
}

/**
 * A packet of `total` body bytes: its header, and `frame`, which puts the length octets of each
 * next part in front of it as the body goes by. `partLog2` undefined: one definite length (up to
 * 4 GiB - 1); else parts of 2^partLog2 bytes (9..30: the first part at least 512 bytes), each
 * announced by a partial body length, and the last (1 to 2^partLog2 bytes) by a definite one.
 */
function packet(tag: number, total: number, partLog2: number | undefined) {
  const part = partLog2 === undefined ? 0 : 2 ** partLog2;
  const partial = part === 0 ? 0 : Math.max(0, Math.floor((total - 1) / part));
  const last = total - partial * part;
  const lengthOf = (i: number) =>
    i < partial ? Buffer.from([0xe0 | (partLog2 as number)]) : definiteLength(last);
  const sizeOf = (i: number) => (i < partial ? part : last);
  let index = 0;
  let left = sizeOf(0);
  const header = Buffer.concat([Buffer.from([0xc0 | tag]), lengthOf(0)]);
  return {
    header,
    /** Header and length octets in all, for a body of `total`. */
    overhead: header.length + (partial > 0 ? partial - 1 + definiteLength(last).length : 0),
    frame(b: Buffer): Buffer[] {
      const out: Buffer[] = [];
      while (b.length > 0) {
        if (left === 0) {
          if (index >= partial) throw new Error(`packet body longer than ${total} bytes`);
          index += 1;
          out.push(lengthOf(index));
          left = sizeOf(index);
        }
        const n = Math.min(left, b.length);
        out.push(n === b.length ? b : b.subarray(0, n));
        b = b.subarray(n);
        left -= n;
      }
      return out;
    },
    /** True once exactly `total` body bytes went through. */
    done: () => index === partial && left === 0,
  };
}

/** Definite when it fits, else in parts (`forceLog2`: in parts of that size anyway, for tests). */
const partsFor = (total: number, forceLog2?: number) =>
  forceLog2 ?? (total > MAX_DEFINITE ? PART_LOG2 : undefined);

function sizeOf(p: Plaintext): number {
  return Buffer.isBuffer(p) ? p.length : p.size;
}

/** Streams the ciphertext of `plain` to `write`; returns the hashes and the ciphertext size. */
async function encryptTo(
  plain: Plaintext,
  publicKey: openpgp.PublicKey,
  name: string,
  write: (chunks: Buffer[]) => Promise<void>,
  partLog2?: number,
): Promise<EncryptResult> {
  const size = sizeOf(plain);
  if (partLog2 !== undefined && !(Number.isInteger(partLog2) && partLog2 >= 9 && partLog2 <= 30))
    throw new RangeError(`partLog2 ${partLog2}: expected 9 to 30`);
  const sessionKey = randomBytes(32);
  const pkesk = Buffer.from(
    (await openpgp.encryptSessionKey({
      data: sessionKey,
      algorithm: AES256,
      encryptionKeys: publicKey,
      format: 'binary',
    })) as Uint8Array,
  );

  const fileName = Buffer.from(name, 'utf8').subarray(0, 255);
  // Literal data packet body: format 'b', name length, name, 4-octet date, then the data.
  const literalBody = 1 + 1 + fileName.length + 4 + size;
  const literal = packet(11, literalBody, partsFor(literalBody, partLog2));
  const literalHead = Buffer.concat([
    Buffer.from([0x62, fileName.length]),
    fileName,
    Buffer.alloc(4), // date: the catalogue has the recording's times
  ]);
  const prefix = randomBytes(BLOCK);
  const encryptedLength = BLOCK + 2 + literal.overhead + literalBody + 2 + 20;
  const seipd = packet(18, 1 + encryptedLength, partsFor(1 + encryptedLength, partLog2));

  const cipher = createCipheriv('aes-256-cfb', sessionKey, Buffer.alloc(BLOCK));
  sessionKey.fill(0);
  const mdc = createHash('sha1');
  const plainHash = createHash('sha256');
  const cipherHash = createHash('sha256');
  let bytes = 0;
  // Written a slice at a time (a one-minute call's WAV or MP3 is one write, not three).
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const out = async (parts: Buffer[], last = false) => {
    for (const p of parts) {
      cipherHash.update(p);
      bytes += p.length;
      pendingBytes += p.length;
      pending.push(p);
    }
    if (pendingBytes < SLICE && !last) return;
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    await write(chunks);
  };
  /** Plaintext of the encrypted packet: into the MDC and through the cipher, framed as the SEIPD body. */
  const seal = (b: Buffer): Buffer[] => {
    mdc.update(b);
    return seipd.frame(cipher.update(b));
  };
  /** Literal packet body bytes: framed, then sealed. */
  const sealLiteral = (b: Buffer): Buffer[] => literal.frame(b).flatMap(seal);

  const start = Buffer.concat([prefix, prefix.subarray(BLOCK - 2), literal.header]);
  await out([
    pkesk,
    seipd.header,
    ...seipd.frame(Buffer.from([1])),
    ...seal(start),
    ...sealLiteral(literalHead),
  ]);
  if (Buffer.isBuffer(plain)) {
    // In slices, so a long recording never needs a second full-size buffer for its ciphertext.
    for (let at = 0; at < plain.length; at += SLICE) {
      const piece = plain.subarray(at, Math.min(plain.length, at + SLICE));
      plainHash.update(piece);
      await out(sealLiteral(piece));
    }
  } else {
    let seen = 0;
    for await (const chunk of createReadStream(plain.path, { highWaterMark: SLICE })) {
      const b = chunk as Buffer;
      seen += b.length;
      if (seen > size) break;
      plainHash.update(b);
      await out(sealLiteral(b));
    }
    if (seen !== size)
      throw new Error(`${plain.path} changed size while it was encrypted (${seen} of ${size} bytes)`);
  }
  mdc.update(MDC_HEADER);
  const tail = Buffer.concat([MDC_HEADER, mdc.digest()]);
  const last = Buffer.concat([cipher.update(tail), cipher.final()]);
  await out(seipd.frame(last), true);
  if (!literal.done() || !seipd.done()) throw new Error('OpenPGP packet lengths do not add up');
  return { bytes, sha256Plain: plainHash.digest('hex'), sha256Cipher: cipherHash.digest('hex') };
}

/**
 * Encrypts `plain` to `dest`: a temporary file next to it (`<dest>.<random>.tmp`, 0600), fsynced,
 * then renamed, and the directory fsynced unless `syncDir` is false (the caller fsyncs it once
 * for several files). `name` is the literal packet's file name. `partLog2` (tests): partial body
 * lengths of 2^partLog2 bytes whatever the size.
 */
export async function encryptToFile(
  plain: Plaintext,
  dest: string,
  publicKey: openpgp.PublicKey,
  name = '',
  { syncDir = true, partLog2 }: { syncDir?: boolean; partLog2?: number } = {},
): Promise<EncryptResult> {
  const { tmp, ...r } = await encryptToTemp(plain, dest, publicKey, name, partLog2);
  if (syncDir) await renameDurable(tmp, dest);
  else await rename(tmp, dest);
  return r;
}

/**
 * Encrypts `plain` to a temporary file next to `dest` (`<dest>.<random>.tmp`, 0600), fsynced and
 * not renamed: the caller renames it to `dest` (finalize, under the recording's row lock).
 */
export async function encryptToTemp(
  plain: Plaintext,
  dest: string,
  publicKey: openpgp.PublicKey,
  name = '',
  partLog2?: number,
): Promise<EncryptResult & { tmp: string }> {
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  let r: EncryptResult;
  try {
    r = await encryptTo(
      plain,
      publicKey,
      name,
      async (chunks) => {
        await fh.writev(chunks);
      },
      partLog2,
    );
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  return { ...r, tmp };
}

/** Encrypts `plain` into memory (re-encryption under a new key, tests). */
export async function encryptToBuffer(
  plain: Plaintext,
  publicKey: openpgp.PublicKey,
  name = '',
  { partLog2 }: { partLog2?: number } = {},
): Promise<EncryptResult & { cipher: Buffer }> {
  const parts: Buffer[] = [];
  const r = await encryptTo(
    plain,
    publicKey,
    name,
    async (chunks) => {
      chunks.forEach((c) => parts.push(c));
    },
    partLog2,
  );
  return { ...r, cipher: Buffer.concat(parts, r.bytes) };
}

const keyCache = new Map<string, Promise<openpgp.PublicKey>>();
/** The parsed public key of an armored one (parsed once per process). */
export function publicKeyOf(armored: string): Promise<openpgp.PublicKey> {
  let k = keyCache.get(armored);
  if (!k) {
    k = openpgp.readKey({ armoredKey: armored });
    keyCache.set(armored, k);
  }
  return k;
}
