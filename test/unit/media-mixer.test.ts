// The native mixer on hand-made spool files: placement, gaps, saturation, WAV layout, interrupted
// spools, and a cross-check of its G.711 arithmetic against the TypeScript reference in the helpers.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { NotFoundError, ParseError } from '../../src/errors.js';
import { mixSpool } from '../../src/media/index.js';
import { linearToUlaw, parseWav, ulawToLinear } from '../helpers/audio.js';

/** A spool file: "SRSPOOL1", u32 rate, u32 flags, then records [u32 offset][u16 count][u-law bytes]. */
function spool(records: { offset: number; bytes: number[] | Buffer; claim?: number }[]): Buffer {
  const header = Buffer.alloc(16);
  header.write('SRSPOOL1', 0, 'latin1');
  header.writeUInt32LE(8000, 8);
  const parts = [header];
  for (const r of records) {
    const h = Buffer.alloc(6);
    h.writeUInt32LE(r.offset, 0);
    h.writeUInt16LE(r.claim ?? r.bytes.length, 4);
    parts.push(h, Buffer.from(r.bytes));
  }
  return Buffer.concat(parts);
}

describe('mixer', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-mix-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('places records at their offsets, fills gaps with silence and saturates sums', async () => {
    const d = join(dir, 'a');
    await mkdir(d);
    // leg a: 4 x +max at 0, then 3 x -max at 10; leg b: 4 x +max at 2 (overlap 2..3), 2 x -max at 11.
    await writeFile(
      join(d, 'a.spool'),
      spool([
        { offset: 0, bytes: [0x80, 0x80, 0x80, 0x80] },
        { offset: 10, bytes: [0x00, 0x00, 0x00] },
      ]),
    );
    // A trailing partial record: a process killed in the middle of a write.
    await writeFile(
      join(d, 'b.spool'),
      spool([
        { offset: 2, bytes: [0x80, 0x80, 0x80, 0x80] },
        { offset: 11, bytes: [0x00, 0x00] },
        { offset: 20, bytes: [1, 2, 3], claim: 100 },
      ]),
    );
    const wavPath = join(dir, 'a.wav');
    const r = await mixSpool({ spoolDir: d, wavPath });
    assert.deepEqual(r, { wavPath, samples: 13, durationMs: 1.625, legs: 2 });
    const buf = await readFile(wavPath);
    const info = parseWav(buf); // strict: RIFF size, chunk sizes, even padding
    assert.equal(info.formatTag, 7);
    assert.equal(info.channels, 1);
    assert.equal(info.sampleRate, 8000);
    assert.equal(info.bitsPerSample, 8);
    assert.equal(info.byteRate, 8000);
    assert.equal(info.blockAlign, 1);
    assert.equal(info.fmtSize, 18);
    assert.equal(info.factSamples, 13);
    assert.equal(buf.length, 58 + 13 + 1, 'header 58 bytes, data, pad byte');
    const clipHigh = linearToUlaw(32767);
    const clipLow = linearToUlaw(-32768);
    assert.deepEqual(Array.from(info.data), [
      0x80,
      0x80,
      clipHigh,
      clipHigh,
      0x80,
      0x80,
      0xff,
      0xff,
      0xff,
      0xff,
      0x00,
      clipLow,
      clipLow,
    ]);
  });

  it('computes the same mix as the TypeScript reference for random input', async () => {
    const d = join(dir, 'random');
    await mkdir(d);
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    const legs = [0, 1, 2].map(() => Buffer.from(Array.from({ length: 20000 }, rand)));
    const offsets = [0, 3000, 17999];
    for (let i = 0; i < 3; i++)
      await writeFile(join(d, `leg${i}.spool`), spool([{ offset: offsets[i]!, bytes: legs[i]! }]));
    const r = await mixSpool({ spoolDir: d, wavPath: join(dir, 'random.wav') });
    assert.equal(r.samples, 37999);
    const data = parseWav(await readFile(join(dir, 'random.wav'))).data;
    for (let s = 0; s < r.samples; s++) {
      let sum = 0;
      for (let i = 0; i < 3; i++) {
        const k = s - offsets[i]!;
        if (k >= 0 && k < 20000) sum += ulawToLinear(legs[i]![k]!);
      }
      const expected = linearToUlaw(Math.max(-32768, Math.min(32767, sum)));
      if (data[s] !== expected) assert.fail(`sample ${s}: got ${data[s]}, expected ${expected}`);
    }
  });

  it('mixes into memory (no wavPath) the same bytes as into a file, and writes nothing', async () => {
    const d = join(dir, 'memory');
    await mkdir(d);
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, rand));
    // Three legs; 20001 samples span more than one 16000-sample block, odd lengths need the pad byte.
    await writeFile(
      join(d, 'leg0.spool'),
      spool([
        { offset: 0, bytes: bytes(9000) },
        { offset: 12000, bytes: bytes(8001) },
      ]),
    );
    await writeFile(join(d, 'leg1.spool'), spool([{ offset: 500, bytes: bytes(15000) }]));
    await writeFile(join(d, 'leg2.spool'), spool([{ offset: 3000, bytes: bytes(101) }]));
    const out = join(dir, 'memory-out');
    await mkdir(out);
    const cases: { name: string; channels?: string[][]; cut?: [number, number][] }[] = [
      { name: 'mono' },
      { name: 'stereo', channels: [['leg0'], ['leg1', 'leg2']] },
      { name: 'one leg', channels: [['leg1']] },
      {
        name: 'cut',
        cut: [
          [100, 2099],
          [15000, 16500],
        ],
      },
      {
        name: 'stereo cut',
        channels: [['leg0'], ['leg1']],
        cut: [
          [0, 1],
          [19000, 1e9],
        ],
      },
    ];
    for (const [i, c] of cases.entries()) {
      const wavPath = join(out, `${i}.wav`);
      const options = {
        spoolDir: d,
        ...(c.channels ? { channels: c.channels } : {}),
        ...(c.cut ? { cut: c.cut } : {}),
      };
      const file = await mixSpool({ ...options, wavPath });
      const before = (await readdir(out)).sort();
      const mem = await mixSpool(options);
      assert.deepEqual((await readdir(out)).sort(), before, `${c.name}: nothing written`);
      assert.deepEqual((await readdir(d)).sort(), ['leg0.spool', 'leg1.spool', 'leg2.spool']);
      assert.ok(Buffer.isBuffer(mem.data), `${c.name}: data is a Buffer`);
      assert.equal(mem.wavPath, undefined);
      assert.equal(file.data, undefined);
      const onDisk = await readFile(wavPath);
      assert.ok(mem.data.equals(onDisk), `${c.name}: same bytes as the file`);
      const nch = c.channels?.length ?? 1;
      assert.equal(mem.data.length, 58 + mem.samples * nch + ((mem.samples * nch) & 1));
      assert.deepEqual(
        { samples: mem.samples, durationMs: mem.durationMs, legs: mem.legs },
        { samples: file.samples, durationMs: file.durationMs, legs: file.legs },
      );
      assert.equal(parseWav(mem.data).channels, nch);
    }
    // '' is the same as no wavPath.
    const empty = await mixSpool({ spoolDir: d, wavPath: '' });
    assert.ok(empty.data?.equals(await readFile(join(out, '0.wav'))));

    // Failures: the same error classes as the file mode.
    const missing = join(dir, 'no-such-spool');
    await assert.rejects(mixSpool({ spoolDir: missing, wavPath: join(out, 'x.wav') }), NotFoundError);
    await assert.rejects(mixSpool({ spoolDir: missing }), NotFoundError);
    await assert.rejects(mixSpool({ spoolDir: d, channels: [['leg7']] }), NotFoundError);
    const bad = join(dir, 'memory-bad');
    await mkdir(bad);
    await writeFile(join(bad, 'leg0.spool'), Buffer.from('not a spool file at all'));
    await assert.rejects(mixSpool({ spoolDir: bad }), ParseError);
  });

  it('reports a missing or foreign spool clearly', async () => {
    await assert.rejects(
      mixSpool({ spoolDir: join(dir, 'nope'), wavPath: join(dir, 'x.wav') }),
      NotFoundError,
    );
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await assert.rejects(mixSpool({ spoolDir: empty, wavPath: join(dir, 'x.wav') }), NotFoundError);
    const bad = join(dir, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'leg0.spool'), Buffer.from('not a spool file at all'));
    await assert.rejects(mixSpool({ spoolDir: bad, wavPath: join(dir, 'x.wav') }), ParseError);
  });
});
