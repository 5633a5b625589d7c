// Parity of the RFC 4867 depacketizer: the native one (native/src/codec.cc, used before the AMR
// decoders) and the TypeScript reference (src/media/reference/amr.ts) agree byte for byte on valid
// payloads of both packings (1-8 frames of every frame type, SID and NO_DATA included) and on random
// bytes, including which payloads they refuse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { depacketizeAmrNative } from '../../src/media/engine.js';
import { depacketizeAmrRef } from '../../src/media/reference/index.js';
import { amrOctetToBandwidthEfficient } from '../helpers/codec-rtp.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const NB = [95, 103, 118, 134, 148, 159, 204, 244, 39, 43, 38, 37, -1, -1, -1, 0];
const WB = [132, 177, 253, 285, 317, 365, 397, 461, 477, 40, -1, -1, -1, -1, 0, 0];

/** A valid octet-aligned payload: CMR, TOC entries, frames padded to octets. */
function octetPayload(rnd: () => number, wideband: boolean): { payload: Buffer; count: number } {
  const sizes = wideband ? WB : NB;
  const valid = sizes.map((b, ft) => (b >= 0 ? ft : -1)).filter((ft) => ft >= 0);
  const count = 1 + Math.floor(rnd() * 8);
  const fts = Array.from({ length: count }, () => valid[Math.floor(rnd() * valid.length)]!);
  const bytes: number[] = [Math.floor(rnd() * 16) << 4];
  fts.forEach((ft, i) =>
    bytes.push(((i < count - 1 ? 1 : 0) << 7) | (ft << 3) | ((rnd() < 0.9 ? 1 : 0) << 2)),
  );
  for (const ft of fts) {
    const bits = sizes[ft]!;
    const n = Math.ceil(bits / 8);
    for (let i = 0; i < n; i++) {
      let b = Math.floor(rnd() * 256);
      if (i === n - 1 && bits % 8 !== 0) b &= (0xff << (8 - (bits % 8))) & 0xff; // padding bits are zero
      bytes.push(b);
    }
  }
  return { payload: Buffer.from(bytes), count };
}

describe('AMR depacketizer parity (native vs reference)', () => {
  it('2000 valid payloads of each packing and band: same frames, same count', () => {
    const rnd = prng(0x4867);
    for (let c = 0; c < 2000; c++) {
      const wideband = c % 2 === 1;
      const { payload, count } = octetPayload(rnd, wideband);
      const efficient = amrOctetToBandwidthEfficient(payload, wideband);
      for (const [p, octetAlign] of [
        [payload, true],
        [efficient, false],
      ] as const) {
        const ref = depacketizeAmrRef(p, wideband, octetAlign);
        const nat = depacketizeAmrNative(p, wideband, octetAlign);
        assert.ok(ref, `case ${c}: reference parses`);
        assert.equal(ref.count, count);
        assert.deepEqual(
          nat,
          ref,
          `case ${c} (${wideband ? 'WB' : 'NB'}, ${octetAlign ? 'octet' : 'efficient'})`,
        );
      }
      // Both packings carry the same frames.
      assert.deepEqual(
        depacketizeAmrRef(efficient, wideband, false),
        depacketizeAmrRef(payload, wideband, true),
      );
    }
  });

  it('random and truncated bytes: the same result or the same refusal', () => {
    const rnd = prng(0x3551);
    let refused = 0;
    for (let c = 0; c < 4000; c++) {
      const p = Buffer.from(Array.from({ length: Math.floor(rnd() * 90) }, () => Math.floor(rnd() * 256)));
      for (const wideband of [false, true]) {
        for (const octetAlign of [false, true]) {
          const ref = depacketizeAmrRef(p, wideband, octetAlign);
          if (ref === null) refused++;
          assert.deepEqual(depacketizeAmrNative(p, wideband, octetAlign), ref, `case ${c}`);
        }
      }
    }
    assert.ok(refused > 1000, 'random bytes are often refused');
  });
});
