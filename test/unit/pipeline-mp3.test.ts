import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { defaultAddonPath } from '../../src/media/index.js';
import { ulawWavHeader } from '../../src/media/wav.js';
import { encodeMp3, encodeMp3Ffmpeg, encodeMp3ToFile } from '../../src/pipeline/artifacts.js';
import { mp3Bitrates } from '../../src/config/schema.js';
import { lameAddon } from '../../src/pipeline/mp3.js';
import { encodeUlaw, tone, toneLevelDb, rmsDbfs } from '../helpers/audio.js';

const run = promisify(execFile);
/** An independent decoder: Debian's ffmpeg when present (as the README's prerequisites install). */
const FFMPEG = process.env.SRS_TEST_FFMPEG ?? '/usr/bin/ffmpeg';

async function decode(mp3: Buffer, dir: string): Promise<Int16Array> {
  const f = join(dir, `d-${Math.random().toString(36).slice(2)}.mp3`);
  await writeFile(f, mp3);
  const { stdout } = await run(
    FFMPEG,
    ['-nostdin', '-loglevel', 'error', '-i', f, '-f', 's16le', '-ac', '1', '-ar', '8000', '-'],
    { encoding: 'buffer', maxBuffer: 64 << 20 },
  );
  return new Int16Array(stdout.buffer, stdout.byteOffset, stdout.length >> 1);
}

/** 0.5 s silence, 1 s of 440 Hz, 1 s silence, 1 s of 1,000 Hz, 0.5 s silence: a u-law WAV. */
function scriptWav(): Buffer {
  const silence = (ms: number) => new Int16Array((ms * 8000) / 1000);
  const parts = [silence(500), tone(440, 1000, 10000), silence(1000), tone(1000, 1000, 10000), silence(500)];
  const pcm = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    pcm.set(p, o);
    o += p.length;
  }
  const u = encodeUlaw(pcm);
  return Buffer.concat([ulawWavHeader(u.length), u]);
}

/**
 * The decoded MP3 holds each tone at its time and silence between (windows clear of the edges).
 * `slack`: samples the length may differ by. In-process, the Info frame tells the decoder the
 * encoder delay and padding, which it trims; ffmpeg writing to a pipe cannot seek back to write
 * it, so its MP3 starts about 1,105 samples (138 ms) late and ends padded.
 */
function checkScript(pcm: Int16Array, what: string, slack = 1152): void {
  assert.ok(Math.abs(pcm.length - 32000) <= slack, `${what}: ${pcm.length} samples, expected about 32000`);
  assert.ok(toneLevelDb(pcm, 650, 1350, 440) > -3, `${what}: 440 Hz at 0.5-1.5 s`);
  assert.ok(toneLevelDb(pcm, 650, 1350, 1000) < -20, `${what}: no 1,000 Hz at 0.5-1.5 s`);
  assert.ok(toneLevelDb(pcm, 2650, 3350, 1000) > -3, `${what}: 1,000 Hz at 2.5-3.5 s`);
  assert.ok(toneLevelDb(pcm, 2650, 3350, 440) < -20, `${what}: no 440 Hz at 2.5-3.5 s`);
  for (const [a, b] of [
    [0, 400],
    [1650, 2350],
    [3650, 3950],
  ] as const) {
    assert.ok(
      rmsDbfs(pcm, a, b) < -45,
      `${what}: silence at ${a}-${b} ms (${rmsDbfs(pcm, a, b).toFixed(1)} dBFS)`,
    );
  }
}

describe('MP3 encoding: libmp3lame in the addon, ffmpeg as the fallback', () => {
  let dir: string;
  const wav = scriptWav();
  const o = { bitrateKbps: 32, sampleRate: 8000, quality: 7 };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-mp3-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the addon has libmp3lame', () => {
    const lame = lameAddon();
    assert.ok(lame, 'build/Release/srs_media.node exports encodeMp3');
    assert.match(lame.lameVersion, /^3\.\d+/);
  });

  it('in-process: tones at their times, silence between, for a WAV in memory and a WAV file', async () => {
    const mp3 = await encodeMp3(wav, { ...o, encoder: 'lame' });
    assert.equal(mp3[0], 0xff, 'starts with an MPEG frame (no ID3 tag)');
    checkScript(await decode(mp3, dir), 'lame, memory');
    const path = join(dir, 'in.wav');
    await writeFile(path, wav);
    checkScript(await decode(await encodeMp3(path, { ...o, encoder: 'lame' }), dir), 'lame, file');
  });

  it('every quality setting makes a decodable MP3 of the same size at a constant bit rate', async () => {
    const sizes = new Set<number>();
    for (const quality of [0, 5, 9]) {
      const mp3 = await encodeMp3(wav, { ...o, quality, encoder: 'lame' });
      checkScript(await decode(mp3, dir), `quality ${quality}`);
      sizes.add(mp3.length);
    }
    assert.equal(sizes.size, 1);
  });

  it('the ffmpeg path makes the same sound', async () => {
    checkScript(await decode(await encodeMp3Ffmpeg(wav, o), dir), 'ffmpeg', 2 * 1152);
    checkScript(
      await decode(await encodeMp3(wav, { ...o, encoder: 'ffmpeg' }), dir),
      'encoder ffmpeg',
      2 * 1152,
    );
  });

  it('to a file: the bytes of the MP3 in memory, mode 0600; an existing file is refused and kept, a bad WAV leaves none', async () => {
    const inMemory = await encodeMp3(wav, { ...o, encoder: 'lame' });
    const path = join(dir, 'to-file.wav');
    await writeFile(path, wav);
    for (const [input, name] of [
      [wav, 'from-memory.mp3'],
      [path, 'from-file.mp3'],
    ] as const) {
      const out = join(dir, name);
      assert.deepEqual(await encodeMp3ToFile(input, out, { ...o, encoder: 'lame' }), {
        path: out,
        size: inMemory.length,
      });
      assert.ok((await readFile(out)).equals(inMemory), `${name}: the same bytes, Info frame included`);
      assert.equal((await stat(out)).mode & 0o777, 0o600);
      await assert.rejects(
        encodeMp3ToFile(input, out, { ...o, encoder: 'lame' }),
        /libmp3lame failed on .*cannot create .*File exists/,
      );
      assert.ok((await readFile(out)).equals(inMemory), `${name}: left as it was`);
    }
    await assert.rejects(
      encodeMp3ToFile(Buffer.from('not a wave file at all'), join(dir, 'bad.mp3'), o),
      /not a RIFF\/WAVE file/,
    );
    await assert.rejects(stat(join(dir, 'bad.mp3')), { code: 'ENOENT' });
    const lame = lameAddon();
    assert.ok(lame);
    assert.throws(
      () => void lame.encodeMp3(wav, { ...o, outPath: '' }),
      /outPath must be a non-empty string/,
    );

    // ffmpeg writes to the file too (0600, made here), and its seekable output gets the Info frame.
    const viaFfmpeg = join(dir, 'ffmpeg.mp3');
    const r = await encodeMp3ToFile(path, viaFfmpeg, { ...o, encoder: 'ffmpeg' });
    assert.equal(r.size, (await stat(viaFfmpeg)).size);
    assert.equal((await stat(viaFfmpeg)).mode & 0o777, 0o600);
    checkScript(await decode(await readFile(viaFfmpeg), dir), 'ffmpeg, file');
    await assert.rejects(
      encodeMp3ToFile(join(dir, 'missing.wav'), join(dir, 'bad.mp3'), { ...o, encoder: 'ffmpeg' }),
      /ffmpeg failed on .*missing\.wav/,
    );
    await assert.rejects(stat(join(dir, 'bad.mp3')), { code: 'ENOENT' });
  });

  it('an addon build older than the code (outPath ignored, a Buffer back) is refused, the MP3 zeroed', async () => {
    const lame = lameAddon();
    assert.ok(lame);
    // What such a build does: the MP3 in memory, no file.
    let returned: Buffer | undefined;
    const older = {
      ...lame,
      encodeMp3: async (
        input: Buffer | string,
        s: { bitrateKbps: number; sampleRate: number; quality: number },
      ) => {
        returned = await lame.encodeMp3(input, { ...s, outPath: undefined });
        return returned;
      },
    } as unknown as NonNullable<ReturnType<typeof lameAddon>>;
    const out = join(dir, 'older-build.mp3');
    await assert.rejects(
      encodeMp3ToFile(wav, out, { ...o, encoder: 'lame' }, false, older),
      /the media engine build is older than the code: run npm install/,
    );
    assert.ok(returned && returned.length > 1000, 'the stub encoded');
    assert.ok(
      returned.every((b) => b === 0),
      'the MP3 returned in memory is zeroed',
    );
    await assert.rejects(stat(out), { code: 'ENOENT' });
  });

  it('a 16-bit PCM stereo WAV is downmixed to mono', async () => {
    const t = tone(440, 1000, 8000);
    const data = Buffer.alloc(t.length * 4);
    t.forEach((v, i) => {
      data.writeInt16LE(v, i * 4);
      data.writeInt16LE(v, i * 4 + 2);
    });
    const h = Buffer.alloc(44);
    h.write('RIFF', 0, 'latin1');
    h.writeUInt32LE(36 + data.length, 4);
    h.write('WAVEfmt ', 8, 'latin1');
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(2, 22);
    h.writeUInt32LE(8000, 24);
    h.writeUInt32LE(32000, 28);
    h.writeUInt16LE(4, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36, 'latin1');
    h.writeUInt32LE(data.length, 40);
    const pcm = await decode(await encodeMp3(Buffer.concat([h, data]), { ...o, encoder: 'lame' }), dir);
    assert.ok(toneLevelDb(pcm, 200, 800, 440) > -3);
  });

  it('bad input is a clear error, not a crash', async () => {
    await assert.rejects(
      encodeMp3(Buffer.from('not a wave file at all'), o),
      /libmp3lame failed on a WAV in memory: not a RIFF\/WAVE file/,
    );
    const alaw = Buffer.from(wav);
    alaw.writeUInt16LE(6, 20);
    await assert.rejects(encodeMp3(alaw, o), /format 6\/8 bits is not supported/);
    await assert.rejects(encodeMp3(join(dir, 'missing.wav'), o), /cannot open .*missing\.wav/);
    await assert.rejects(
      encodeMp3(wav, { ...o, encoder: 'ffmpeg', ffmpegPath: join(dir, 'no-such-ffmpeg') }),
      /ffmpeg failed on a WAV in memory: .*no-such-ffmpeg/,
      'the configured ffmpeg (SRS_FFMPEG_PATH) is the one run',
    );
    const lame = lameAddon();
    assert.ok(lame);
    assert.throws(() => void lame.encodeMp3(wav, { ...o, quality: 12 }), /quality must be an integer 0\.\.9/);
    assert.throws(
      () => void lame.encodeMp3(wav, { ...o, bitrateKbps: 400 }),
      /bitrateKbps must be an integer/,
    );
    assert.throws(
      () => void lame.encodeMp3(wav, { ...o, background: 'yes' as unknown as boolean }),
      /background must be a boolean/,
    );
  });

  it('encodes every bitrate the configuration accepts, at its sample rate, as asked (44.1 kHz at 320 failed)', async () => {
    const lame = lameAddon();
    assert.ok(lame);
    // 8 kHz in, 44.1 kHz out: more output samples than input frames per block (the output
    // buffer was sized for the input, and lame_encode_buffer failed with -1).
    for (const sampleRate of [8000, 11025, 16000, 22050, 44100]) {
      const rates = mp3Bitrates(sampleRate);
      for (const bitrateKbps of [rates[0] as number, rates[rates.length - 1] as number]) {
        const mp3: Buffer = await lame.encodeMp3(wav, { bitrateKbps, sampleRate, quality: 7 });
        // The first audio frame after the Info frame: its header names the bitrate and sample rate.
        const p = await writeFile(join(dir, 'rate.mp3'), mp3).then(() =>
          run('ffprobe', [
            '-v',
            'error',
            '-show_entries',
            'stream=sample_rate,bit_rate',
            '-of',
            'csv=p=0',
            join(dir, 'rate.mp3'),
          ]),
        );
        assert.equal(
          p.stdout.trim(),
          `${sampleRate},${bitrateKbps * 1000}`,
          `${bitrateKbps} kbit/s at ${sampleRate} Hz`,
        );
      }
    }
  });

  it('a background encode makes the same sound and uses only CPU nothing else wants', async () => {
    const lame = lameAddon();
    assert.ok(lame);
    const before = lame.mp3BackgroundEncodes();
    checkScript(await decode(await encodeMp3(wav, { ...o, encoder: 'lame' }, true), dir), 'background');
    const after = lame.mp3BackgroundEncodes();
    assert.equal(after.idle, before.idle + 1, 'ran under SCHED_IDLE');
    assert.equal(after.refused, before.refused);

    // One core (taskset), a busy thread standing in for the live calls for 1.5 s, and two encodes
    // of a 60 s WAV started with it: the normal one shares the core and ends while the busy thread
    // runs; the background one gets (almost) nothing until the busy thread is gone.
    const long = join(dir, 'long.wav');
    const pcm = tone(500, 60_000, 8000);
    const u = encodeUlaw(pcm);
    await writeFile(long, Buffer.concat([ulawWavHeader(u.length), u]));
    const script = `
      import { createRequire } from 'node:module';
      import { Worker } from 'node:worker_threads';
      const a = createRequire(import.meta.url)(${JSON.stringify(defaultAddonPath)});
      const busy = new Worker('const end = Date.now() + 1500; while (Date.now() < end) {}', { eval: true });
      await new Promise((r) => busy.once('online', r));
      const t0 = performance.now();
      const o = { bitrateKbps: 32, sampleRate: 8000, quality: 7 };
      const at = (p) => p.then(() => performance.now() - t0);
      const [normal, background, busyEnd] = await Promise.all([
        at(a.encodeMp3(${JSON.stringify(long)}, o)),
        at(a.encodeMp3(${JSON.stringify(long)}, { ...o, background: true })),
        at(new Promise((r) => busy.once('exit', r))),
      ]);
      process.stdout.write(JSON.stringify({ normal, background, busyEnd }));`;
    const { stdout } = await run('taskset', [
      '-c',
      '0',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ]);
    const t = JSON.parse(stdout) as { normal: number; background: number; busyEnd: number };
    assert.ok(t.normal < t.busyEnd, `the normal encode ends while the core is busy (${JSON.stringify(t)})`);
    assert.ok(
      t.background > t.busyEnd,
      `the background encode waits for the idle core (${JSON.stringify(t)})`,
    );
  });
});
