/**
 * `npm run bench:pipeline`: the whole post-call pipeline against the MP3 encoder alone, in one run.
 *
 * Builds BENCH_CALLS (default 500) finished calls of BENCH_SECONDS (default 60) s each: two
 * native-format leg spools per call (two speakers taking turns, speech-band tones and noise). Then:
 *   1. the encoder alone, through the fastest path measured (bench:mp3): the same WAVs the mixer
 *      produces, encoded by libmp3lame in-process (the addon, on libuv's pool) with the pipeline's
 *      settings (32 kbit/s, 8 kHz, LAME quality 7), with the pipeline's concurrency.
 *      BENCH_BASELINE=ffmpeg runs `ffmpeg -i x.wav -ac 1 -ar 8000 -b:a 32k x.mp3` instead, with the
 *      ffmpeg the pipeline's fallback would use (system, else @ffmpeg-installer);
 *   2. the pipeline: catalogue rows in an embedded Postgres, pg-boss jobs, native mix, MP3,
 *      OpenPGP encryption of WAV and MP3, hashes, catalogue + chain, plaintext wiped.
 *   3. the floor: the work no pipeline of this design can leave out, alone and in memory: the mix,
 *      the encode and the OpenPGP encryption (with its hashes) of the WAV and the MP3; its rate
 *      against the encoder's is the best ratio any pipeline could reach (no files, no catalogue,
 *      no queue, no wipe).
 * After BENCH_WARMUP (default 20) untimed calls through all three, in BENCH_ROUNDS (default 5)
 * interleaved rounds. Reports recordings/s, how busy the cores were, audio minutes per CPU-second (this process + its ffmpeg children; the
 * Postgres server's own CPU is not counted) and the ratio pipeline/encoder (target >= 0.85).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { createLogger } from '../src/log.js';
import { loadMediaEngine } from '../src/media/index.js';
import { linearToUlaw } from '../src/media/reference/index.js';
import { DEFAULT_MP3_QUALITY, ensureKeyPair, startPipeline } from '../src/pipeline/index.js';
import { encryptToBuffer, publicKeyOf } from '../src/pipeline/pgp.js';
import { dynamicGate } from '../src/pipeline/capacity.js';
import { ffmpegBinary, lameAddon } from '../src/pipeline/mp3.js';
import { openDatabase } from '../src/store/db.js';
import { machineSpeedLine } from './lib/machine.js';
import { postgresCpu } from './lib/proc.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
/** Calls run through all three, untimed, first: a long-running server's code is compiled and warm. */
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 20));
const CORES = availableParallelism();
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? CORES);
const MP3 = { bitrateKbps: 32, sampleRate: 8000, quality: DEFAULT_MP3_QUALITY, encoder: 'lame' as const };
const BASELINE = process.env.BENCH_BASELINE === 'ffmpeg' ? 'ffmpeg' : 'lame';
const FFMPEG = ffmpegBinary(ffmpegInstaller.path);
const log = createLogger('silent');
const profile = process.env.BENCH_PROFILE === '1';
const skipBaseline = process.env.BENCH_SKIP_BASELINE === '1';
const stepMs = new Map<string, number>();
const lastStep = new Map<string, number>();

/** CPU seconds of this process and of its reaped children (ffmpeg), from /proc/self/stat. */
function cpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14..17 (1-based), i.e. 11..14 after the ')'.
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i]), 0);
  return ticks / 100;
}

/** CPU seconds of this process's main thread, its other threads, and its reaped children. */
function cpuSplit(): { main: number; threads: number; children: number } {
  const ticks = (stat: string, from: number, n: number) => {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let t = 0;
    for (let i = from; i < from + n; i++) t += Number(fields[i]);
    return t / 100;
  };
  const self = readFileSync('/proc/self/stat', 'utf8');
  const main = ticks(readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8'), 11, 2);
  return { main, threads: ticks(self, 11, 2) - main, children: ticks(self, 13, 2) };
}

/** One leg: speech-like bursts (two tones + noise) in its half of each 4 s turn, silence otherwise. */
function legSpool(seconds: number, leg: number, seed: number): Buffer {
  const head = Buffer.alloc(16);
  head.write('SRSPOOL1', 0, 'latin1');
  head.writeUInt32LE(8000, 8);
  const parts: Buffer[] = [head];
  let x = seed;
  const f1 = 300 + ((seed * 37) % 400);
  for (let off = 0; off < seconds * 8000; off += 160) {
    const turn = Math.floor(off / 16000) % 2 === leg;
    if (!turn) continue; // a gap in the spool: silence on the timeline
    const rec = Buffer.alloc(6 + 160);
    rec.writeUInt32LE(off, 0);
    rec.writeUInt16LE(160, 4);
    for (let i = 0; i < 160; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const t = (off + i) / 8000;
      const s =
        6000 * Math.sin(2 * Math.PI * f1 * t) +
        3000 * Math.sin(2 * Math.PI * 2.7 * f1 * t) +
        ((x % 2000) - 1000);
      rec[6 + i] = linearToUlaw(Math.round(s));
    }
    parts.push(rec);
  }
  return Buffer.concat(parts);
}

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err}`))));
  });
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-bench-pipeline-'));
  const dataDir = join(dir, 'data');
  const engine = loadMediaEngine({ bindAddress: '127.0.0.1' });
  process.stdout.write(
    `bench:pipeline  ${CALLS} calls x ${SECONDS} s (${((CALLS * SECONDS) / 60).toFixed(0)} audio minutes), ` +
      `concurrency ${CONCURRENCY}, MP3 ${MP3.bitrateKbps} kbit/s ${MP3.sampleRate} Hz quality ${MP3.quality}, ` +
      `baseline ${BASELINE === 'lame' ? 'libmp3lame in-process' : FFMPEG}, ` +
      `key ${process.env.BENCH_KEY_TYPE === 'curve25519' ? 'curve25519' : 'rsa4096'}\n` +
      (await machineSpeedLine()),
  );
  try {
    const db = await openDatabase({ dataDir, log, poolSize: CONCURRENCY * 2 + 4 });
    // The server's default key type (SRS_FIRST_KEY_TYPE), unless BENCH_KEY_TYPE says otherwise.
    const keyType = process.env.BENCH_KEY_TYPE === 'curve25519' ? 'curve25519' : 'rsa4096';
    const key = await ensureKeyPair({
      keysDir: join(dataDir, 'keys'),
      passphrase: 'bench',
      log,
      db,
      type: keyType,
    });
    // Spools for the pipeline, and the same calls mixed to WAV for the ffmpeg baseline.
    const all: string[] = [];
    const wavDir = join(dir, 'wav');
    await mkdir(wavDir);
    const legs = [legSpool(SECONDS, 0, 1), legSpool(SECONDS, 1, 2)];
    for (let i = 0; i < CALLS + WARMUP; i++) {
      const id = randomUUID();
      all.push(id);
      const spool = join(dataDir, 'spool', id);
      await mkdir(spool, { recursive: true });
      await writeFile(join(spool, 'leg0.spool'), legs[0] as Buffer);
      await writeFile(join(spool, 'leg1.spool'), legs[1] as Buffer);
      await db.recordings.create({
        id,
        sessionId: `bench-${i}`,
        callId: `bench-${i}@bench`,
        srcAddress: '127.0.0.1:5060',
        startedAt: new Date(),
        participants: [
          { participantId: 'a', aor: `sip:${1000 + i}@pbx`, name: 'A', sendsLabels: ['1'] },
          { participantId: 'b', aor: 'sip:2000@pbx', name: 'B', sendsLabels: ['2'] },
        ],
        streams: [
          { label: '1', streamId: null, legId: 'leg0', codec: 'PCMU', port: 20000 },
          { label: '2', streamId: null, legId: 'leg1', codec: 'PCMU', port: 20002 },
        ],
        metadataXml: null,
      });
      await db.recordings.markEnded(id, new Date(), SECONDS * 1000, null);
    }
    const ids = all.slice(0, CALLS);
    const warm = all.slice(CALLS);
    // The baseline's inputs: the mixer's own output for each call (mixing is not timed here).
    const wavs: string[] = [];
    const firstSpool = join(dataDir, 'spool', ids[0] as string);
    const refWav = join(wavDir, 'ref.wav');
    await engine.mix({ spoolDir: firstSpool, wavPath: refWav });
    const ref = readFileSync(refWav);
    // The floor's spool: the same two legs, mixed again for every recording (never wiped).
    const floorSpool = join(dir, 'floor-spool');
    await mkdir(floorSpool);
    await writeFile(join(floorSpool, 'leg0.spool'), legs[0] as Buffer);
    await writeFile(join(floorSpool, 'leg1.spool'), legs[1] as Buffer);
    const publicKey = await publicKeyOf(key.publicKeyArmored);
    const encodeGate = dynamicGate(() => CONCURRENCY);
    for (let i = 0; i < CALLS; i++) {
      const p = join(wavDir, `${i}.wav`);
      await writeFile(p, ref);
      wavs.push(p);
    }

    // The two are run in interleaved rounds (ffmpeg on one slice, the pipeline on the same-sized
    // next slice, ...) so that load from anything else on the machine hits both alike.
    const pipeline = await startPipeline({
      db,
      mixer: engine,
      dataDir,
      log,
      concurrency: CONCURRENCY,
      mp3: MP3,
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
      pollingIntervalSeconds: 0.5,
      afterStep: profile
        ? (step, id) => {
            const now = performance.now();
            const last = lastStep.get(id);
            if (last !== undefined) stepMs.set(step, (stepMs.get(step) ?? 0) + now - last);
            lastStep.set(id, now);
          }
        : undefined,
    });
    let ffWall = 0;
    let ffCpu = 0;
    let plWall = 0;
    let plCpu = 0;
    let ffPg = 0;
    let plPg = 0;
    let flWall = 0;
    let flCpu = 0;
    const split = { main: 0, threads: 0, children: 0 };
    const lame = lameAddon();
    if (BASELINE === 'lame' && !lame)
      throw new Error('the addon has no encodeMp3: rebuild it (node-gyp rebuild)');
    /** The floor's work for one call: mix, encode (in an encode slot), encrypt both, in memory. */
    const floorOne = async (id: string) => {
      const wav = (await engine.mix({ spoolDir: floorSpool })).data as Buffer;
      const release = await encodeGate.acquire();
      const mp3 = await (lame ? lame.encodeMp3(wav, MP3) : Promise.resolve(Buffer.alloc(0))).finally(release);
      await encryptToBuffer(wav, publicKey, `${id}.wav`);
      await encryptToBuffer(mp3, publicKey, `${id}.mp3`);
    };
    // Warm-up, untimed.
    if (lame)
      await pool(wavs.slice(0, WARMUP), CONCURRENCY, async (w) => void (await lame.encodeMp3(w, MP3)));
    for (const id of warm) await pipeline.enqueueFinalize(id);
    await pipeline.idle();
    await pool(warm, CONCURRENCY * 2 + 1, floorOne);
    stepMs.clear();
    lastStep.clear();
    const per = Math.ceil(CALLS / ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      const slice = [r * per, Math.min(CALLS, (r + 1) * per)] as const;
      // 1. the encoder alone (BENCH_SKIP_BASELINE=1 leaves it out, e.g. to profile the pipeline alone)
      let c0 = cpuSeconds();
      let g0 = postgresCpu(dataDir);
      let t0 = process.hrtime.bigint();
      await pool(skipBaseline ? [] : wavs.slice(...slice), CONCURRENCY, async (w) => {
        if (BASELINE === 'lame' && lame) {
          await lame.encodeMp3(w, MP3);
          return;
        }
        await runFfmpeg([
          '-hide_banner',
          '-nostats',
          '-loglevel',
          'error',
          '-y',
          '-i',
          w,
          '-vn',
          '-acodec',
          'libmp3lame',
          '-ac',
          '1',
          '-ar',
          String(MP3.sampleRate),
          '-b:a',
          `${MP3.bitrateKbps}k`,
          '-f',
          'mp3',
          `${w}.mp3`,
        ]);
      });
      ffWall += Number(process.hrtime.bigint() - t0) / 1e9;
      ffCpu += cpuSeconds() - c0;
      ffPg += postgresCpu(dataDir) - g0;
      // 2. the pipeline
      c0 = cpuSeconds();
      g0 = postgresCpu(dataDir);
      const s0 = cpuSplit();
      t0 = process.hrtime.bigint();
      for (const id of ids.slice(...slice)) await pipeline.enqueueFinalize(id);
      await pipeline.idle();
      plWall += Number(process.hrtime.bigint() - t0) / 1e9;
      plCpu += cpuSeconds() - c0;
      plPg += postgresCpu(dataDir) - g0;
      const s1 = cpuSplit();
      split.main += s1.main - s0.main;
      split.threads += s1.threads - s0.threads;
      split.children += s1.children - s0.children;
      // 3. the floor: mix, encode, encrypt both, in memory
      c0 = cpuSeconds();
      t0 = process.hrtime.bigint();
      // As the pipeline runs them: CONCURRENCY encodes at once, 2 x CONCURRENCY + 1 jobs in progress.
      await pool(skipBaseline ? [] : ids.slice(...slice), CONCURRENCY * 2 + 1, floorOne);
      flWall += Number(process.hrtime.bigint() - t0) / 1e9;
      flCpu += cpuSeconds() - c0;
    }
    await pipeline.stop();
    const stored = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM recordings WHERE state = 'stored'`,
    );
    await db.close();

    const minutes = (CALLS * SECONDS) / 60;
    if (profile)
      process.stdout.write(
        `per-step ms per recording (BENCH_PROFILE): ${[...stepMs].map(([k, v]) => `${k} ${(v / CALLS).toFixed(1)}`).join(', ')}\n` +
          `pipeline CPU ms per recording: main thread ${((split.main * 1000) / CALLS).toFixed(1)}, ` +
          `other threads ${((split.threads * 1000) / CALLS).toFixed(1)}, children (ffmpeg) ${((split.children * 1000) / CALLS).toFixed(1)}, ` +
          `Postgres ${((plPg * 1000) / CALLS).toFixed(1)}\n`,
      );
    const line = (name: string, wall: number, cpu: number) =>
      `${name.padEnd(14)} ${wall.toFixed(1).padStart(7)} s wall  ${(CALLS / wall).toFixed(2).padStart(7)} recordings/s  ` +
      `${cpu.toFixed(1).padStart(7)} CPU-s  ${(minutes / cpu).toFixed(2).padStart(6)} audio min/CPU-s\n`;
    process.stdout.write(line(BASELINE === 'lame' ? 'libmp3lame' : 'bare ffmpeg', ffWall, ffCpu));
    process.stdout.write(line('pipeline', plWall, plCpu));
    if (!skipBaseline) process.stdout.write(line('floor', flWall, flCpu));
    // Idle cores show up here: a phase that waits (on the disk, on a lock) leaves them unused.
    const busy = (cpu: number, wall: number) => `${((100 * cpu) / (CORES * wall)).toFixed(0)} %`;
    process.stdout.write(
      `cores busy (this process${plPg > 0 ? ', + Postgres in the pipeline phase' : ''}, of ${CORES}): ` +
        `encoder ${busy(ffCpu, ffWall)}, pipeline ${busy(plCpu + plPg, plWall)}` +
        (skipBaseline ? '\n' : `, floor ${busy(flCpu, flWall)}\n`),
    );
    process.stdout.write(
      `stored ${stored.rows[0]?.n}/${CALLS + WARMUP} (${WARMUP} of them warm-up); pipeline/encoder rate ratio ${(ffWall / plWall).toFixed(3)} ` +
        `(target >= 0.85: ${ffWall / plWall >= 0.85 ? 'PASS' : 'FAIL'}); ` +
        `CPU cost ratio encoder/pipeline ${(ffCpu / plCpu).toFixed(3)}; ` +
        (skipBaseline
          ? ''
          : `floor (mix + encode + encryption in memory) /encoder rate ratio ${(ffWall / flWall).toFixed(3)}, ` +
            `pipeline/floor ${(flWall / plWall).toFixed(3)}; `) +
        `Postgres server CPU ${ffPg.toFixed(1)} s (encoder phase), ${plPg.toFixed(1)} s (pipeline phase)\n`,
    );
  } finally {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
