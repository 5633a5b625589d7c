/**
 * `npm run bench:mp3`: which MP3 encoder, and which LAME quality, for 8 kHz speech.
 *
 * One BENCH_MINUTES (default 10) minute 8 kHz u-law speech-like WAV (bench/lib/speech.ts) is encoded
 * to mono 32 kbit/s 8 kHz MP3 by: the @ffmpeg-installer static ffmpeg (2018), the system ffmpeg
 * (Debian 5.1) at its default and at -compression_level 7, and libmp3lame in-process (the addon)
 * at each LAME quality in BENCH_QUALITIES (default 0,2,3,5,7,9). Each is run BENCH_REPEAT (default 3)
 * times; the least CPU is reported (ffmpeg: the child's utime+stime; in-process: this process's).
 * Quality proxy: each MP3 is decoded (system ffmpeg) and compared with the u-law source, aligned
 * by cross-correlation: log-spectral distance (dB, 256-point frames with energy) and SNR.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { ULAW_DECODE } from '../src/media/reference/index.js';
import { lameAddon } from '../src/pipeline/mp3.js';
import { speechLikePcm, ulawWav } from './lib/speech.js';

const MINUTES = Number(process.env.BENCH_MINUTES ?? 10);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
const QUALITIES = (process.env.BENCH_QUALITIES ?? '0,2,3,5,7,9').split(',').map(Number);
const SYSTEM_FFMPEG = '/usr/bin/ffmpeg';

function childTicks(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

function runChild(bin: string, args: string[]): Promise<number> {
  const before = childTicks();
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-1000)));
    p.once('error', reject);
    p.once('close', (code) =>
      code === 0
        ? resolve((childTicks() - before) / 100)
        : reject(new Error(`${bin} exited ${code}: ${err}`)),
    );
  });
}

function decodeMp3(path: string): Int16Array {
  const r = spawnSync(
    SYSTEM_FFMPEG,
    ['-nostdin', '-loglevel', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', '8000', '-'],
    {
      maxBuffer: 1 << 30,
    },
  );
  if (r.status !== 0) throw new Error(`decoding ${path} failed: ${r.stderr.toString()}`);
  const b = r.stdout;
  return new Int16Array(b.buffer, b.byteOffset, b.length >> 1);
}

function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j] as number, re[i] as number];
      [im[i], im[j]] = [im[j] as number, im[i] as number];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const a = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(a * k);
        const wi = Math.sin(a * k);
        const p = i + k;
        const q = p + len / 2;
        const tr = (re[q] as number) * wr - (im[q] as number) * wi;
        const ti = (re[q] as number) * wi + (im[q] as number) * wr;
        re[q] = (re[p] as number) - tr;
        im[q] = (im[p] as number) - ti;
        re[p] = (re[p] as number) + tr;
        im[p] = (im[p] as number) + ti;
      }
    }
  }
}

/** The lag (samples) of `dec` against `src`, by cross-correlation over a voiced stretch. */
function lagOf(src: Float64Array, dec: Int16Array): number {
  const from = 8000;
  const len = 16000;
  let best = 0;
  let bestC = -Infinity;
  for (let lag = -1200; lag <= 1200; lag++) {
    let c = 0;
    for (let i = from; i < from + len; i++) c += (src[i] as number) * (dec[i + lag] ?? 0);
    if (c > bestC) {
      bestC = c;
      best = lag;
    }
  }
  return best;
}

function compare(src: Float64Array, dec: Int16Array): { lsdDb: number; snrDb: number; lag: number } {
  const lag = lagOf(src, dec);
  const N = 256;
  let lsd = 0;
  let frames = 0;
  let sig = 0;
  let noise = 0;
  const win = Float64Array.from({ length: N }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N));
  for (let off = 0; off + N < src.length && off + lag + N < dec.length; off += N) {
    let e = 0;
    for (let i = 0; i < N; i++) {
      const s = src[off + i] as number;
      const d = dec[off + lag + i] ?? 0;
      e += s * s;
      sig += s * s;
      noise += (s - d) * (s - d);
    }
    if (e / N < 300 * 300) continue; // pauses: no speech to judge
    const ar = new Float64Array(N);
    const ai = new Float64Array(N);
    const br = new Float64Array(N);
    const bi = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      ar[i] = (src[off + i] as number) * (win[i] as number);
      br[i] = (dec[off + lag + i] ?? 0) * (win[i] as number);
    }
    fft(ar, ai);
    fft(br, bi);
    let d2 = 0;
    // 100 Hz .. 3.6 kHz: the band telephony carries.
    const lo = Math.round((100 * N) / 8000);
    const hi = Math.round((3600 * N) / 8000);
    for (let k = lo; k <= hi; k++) {
      const pa = (ar[k] as number) ** 2 + (ai[k] as number) ** 2 + 1e3;
      const pb = (br[k] as number) ** 2 + (bi[k] as number) ** 2 + 1e3;
      d2 += (10 * Math.log10(pa / pb)) ** 2;
    }
    lsd += Math.sqrt(d2 / (hi - lo + 1));
    frames++;
  }
  return { lsdDb: lsd / Math.max(1, frames), snrDb: 10 * Math.log10(sig / Math.max(1, noise)), lag };
}

interface Row {
  encoder: string;
  cpu: number;
  bytes: number;
  lsdDb: number;
  snrDb: number;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-bench-mp3-'));
  try {
    const wav = ulawWav(speechLikePcm(MINUTES * 60, 7));
    const wavPath = join(dir, 'in.wav');
    await writeFile(wavPath, wav);
    const src = new Float64Array(wav.length - 58);
    for (let i = 0; i < src.length; i++) src[i] = ULAW_DECODE[wav[58 + i] as number] as number;
    process.stdout.write(
      `bench:mp3  ${MINUTES} min 8 kHz u-law speech-like WAV -> mono MP3 32 kbit/s 8 kHz, best of ${REPEAT}\n`,
    );
    const rows: Row[] = [];
    const ffArgs = (extra: string[], out: string) => [
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-i',
      wavPath,
      '-ac',
      '1',
      '-ar',
      '8000',
      '-b:a',
      '32k',
      ...extra,
      '-f',
      'mp3',
      out,
    ];
    const measureFfmpeg = async (name: string, bin: string, extra: string[]) => {
      if (!existsSync(bin)) {
        process.stdout.write(`  ${name}: ${bin} not found, skipped\n`);
        return;
      }
      const out = join(dir, `${rows.length}.mp3`);
      let cpu = Infinity;
      for (let r = 0; r < REPEAT; r++) cpu = Math.min(cpu, await runChild(bin, ffArgs(extra, out)));
      const q = compare(src, decodeMp3(out));
      rows.push({ encoder: name, cpu, bytes: readFileSync(out).length, ...q });
    };
    await measureFfmpeg('@ffmpeg-installer static ffmpeg (2018)', ffmpegInstaller.path, []);
    await measureFfmpeg('system ffmpeg (default quality)', SYSTEM_FFMPEG, []);
    await measureFfmpeg('system ffmpeg -compression_level 7', SYSTEM_FFMPEG, ['-compression_level', '7']);
    const lame = lameAddon();
    if (!lame) throw new Error('the addon has no encodeMp3: rebuild it (npm install / node-gyp rebuild)');
    for (const quality of QUALITIES) {
      let cpu = Infinity;
      let mp3: Buffer = Buffer.alloc(0);
      for (let r = 0; r < REPEAT; r++) {
        const t0 = process.cpuUsage();
        mp3 = await lame.encodeMp3(wav, { bitrateKbps: 32, sampleRate: 8000, quality });
        const t = process.cpuUsage(t0);
        cpu = Math.min(cpu, (t.user + t.system) / 1e6);
      }
      const out = join(dir, `lame-${quality}.mp3`);
      await writeFile(out, mp3);
      rows.push({
        encoder: `in-process libmp3lame ${lame.lameVersion}, quality ${quality}`,
        cpu,
        bytes: mp3.length,
        ...compare(src, decodeMp3(out)),
      });
    }
    process.stdout.write(
      '| encoder | CPU s | s CPU per audio-minute | bytes | log-spectral distance dB | SNR dB |\n|---|---|---|---|---|---|\n',
    );
    for (const r of rows) {
      process.stdout.write(
        `| ${r.encoder} | ${r.cpu.toFixed(2)} | ${(r.cpu / MINUTES).toFixed(3)} | ${r.bytes} | ${r.lsdDb.toFixed(2)} | ${r.snrDb.toFixed(1)} |\n`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:mp3 failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
