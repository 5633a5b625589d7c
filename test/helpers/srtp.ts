/**
 * An independent SRTP sender for tests, written from the RFCs with node:crypto (it shares no code
 * with the engine, which uses libsrtp): RFC 3711 AES-CM key derivation, AES-CM encryption and
 * HMAC-SHA1 authentication (80- and 32-bit tags), RFC 6188 AES-256-CM, RFC 7714 AEAD AES-GCM, the
 * RFC 4568 MKI and UNENCRYPTED_SRTP. Protects RTP only (SRTCP in tests comes from ffmpeg).
 */
import { createCipheriv, createHmac } from 'node:crypto';

import type { SrtpSuite } from '../../src/media/types.js';

interface SuiteInfo {
  keyBytes: number;
  saltBytes: number;
  gcm: boolean;
  tagBytes: number;
}

export const SUITES: Readonly<Record<SrtpSuite, SuiteInfo>> = {
  AES_CM_128_HMAC_SHA1_80: { keyBytes: 16, saltBytes: 14, gcm: false, tagBytes: 10 },
  AES_CM_128_HMAC_SHA1_32: { keyBytes: 16, saltBytes: 14, gcm: false, tagBytes: 4 },
  AES_256_CM_HMAC_SHA1_80: { keyBytes: 32, saltBytes: 14, gcm: false, tagBytes: 10 },
  AES_256_CM_HMAC_SHA1_32: { keyBytes: 32, saltBytes: 14, gcm: false, tagBytes: 4 },
  AEAD_AES_128_GCM: { keyBytes: 16, saltBytes: 12, gcm: true, tagBytes: 16 },
  AEAD_AES_256_GCM: { keyBytes: 32, saltBytes: 12, gcm: true, tagBytes: 16 },
};

/** RFC 3711 section 4.3.3 AES-CM PRF: `length` bytes for `label` (key derivation rate 0). */
function derive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0); // a 96-bit (GCM) salt is left-aligned in the 112-bit field, as RFC 7714 section 11 has it
  iv[7]! ^= label;
  const cipher = createCipheriv(`aes-${masterKey.length * 8}-ctr`, masterKey, iv);
  return cipher.update(Buffer.alloc(length));
}

function rtpHeaderLength(p: Buffer): number {
  let n = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) n += 4 + 4 * p.readUInt16BE(n + 2);
  return n;
}

export interface SrtpSenderOptions {
  suite: SrtpSuite;
  keySalt: Buffer;
  mki?: { value: number; length: number };
  unencryptedSrtp?: boolean;
  /** Rollover counter to start from (a stream that began earlier). */
  roc?: number;
}

/** Protects RTP packets of one sender (one SSRC), tracking the rollover counter from sequence numbers. */
export class SrtpSender {
  readonly #info: SuiteInfo;
  readonly #encKey: Buffer;
  readonly #authKey: Buffer;
  readonly #salt: Buffer;
  readonly #opts: SrtpSenderOptions;
  #roc: number;
  #lastSeq = -1;

  constructor(opts: SrtpSenderOptions) {
    const info = SUITES[opts.suite];
    if (opts.keySalt.length !== info.keyBytes + info.saltBytes) throw new RangeError('bad key length');
    this.#info = info;
    this.#opts = opts;
    this.#roc = opts.roc ?? 0;
    const key = opts.keySalt.subarray(0, info.keyBytes);
    const salt = opts.keySalt.subarray(info.keyBytes);
    this.#encKey = derive(key, salt, 0, info.keyBytes);
    this.#authKey = info.gcm ? Buffer.alloc(0) : derive(key, salt, 1, 20);
    this.#salt = derive(key, salt, 2, info.saltBytes);
  }

  protect(rtp: Buffer): Buffer {
    const seq = rtp.readUInt16BE(2);
    if (this.#lastSeq >= 0 && seq < this.#lastSeq && this.#lastSeq - seq > 0x8000)
      this.#roc = (this.#roc + 1) >>> 0;
    this.#lastSeq = seq;
    const ssrc = rtp.readUInt32BE(8);
    const hl = rtpHeaderLength(rtp);
    const header = rtp.subarray(0, hl);
    const payload = rtp.subarray(hl);
    const mki = Buffer.alloc(this.#opts.mki?.length ?? 0);
    if (this.#opts.mki) mki.writeUIntBE(this.#opts.mki.value, 0, this.#opts.mki.length);
    if (this.#info.gcm) {
      // RFC 7714 section 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; AAD = the RTP header.
      const iv = Buffer.alloc(12);
      iv.writeUInt32BE(ssrc, 2);
      iv.writeUInt32BE(this.#roc, 6);
      iv.writeUInt16BE(seq, 10);
      for (let i = 0; i < 12; i++) iv[i]! ^= this.#salt[i]!;
      const c = createCipheriv(this.#encKey.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm', this.#encKey, iv);
      c.setAAD(header);
      const body = Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]);
      return Buffer.concat([header, body, mki]);
    }
    // RFC 3711 section 4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
    let body: Buffer = Buffer.from(payload);
    if (!this.#opts.unencryptedSrtp) {
      const iv = Buffer.alloc(16);
      this.#salt.copy(iv, 0);
      iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
      const index = Buffer.alloc(6);
      index.writeUInt32BE(this.#roc, 0);
      index.writeUInt16BE(seq, 4);
      for (let i = 0; i < 6; i++) iv[8 + i]! ^= index[i]!;
      body = createCipheriv(`aes-${this.#encKey.length * 8}-ctr`, this.#encKey, iv).update(payload);
    }
    const roc = Buffer.alloc(4);
    roc.writeUInt32BE(this.#roc, 0);
    const tag = createHmac('sha1', this.#authKey)
      .update(header)
      .update(body)
      .update(roc)
      .digest()
      .subarray(0, this.#info.tagBytes);
    return Buffer.concat([header, body, mki, tag]);
  }
}
