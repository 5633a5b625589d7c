// Tests of the shared audio and RTP test helpers: other tests trust them to judge the recordings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  alawToLinear,
  decodeUlawWav,
  goertzelPower,
  linearToAlaw,
  linearToUlaw,
  parseWav,
  tone,
  toneLevelDb,
  ulawToLinear,
} from '../helpers/audio.js';
import { buildRtp } from '../helpers/rtp.js';

function wav(data: Buffer, opts: { fact?: boolean; tag?: number } = {}): Buffer {
  const fmt = Buffer.alloc(26);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(18, 4);
  fmt.writeUInt16LE(opts.tag ?? 7, 8);
  fmt.writeUInt16LE(1, 10);
  fmt.writeUInt32LE(8000, 12);
  fmt.writeUInt32LE(8000, 16);
  fmt.writeUInt16LE(1, 20);
  fmt.writeUInt16LE(8, 22);
  fmt.writeUInt16LE(0, 24);
  const fact = Buffer.alloc(opts.fact === false ? 0 : 12);
  if (fact.length) {
    fact.write('fact', 0, 'latin1');
    fact.writeUInt32LE(4, 4);
    fact.writeUInt32LE(data.length, 8);
  }
  const dataHdr = Buffer.alloc(8);
  dataHdr.write('data', 0, 'latin1');
  dataHdr.writeUInt32LE(data.length, 4);
  const pad = Buffer.alloc(data.length & 1);
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), fmt, fact, dataHdr, data, pad]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

describe('G.711', () => {
  it('matches known code points', () => {
    assert.equal(linearToUlaw(0), 0xff);
    assert.equal(linearToUlaw(-1), 0x7f);
    assert.equal(linearToUlaw(32767), 0x80);
    assert.equal(linearToUlaw(-32768), 0x00);
    assert.equal(ulawToLinear(0x80), 32124);
    assert.equal(ulawToLinear(0x00), -32124);
    assert.equal(ulawToLinear(0xff), 0);
    assert.equal(ulawToLinear(0x7f), 0);
    assert.equal(linearToAlaw(0), 0xd5);
    assert.equal(linearToAlaw(32767), 0xaa);
    assert.equal(linearToAlaw(-32768), 0x2a);
    assert.equal(alawToLinear(0xd5), 8);
    assert.equal(alawToLinear(0x55), -8);
    assert.equal(alawToLinear(0xaa), 32256);
    assert.equal(alawToLinear(0x2a), -32256);
  });

  it('round-trips every code word', () => {
    for (let c = 0; c < 256; c++) {
      assert.equal(linearToAlaw(alawToLinear(c)), c, `A-law ${c}`);
      // u-law has two zeros (0xFF and 0x7F); encoding 0 gives 0xFF.
      assert.equal(linearToUlaw(ulawToLinear(c)), c === 0x7f ? 0xff : c, `u-law ${c}`);
    }
  });

  it('quantizes monotonically with bounded error', () => {
    let prevU = -Infinity;
    let prevA = -Infinity;
    for (let x = -32768; x <= 32767; x += 7) {
      const u = ulawToLinear(linearToUlaw(x));
      const a = alawToLinear(linearToAlaw(x));
      assert.ok(u >= prevU && a >= prevA, `monotonic at ${x}`);
      prevU = u;
      prevA = a;
      const tolerance = Math.max(16, Math.abs(x) / 16);
      assert.ok(
        Math.abs(u - x) <= tolerance + 700 * Number(Math.abs(x) > 32000),
        `u-law error at ${x}: ${u}`,
      );
      assert.ok(
        Math.abs(a - x) <= tolerance + 700 * Number(Math.abs(x) > 32000),
        `A-law error at ${x}: ${a}`,
      );
    }
  });
});

describe('tone detection', () => {
  it('finds a tone where it is and not where it is not', () => {
    const x = new Int16Array(16000);
    x.set(tone(440, 1000), 0);
    x.set(tone(1000, 1000), 8000);
    assert.ok(toneLevelDb(x, 100, 900, 440) > -1);
    assert.ok(toneLevelDb(x, 100, 900, 1000) < -30);
    assert.ok(toneLevelDb(x, 1100, 1900, 1000) > -1);
    assert.equal(toneLevelDb(new Int16Array(8000), 0, 1000, 440), -Infinity);
    // Goertzel of a pure tone over N samples: (A * N / 2)^2.
    const p = goertzelPower(tone(500, 100, 1000), 0, 800, 500);
    assert.ok(Math.abs(Math.sqrt(p) - 400000) / 400000 < 0.01);
  });
});

describe('parseWav', () => {
  it('reads a u-law WAV with a fact chunk', () => {
    const data = Buffer.from([0xff, 0x80, 0x00]);
    const info = parseWav(wav(data));
    assert.equal(info.formatTag, 7);
    assert.equal(info.sampleRate, 8000);
    assert.equal(info.channels, 1);
    assert.equal(info.bitsPerSample, 8);
    assert.equal(info.fmtSize, 18);
    assert.equal(info.hasFact, true);
    assert.equal(info.factSamples, 3);
    assert.deepEqual(info.data, data);
    assert.deepEqual(Array.from(decodeUlawWav(wav(data))), [0, 32124, -32124]);
    assert.equal(parseWav(wav(data, { fact: false })).hasFact, false);
  });

  it('rejects malformed files', () => {
    const good = wav(Buffer.from([1, 2, 3, 4]));
    assert.throws(() => parseWav(good.subarray(0, good.length - 1)), /RIFF size/);
    const badRiff = Buffer.from(good);
    badRiff.write('RIFX', 0, 'latin1');
    assert.throws(() => parseWav(badRiff), /RIFF magic/);
    const overrun = Buffer.from(good);
    overrun.writeUInt32LE(100, good.length - 8); // data chunk size
    assert.throws(() => parseWav(overrun), /overruns/);
    assert.throws(() => decodeUlawWav(wav(Buffer.from([1, 2]), { tag: 1 })), /u-law/);
  });
});

describe('buildRtp', () => {
  it('lays out the fixed header, CSRCs, extension and padding', () => {
    const payload = Buffer.from([1, 2, 3]);
    const p = buildRtp({
      pt: 8,
      seq: 0x1_0001,
      ts: 0x1_0000_0002,
      ssrc: 0xdeadbeef,
      marker: true,
      payload,
      csrcs: [7, 9],
      extension: { profile: 0xbede, data: Buffer.from([0x10, 0xaa, 0, 0]) },
      padding: 4,
    });
    assert.equal(p[0], 0x80 | 0x20 | 0x10 | 2);
    assert.equal(p[1], 0x80 | 8);
    assert.equal(p.readUInt16BE(2), 1);
    assert.equal(p.readUInt32BE(4), 2);
    assert.equal(p.readUInt32BE(8), 0xdeadbeef);
    assert.equal(p.readUInt32BE(12), 7);
    assert.equal(p.readUInt32BE(16), 9);
    assert.equal(p.readUInt16BE(20), 0xbede);
    assert.equal(p.readUInt16BE(22), 1);
    assert.deepEqual(p.subarray(28, 31), payload);
    assert.equal(p.length, 31 + 4);
    assert.equal(p[p.length - 1], 4);
    assert.equal(buildRtp({ pt: 0, seq: 1, ts: 2, ssrc: 3, payload }).length, 15);
  });
});
