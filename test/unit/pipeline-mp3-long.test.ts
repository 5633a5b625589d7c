/**
 * A very long recording through the addon's MP3 encoder, by path into a file: its memory stays a
 * few blocks whatever the length. Before, the whole WAV was read into memory and the whole MP3
 * returned as a Buffer (149 h allowed by SRS_MAX_DURATION: 4.3 GB of WAV, past Node's 4 GiB Buffer).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { defaultAddonPath } from '../../src/media/index.js';
import { ulawWavHeader } from '../../src/media/wav.js';
import { encodeUlaw, SAMPLE_RATE, tone, toneLevelDb, toneWav } from '../helpers/audio.js';

const run = promisify(execFile);
/** An independent decoder: Debian's ffmpeg when present (as the README's prerequisites install). */
const FFMPEG = process.env.SRS_TEST_FFMPEG ?? '/usr/bin/ffmpeg';

/** Decodes an MP3 as a stream (never whole in memory): its length in samples and 1 s of it from `at`. */
async function decodeStreaming(file: string, at: number): Promise<{ samples: number; window: Int16Array }> {
  const window = new Int16Array(SAMPLE_RATE);
  let samples = 0;
  let carry: number | undefined;
  const take = (v: number) => {
    if (samples >= at && samples < at + SAMPLE_RATE) window[samples - at] = v;
    samples++;
  };
  const ff = spawn(FFMPEG, [
    '-nostdin',
    '-loglevel',
    'error',
    '-i',
    file,
    '-f',
    's16le',
    '-ac',
    '1',
    '-ar',
    '8000',
    '-',
  ]);
  let stderr = '';
  ff.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  ff.stdout.on('data', (d: Buffer) => {
    let i = 0;
    if (carry !== undefined) {
      take(((carry | (d[0]! << 8)) << 16) >> 16);
      carry = undefined;
      i = 1;
    }
    for (; i + 1 < d.length; i += 2) take(d.readInt16LE(i));
    if (i < d.length) carry = d[i];
  });
  const code = await new Promise<number | null>((resolve) => ff.once('close', resolve));
  assert.equal(code, 0, stderr);
  assert.equal(stderr.trim(), '', 'decoded without an error');
  return { samples, window };
}

describe('MP3 encoding of a very long recording', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-mp3-long-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a half-hour WAV file is encoded into a file holding a few blocks in memory, not the recording', async (t) => {
    // 30 min of a 500 Hz tone: 14.4 MB of u-law, written a minute at a time (the whole-file reader
    // this replaced held it and the 7.2 MB MP3: 21.6 MB, against a few 8,192-frame blocks now).
    const long = join(dir, 'half-hour.wav');
    const seconds = 1800;
    const minute = encodeUlaw(tone(500, 60_000, 10000));
    const fh = await open(long, 'w');
    try {
      await fh.write(ulawWavHeader(seconds * SAMPLE_RATE));
      for (let m = 0; m < seconds / 60; m++) await fh.write(minute);
    } finally {
      await fh.close();
    }
    const short = join(dir, 'short.wav');
    await writeFile(short, toneWav(2000, 500));
    const out = join(dir, 'half-hour.mp3');
    // A child of its own: its peak RSS (VmHWM) after a short encode the same way, then after the long one.
    const script = `
      import { readFileSync } from 'node:fs';
      import { createRequire } from 'node:module';
      const a = createRequire(import.meta.url)(${JSON.stringify(defaultAddonPath)});
      const hwm = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const o = { bitrateKbps: 32, sampleRate: 8000, quality: 7 };
      await a.encodeMp3(${JSON.stringify(short)}, { ...o, outPath: ${JSON.stringify(`${out}.short`)} });
      const before = hwm();
      const bytes = await a.encodeMp3(${JSON.stringify(long)}, { ...o, outPath: ${JSON.stringify(out)} });
      process.stdout.write(JSON.stringify({ before, after: hwm(), bytes }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const m = JSON.parse(stdout) as { before: number; after: number; bytes: number };
    const grew = m.after - m.before;
    t.diagnostic(`peak RSS ${(m.before / 1e6).toFixed(1)} MB before, grew ${(grew / 1e6).toFixed(2)} MB`);
    // The whole-file reader it replaced grew by 86.9 MB for two hours (the WAV, then the MP3, in
    // memory); the block reader by 0.08-0.84 MB.
    assert.ok(grew < 6e6, `peak RSS grew by ${(grew / 1e6).toFixed(1)} MB for a 14.4 MB WAV`);
    assert.equal(m.bytes, (await stat(out)).size);
    assert.ok(Math.abs(m.bytes - 7_200_000) < 10_000, `${m.bytes} bytes: 30 min at 32 kbit/s`);
    await rm(long);

    // The Info frame written back at offset 0 lets the decoder trim LAME's delay and padding.
    const { samples, window } = await decodeStreaming(out, 900 * SAMPLE_RATE);
    assert.ok(
      Math.abs(samples / SAMPLE_RATE - seconds) <= 0.1,
      `decoded ${samples / SAMPLE_RATE} s of ${seconds}`,
    );
    assert.ok(toneLevelDb(window, 0, 1000, 500) > -3, 'the 500 Hz tone 15 minutes in');
  });
});
