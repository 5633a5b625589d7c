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
 * Lengths are definite (the size is known up front), so the file is one ordinary message, not
 * a partial-length stream. The largest plaintext is a little under 4 GiB (a u-law WAV cannot be
 * larger).
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
/** Literal data packet body: format 'b', name length, name, 4-octet date, then the data. */
const MAX_PLAIN = 0xffffffff - 1024;
const MDC_HEADER = Buffer.from([0xd3, 0x14]);
/** Plaintext encrypted and written per step. */
const SLICE = 1 << 20;

/** A new-format packet header (tag, definite length). */
function packetHeader(tag: number, length: number): Buffer {
  if (length < 192) return Buffer.from([0xc0 | tag, length]);
  if (length < 8384) return Buffer.from([0xc0 | tag, ((length - 192) >> 8) + 192, (length - 192) & 0xff]);
  const h = Buffer.alloc(6);
  h[0] = 0xc0 | tag;
  h[1] = 0xff;
  h.writeUInt32BE(length, 2);
  return h;
}

function sizeOf(p: Plaintext): number {
  return Buffer.isBuffer(p) ? p.length : p.size;
}

/** Streams the ciphertext of `plain` to `write`; returns the hashes and the ciphertext size. */
async function encryptTo(
  plain: Plaintext,
  publicKey: openpgp.PublicKey,
  name: string,
  write: (chunks: Buffer[]) => Promise<void>,
): Promise<EncryptResult> {
  const size = sizeOf(plain);
  if (size > MAX_PLAIN)
    throw new RangeError(`cannot encrypt ${size} bytes in one message (the limit is 4 GiB)`);
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
  const literalBody = 1 + 1 + fileName.length + 4 + size;
  const literalPacketHeader = packetHeader(11, literalBody);
  const literalHead = Buffer.concat([
    literalPacketHeader,
    Buffer.from([0x62, fileName.length]),
    fileName,
    Buffer.alloc(4), // date: the catalogue has the recording's times
  ]);
  const prefix = randomBytes(BLOCK);
  const encryptedLength = BLOCK + 2 + literalPacketHeader.length + literalBody + 2 + 20;
  const seipdHead = Buffer.concat([packetHeader(18, 1 + encryptedLength), Buffer.from([1])]);

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
  /** Plaintext of the encrypted packet: into the MDC and through the cipher. */
  const seal = (b: Buffer): Buffer => {
    mdc.update(b);
    return cipher.update(b);
  };

  const start = Buffer.concat([prefix, prefix.subarray(BLOCK - 2), literalHead]);
  await out([pkesk, seipdHead, seal(start)]);
  if (Buffer.isBuffer(plain)) {
    // In slices, so a long recording never needs a second full-size buffer for its ciphertext.
    for (let at = 0; at < plain.length; at += SLICE) {
      const piece = plain.subarray(at, Math.min(plain.length, at + SLICE));
      plainHash.update(piece);
      await out([seal(piece)]);
    }
  } else {
    let seen = 0;
    for await (const chunk of createReadStream(plain.path, { highWaterMark: SLICE })) {
      const b = chunk as Buffer;
      seen += b.length;
      if (seen > size) break;
      plainHash.update(b);
      await out([seal(b)]);
    }
    if (seen !== size)
      throw new Error(`${plain.path} changed size while it was encrypted (${seen} of ${size} bytes)`);
  }
  mdc.update(MDC_HEADER);
  const tail = Buffer.concat([MDC_HEADER, mdc.digest()]);
  const last = Buffer.concat([cipher.update(tail), cipher.final()]);
  await out([last], true);
  return { bytes, sha256Plain: plainHash.digest('hex'), sha256Cipher: cipherHash.digest('hex') };
}

/**
 * Encrypts `plain` to `dest`: a temporary file next to it (`<dest>.<random>.tmp`, 0600), fsynced,
 * then renamed, and the directory fsynced unless `syncDir` is false (the caller fsyncs it once
 * for several files). `name` is the literal packet's file name.
 */
export async function encryptToFile(
  plain: Plaintext,
  dest: string,
  publicKey: openpgp.PublicKey,
  name = '',
  { syncDir = true }: { syncDir?: boolean } = {},
): Promise<EncryptResult> {
  const { tmp, ...r } = await encryptToTemp(plain, dest, publicKey, name);
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
): Promise<EncryptResult & { tmp: string }> {
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  let r: EncryptResult;
  try {
    r = await encryptTo(plain, publicKey, name, async (chunks) => {
      await fh.writev(chunks);
    });
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
): Promise<EncryptResult & { cipher: Buffer }> {
  const parts: Buffer[] = [];
  const r = await encryptTo(plain, publicKey, name, async (chunks) => {
    parts.push(...chunks);
  });
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
