/**
 * `npm run bench:media`: how many concurrent calls the native media engine records without loss on
 * this machine, with the RTP sender running on the same machine.
 *
 * By default the receiver-bound harness runs (bench/receive-bound.ts, BENCH-METHOD.md): sender and
 * receiver pinned to different cores, RPS on lo, keep-up and kernel drops counted, the engine
 * against a bare sink with the engine's batching; BENCH_CALLS (default 1500,...,4000),
 * BENCH_SECONDS (12), BENCH_PASSES (3), BENCH_PORT (40000). BENCH_MODE=loopback runs the older
 * plain-loopback table below (sender-bound on 2 cores: its ratio cannot fail).
 *
 * For each N (calls; two RTP streams each, 50 packets/s per stream, 20 ms u-law):
 *   1. engine: N sessions opened in this process's engine, native/bench/rtpbench.cc sends for D
 *      seconds with sendmmsg, the sessions are closed and their counters summed;
 *   2. sink: the same sender against a bare epoll + recvmmsg sink (rtpbench sink) on the same ports.
 * Then a saturation run: the sender as fast as it can, engine vs sink, at SATURATE calls.
 * Prints a table: packets sent/recorded, loss, the engine's CPU (% of one core) and memory per call,
 * what the bare sink received of the same load, and from the saturation run the engine/sink
 * packet-rate ratio. Not a test: it asserts nothing.
 *
 * Then the codec column: for PCMU, G.729, Opus and SRTP (AES_CM_128_HMAC_SHA1_80) PCMU, the engine's
 * CPU per packet (decrypt + decode + resample + spool) and the highest call count of
 * BENCH_CODEC_CALLS recorded with zero loss, each against the same run's PCMU figure, and the RSS
 * per call once every leg has its decoder.
 *
 * Ports: even ports from BENCH_PORT up, skipping any another process holds (engine and sink each
 * bind their own and the sender sends only to the ports of the run's receiver). Options (env): BENCH_CALLS="500,1000,2000" BENCH_SECONDS=5
 * BENCH_SATURATE=2000 BENCH_PORT=20000 BENCH_CODEC_CALLS="250,500,1000" BENCH_CODEC_SECONDS=3
 * BENCH_ONLY=codecs (skip the PCMU table and the saturation run)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadMediaEngine, PortInUseError, type LegSpec } from '../src/media/index.js';
import { machineSpeedLine } from './lib/machine.js';
import { buildRtpbench, writeOpusPayloads } from './lib/rtpbench-tool.js';
import { receiveBound } from './receive-bound.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOOL = join(ROOT, 'build', 'bench', 'rtpbench');
const CALLS = (process.env.BENCH_CALLS ?? '250,500,1000,1500,2000,2500,3000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SATURATE = Number(process.env.BENCH_SATURATE ?? 2000);
const BASE_PORT = Number(process.env.BENCH_PORT ?? 20000);
const CODEC_CALLS = (process.env.BENCH_CODEC_CALLS ?? '250,500,1000').split(',').map(Number);
const CODEC_SECONDS = Number(process.env.BENCH_CODEC_SECONDS ?? 3);
const ONLY_CODECS = process.env.BENCH_ONLY === 'codecs';
const FFMPEG = join(ROOT, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
/** rtpbench's SRTP master key + salt (kBenchKey in native/bench/rtpbench.cc). */
const BENCH_KEY = Buffer.from(Array.from({ length: 30 }, (_, i) => i + 1));
const WORK = mkdtempSync(join(tmpdir(), 'srs-bench-'));
const PORTS_FILE = join(WORK, 'ports');
const HOST = '127.0.0.1';

type BenchCodec = 'PCMU' | 'G729' | 'opus' | 'SRTP-PCMU';
const OPUS_FILE = join(WORK, 'opus.payloads');
const build = () => buildRtpbench(ROOT, TOOL);
const makeOpusPayloads = () => writeOpusPayloads(FFMPEG, OPUS_FILE);

function codecArg(codec: BenchCodec): string {
  return codec === 'PCMU'
    ? 'pcmu'
    : codec === 'G729'
      ? 'g729'
      : codec === 'opus'
        ? `opus:${OPUS_FILE}`
        : 'srtp';
}

function legSpec(codec: BenchCodec, legId: string, port: number): LegSpec {
  if (codec === 'G729') return { legId, port, payloadTypes: { 18: { codec: 'G729', clockRate: 8000 } } };
  if (codec === 'opus')
    return { legId, port, payloadTypes: { 111: { codec: 'opus', clockRate: 48000, channels: 2 } } };
  const payloadTypes = { 0: 'PCMU' as const, 8: 'PCMA' as const, 101: 'telephone-event' as const };
  if (codec === 'SRTP-PCMU')
    return {
      legId,
      port,
      payloadTypes,
      srtp: { suite: 'AES_CM_128_HMAC_SHA1_80', keySalt: Buffer.from(BENCH_KEY) },
    };
  return { legId, port, payloadTypes };
}

interface SendResult {
  sent: number;
  errors: number;
  seconds: number;
  cpuSeconds: number;
}
interface SinkResult {
  received: number;
  seconds: number;
  cpuSeconds: number;
}

/** Runs rtpbench; resolves with its last JSON line. `onReady` fires on its "ready" line. */
function tool<T>(args: string[], onReady?: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(TOOL, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (onReady && out.includes('ready\n')) {
        const f = onReady;
        onReady = undefined;
        f();
      }
    });
    p.once('error', reject);
    p.once('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`rtpbench ${args.join(' ')} failed (${code}): ${out}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

const send = (legs: number, seconds: number, rate: string, codec: BenchCodec = 'PCMU'): Promise<SendResult> =>
  tool<SendResult>(['send', HOST, PORTS_FILE, String(legs), String(seconds), rate, codecArg(codec)]);

interface EngineRun {
  send: SendResult;
  recorded: number;
  lost: number;
  cpuSeconds: number;
  /** CPU until every session is closed: what the worker still had queued is decoded at the close. */
  cpuWithCloseSeconds: number;
  rssPerCallKiB: number;
  heapPerCallKiB: number;
}

async function engineRun(
  calls: number,
  seconds: number,
  rate: string,
  codec: BenchCodec = 'PCMU',
): Promise<EngineRun> {
  const spoolRoot = mkdtempSync(join(WORK, 'spool-'));
  const engine = loadMediaEngine({ bindAddress: HOST });
  engine.onEvents(() => {});
  try {
    if (global.gc) global.gc();
    const mem0 = process.memoryUsage();
    const ports: number[] = [];
    let next = BASE_PORT;
    for (let c = 0; c < calls; c++) {
      for (;;) {
        if (next + 2 > 65534) throw new Error(`not enough free even ports from ${BASE_PORT}`);
        const pair = [next, next + 2];
        next += 4;
        try {
          engine.openSession({
            recordingId: `bench-${c}`,
            spoolDir: join(spoolRoot, String(c)),
            legs: pair.map((port, l) => legSpec(codec, `leg${l}`, port)),
          });
          ports.push(...pair);
          break;
        } catch (err) {
          if (!(err instanceof PortInUseError)) throw err;
          rmSync(join(spoolRoot, String(c)), { recursive: true, force: true });
        }
      }
    }
    writeFileSync(PORTS_FILE, ports.join('\n') + '\n');
    // The engine's worker makes each session's spool directory, files and session.json in its next
    // pass after the open: let it finish, so that the window below measures receiving, not opening.
    const opened = Date.now();
    while (!existsSync(join(spoolRoot, String(calls - 1), 'session.json')) && Date.now() - opened < 10_000)
      await sleep(20);
    await sleep(200);
    const cpu0 = process.cpuUsage();
    const s = await send(2 * calls, seconds, rate, codec);
    await sleep(300); // the last packets reach the sockets and the worker
    const cpu = process.cpuUsage(cpu0);
    const mem1 = process.memoryUsage();
    let recorded = 0;
    let lost = 0;
    for (let c = 0; c < calls; c++) {
      const st = engine.closeSession(`bench-${c}`);
      for (const l of st?.legs ?? []) {
        recorded += l.packetsReceived;
        lost += l.packetsLost;
      }
    }
    const cpuClosed = process.cpuUsage(cpu0);
    return {
      send: s,
      recorded,
      lost,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      cpuWithCloseSeconds: (cpuClosed.user + cpuClosed.system) / 1e6,
      rssPerCallKiB: (mem1.rss - mem0.rss) / 1024 / calls,
      heapPerCallKiB: (mem1.heapUsed + mem1.external - mem0.heapUsed - mem0.external) / 1024 / calls,
    };
  } finally {
    engine.close();
    rmSync(spoolRoot, { recursive: true, force: true });
  }
}

async function sinkRun(
  calls: number,
  seconds: number,
  rate: string,
): Promise<{ send: SendResult; sink: SinkResult }> {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  // The sink binds its own free ports and lists them; the sender then sends only to those.
  const sink = tool<SinkResult>(
    ['sink', HOST, PORTS_FILE, String(2 * calls), String(seconds), String(BASE_PORT)],
    ready,
  );
  await isReady;
  const s = await send(2 * calls, seconds, rate);
  return { send: s, sink: await sink };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The codec column: per-packet CPU, zero-loss calls and RSS per call of each codec, against PCMU. */
async function codecColumn(): Promise<void> {
  await makeOpusPayloads();
  console.log(
    `codec column: ${CODEC_SECONDS} s per run at ${CODEC_CALLS.join(', ')} calls (2 streams each, 50 packets/s)`,
  );
  console.log(
    'codec | engine CPU per packet | vs PCMU | highest calls with zero loss | vs PCMU | RSS per call (decoders made)',
  );
  let pcmuUs = 0;
  let pcmuBest = 0;
  for (const codec of ['PCMU', 'G729', 'opus', 'SRTP-PCMU'] as const) {
    let best = 0;
    let us = 0;
    let rss = 0;
    const runs: string[] = [];
    for (const calls of CODEC_CALLS) {
      const e = await engineRun(calls, CODEC_SECONDS, '50', codec);
      const loss = e.send.sent - e.recorded;
      const kept = e.send.seconds <= CODEC_SECONDS * 1.03;
      runs.push(`${calls}: ${e.recorded}/${e.send.sent}${kept ? '' : ' (sender late)'}`);
      if (loss === 0 && e.send.errors === 0 && kept) best = Math.max(best, calls);
      // CPU per packet (all of the process's threads) at the first, smallest count: the same load for every codec.
      if (us === 0) {
        us = (1e6 * e.cpuWithCloseSeconds) / Math.max(1, e.recorded);
        rss = e.rssPerCallKiB;
      }
    }
    if (codec === 'PCMU') {
      pcmuUs = us;
      pcmuBest = best;
    }
    console.log(
      [
        codec,
        `${us.toFixed(2)} us`,
        `x${(us / pcmuUs).toFixed(2)}`,
        `${best}${best === CODEC_CALLS[CODEC_CALLS.length - 1] ? ' (all tried)' : ''}`,
        pcmuBest > 0 ? `x${(best / pcmuBest).toFixed(2)}` : '-',
        `${rss.toFixed(1)} KiB`,
        `recorded/sent ${runs.join(', ')}`,
      ].join(' | '),
    );
  }
}

async function main(): Promise<void> {
  build();
  process.stdout.write(await machineSpeedLine());
  if (ONLY_CODECS) {
    await codecColumn();
    return;
  }
  console.log(
    `media engine benchmark: ${SECONDS} s per run, 2 streams per call at 50 packets/s, sender (sendmmsg) on this machine`,
  );
  console.log(
    'calls | offered pkt/s (target) | sent pkts | recorded | loss | sink recv | engine CPU (of 1 core) | CPU per call | RSS per call | sender CPU',
  );
  let best = 0;
  let worstRssPerCall = 0;
  for (const calls of CALLS) {
    const e = await engineRun(calls, SECONDS, '50');
    const k = await sinkRun(calls, SECONDS, '50');
    const loss = e.send.sent - e.recorded;
    // The sender keeps an absolute schedule; if it ran long, it could not offer the full rate.
    const kept = e.send.seconds <= SECONDS * 1.03;
    if (loss === 0 && e.send.errors === 0 && kept) best = Math.max(best, calls);
    worstRssPerCall = Math.max(worstRssPerCall, e.rssPerCallKiB);
    console.log(
      [
        calls,
        `${Math.round(e.send.sent / e.send.seconds)} (${calls * 100})${kept ? '' : ' sender overloaded'}`,
        e.send.sent,
        e.recorded,
        `${loss} (${pct(loss / Math.max(1, e.send.sent))})`,
        `${k.sink.received} of ${k.send.sent}`,
        pct(e.cpuSeconds / e.send.seconds),
        `${((1000 * e.cpuSeconds) / e.send.seconds / calls).toFixed(3)} ms/s`,
        `${e.rssPerCallKiB.toFixed(1)} KiB`,
        pct(e.send.cpuSeconds / e.send.seconds),
      ].join(' | '),
    );
  }
  console.log(`highest N with zero loss: ${best} calls (${best * 100} packets/s)`);

  const e = await engineRun(SATURATE, 3, 'max');
  const k = await sinkRun(SATURATE, 3, 'max');
  const engineRate = e.recorded / e.send.seconds;
  const sinkRate = k.sink.received / k.send.seconds;
  console.log(
    `saturation (${SATURATE} calls, sender as fast as it can for 3 s): engine recorded ${Math.round(engineRate)} pkt/s ` +
      `of ${Math.round(e.send.sent / e.send.seconds)} sent; bare recvmmsg sink ${Math.round(sinkRate)} pkt/s of ` +
      `${Math.round(k.send.sent / k.send.seconds)} sent; ratio ${(engineRate / sinkRate).toFixed(3)}`,
  );
  // With one sender on a 2-core machine the sender is usually the limit, so also compare the CPU
  // each receiver spends per packet: the capacity ratio if the receiver had a core to itself.
  const engineUs = (1e6 * e.cpuSeconds) / Math.max(1, e.recorded);
  const sinkUs = (1e6 * k.sink.cpuSeconds) / Math.max(1, k.sink.received);
  console.log(
    `CPU per packet: engine ${engineUs.toFixed(2)} us (parse, reorder, spool, events; JS thread included), ` +
      `bare sink ${sinkUs.toFixed(2)} us; per-core capacity ratio ${(sinkUs / engineUs).toFixed(3)} ` +
      `(~${Math.round(1e6 / engineUs)} vs ~${Math.round(1e6 / sinkUs)} packets/s per core)`,
  );
  const ok = (b: boolean): string => (b ? 'met' : 'NOT met');
  console.log(
    `against the targets (${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)} at the end): ` +
      `zero loss at 2000 calls: ${ok(best >= 2000)} (highest tried with zero loss: ${best}); ` +
      `memory per call < 100 KiB: ${ok(worstRssPerCall < 100)} (worst ${worstRssPerCall.toFixed(1)} KiB RSS); ` +
      `engine/sink rate >= 0.8: ${ok(engineRate / sinkRate >= 0.8)} (${(engineRate / sinkRate).toFixed(3)})`,
  );
  await codecColumn();
}

try {
  if (process.env.BENCH_MODE === 'loopback') {
    await main();
  } else {
    build();
    process.stdout.write(await machineSpeedLine());
    await receiveBound({
      tool: TOOL,
      calls: process.env.BENCH_CALLS ? CALLS : [1500, 2000, 2500, 3000, 3500, 4000],
      seconds: Number(process.env.BENCH_SECONDS ?? 12),
      warmup: 2,
      passes: Number(process.env.BENCH_PASSES ?? 3),
      basePort: Number(process.env.BENCH_PORT ?? 40000),
      coalesceMs: 40,
    });
  }
} finally {
  rmSync(WORK, { recursive: true, force: true });
}
