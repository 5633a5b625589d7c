/**
 * The receiver-bound media benchmark (BENCH-METHOD.md): the sender on CPU 0, the receiver on CPU 1
 * (every thread), the kernel's UDP receive work moved to the receiver's core with Receive Packet
 * Steering on lo, netdev_max_backlog raised so a VM timer hiccup does not drop bursts; both
 * restored afterwards. Then, for each step of calls (2 streams x 50 packets/s of 160-byte u-law),
 * the engine and a bare epoll + recvmmsg sink with the engine's batching (32 per recvmmsg, 40 ms
 * coalescing) each receive the same offered load, BENCH_PASSES times:
 *   - keep-up: the receive rate over a steady window (after a warm-up) / the offered rate, >= 99.5 %;
 *   - zero loss: every packet sent was received, and 0 kernel drops (/proc/net/udp `drops`);
 *   - the sender must reach >= 99.5 % of the offered rate with no send error, else the step is void;
 *   - CPU per packet: utime+stime of all the receiver's threads over the window / packets in it.
 * The ceiling of each is the highest step that passed every time; the result is their ratio.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadMediaEngine, PortInUseError, type PayloadKind } from '../src/media/index.js';
import { cpuOf } from './lib/proc.js';

export interface ReceiveBoundOptions {
  /** rtpbench binary (native/bench/rtpbench.cc). */
  tool: string;
  calls: number[];
  /** Seconds of sending per run; the window is [warmup, seconds - 0.5]. */
  seconds: number;
  warmup: number;
  passes: number;
  basePort: number;
  coalesceMs: number;
  /** The legs' payload types (default PCMU/PCMA/telephone-event): a codec column plugs in here. */
  payloadTypes?: Record<number, PayloadKind>;
}

interface RunResult {
  offeredPps: number;
  sentOk: boolean;
  sent: number;
  received: number;
  drops: number;
  keepUp: number;
  usPerPacket: number;
  pass: boolean;
}

const HOST = '127.0.0.1';
const RPS = '/sys/class/net/lo/queues/rx-0/rps_cpus';
const BACKLOG = '/proc/sys/net/core/netdev_max_backlog';

/** RPS to CPU 1 and a larger backlog; returns the restore (also run on SIGINT/SIGTERM/exit). */
function tuneKernel(): { restore: () => void; ok: boolean } {
  let before: { rps: string; backlog: string } | undefined;
  try {
    before = { rps: readFileSync(RPS, 'utf8').trim(), backlog: readFileSync(BACKLOG, 'utf8').trim() };
    writeFileSync(RPS, '2');
    writeFileSync(BACKLOG, '10000');
  } catch (err) {
    process.stdout.write(
      `cannot steer lo's receive work to CPU 1 (${(err as Error).message}; needs root): the sender's core ` +
        `does the kernel's receive work, and the ceilings below measure the sender, not the receivers\n`,
    );
    return { restore: () => {}, ok: false };
  }
  let done = false;
  const restore = (): void => {
    if (done || !before) return;
    done = true;
    writeFileSync(RPS, before.rps);
    writeFileSync(BACKLOG, before.backlog);
  };
  process.once('exit', restore);
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      restore();
      process.exit(130);
    });
  return { restore, ok: true };
}

function spawnTool(o: ReceiveBoundOptions, cpu: number, args: string[]) {
  const p = spawn('taskset', ['-c', String(cpu), o.tool, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const lines: string[] = [];
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const parts = out.split('\n');
    out = parts.pop() ?? '';
    lines.push(...parts);
  });
  const done = new Promise<Record<string, number>>((resolve, reject) =>
    p.once('close', (code) => {
      const last = [...lines, out].reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || !last) reject(new Error(`rtpbench ${args[0]} failed (${code}): ${lines.join('\n')}`));
      else resolve(JSON.parse(last) as Record<string, number>);
    }),
  );
  return { p, lines, done };
}

function dropsOn(ports: number[]): number {
  const lo = Math.min(...ports);
  const hi = Math.max(...ports);
  const set = new Set(ports);
  let n = 0;
  // Only our ports: other processes' sockets in the same range are not counted.
  for (const file of ['/proc/net/udp']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const port = parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
      if (port >= lo && port <= hi && set.has(port)) n += Number(f[12] ?? 0);
    }
  }
  return n;
}

function judge(r: Omit<RunResult, 'pass' | 'sentOk'>, expected: number, errors: number): RunResult {
  const sentOk = r.sent >= 0.995 * expected && errors === 0;
  return { ...r, sentOk, pass: sentOk && r.received === r.sent && r.drops === 0 && r.keepUp >= 0.995 };
}

async function engineRun(o: ReceiveBoundOptions, calls: number, work: string): Promise<RunResult> {
  const spoolRoot = mkdtempSync(join(work, 'spool-'));
  const portsFile = join(work, 'ports');
  const engine = loadMediaEngine({ bindAddress: HOST });
  engine.onEvents(() => {});
  const ports: number[] = [];
  try {
    let next = o.basePort;
    for (let c = 0; c < calls; c++) {
      for (;;) {
        if (next + 2 > 65534) throw new Error(`not enough free even ports from ${o.basePort}`);
        const pair = [next, next + 2];
        next += 4;
        try {
          engine.openSession({
            recordingId: `rb-${c}`,
            spoolDir: join(spoolRoot, String(c)),
            legs: pair.map((port, l) => ({
              legId: `leg${l}`,
              port,
              payloadTypes: o.payloadTypes ?? { 0: 'PCMU', 8: 'PCMA', 101: 'telephone-event' },
            })),
          });
          ports.push(...pair);
          break;
        } catch (err) {
          if (!(err instanceof PortInUseError)) throw err;
          rmSync(join(spoolRoot, String(c)), { recursive: true, force: true });
        }
      }
    }
    writeFileSync(portsFile, ports.join('\n') + '\n');
    const opened = Date.now();
    while (!existsSync(join(spoolRoot, String(calls - 1), 'session.json')) && Date.now() - opened < 10_000)
      await sleep(20);
    await sleep(300);
    const sender = spawnTool(o, 0, ['send', HOST, portsFile, String(2 * calls), String(o.seconds), '50']);
    await sleep(o.warmup * 1000);
    const a = { t: performance.now(), rx: engine.mediaTotals().packetsReceived, cpu: cpuOf(process.pid) };
    await sleep((o.seconds - o.warmup - 0.5) * 1000);
    const b = { t: performance.now(), rx: engine.mediaTotals().packetsReceived, cpu: cpuOf(process.pid) };
    const s = await sender.done;
    await sleep(500);
    const drops = dropsOn(ports);
    let received = 0;
    for (let c = 0; c < calls; c++) {
      for (const l of engine.closeSession(`rb-${c}`)?.legs ?? []) received += l.packetsReceived;
    }
    const offeredPps = calls * 100;
    const windowRx = b.rx - a.rx;
    return judge(
      {
        offeredPps,
        sent: s.sent ?? 0,
        received,
        drops,
        keepUp: windowRx / (((b.t - a.t) / 1000) * offeredPps),
        usPerPacket: (1e6 * (b.cpu - a.cpu)) / Math.max(1, windowRx),
      },
      offeredPps * o.seconds,
      s.errors ?? 1,
    );
  } finally {
    engine.close();
    rmSync(spoolRoot, { recursive: true, force: true });
  }
}

async function sinkRun(o: ReceiveBoundOptions, calls: number, work: string): Promise<RunResult> {
  const portsFile = join(work, 'ports');
  const sink = spawnTool(o, 1, [
    'sink',
    HOST,
    portsFile,
    String(2 * calls),
    String(o.seconds),
    String(o.basePort),
    String(o.coalesceMs),
  ]);
  for (const t0 = Date.now(); !sink.lines.includes('ready');) {
    if (Date.now() - t0 > 20_000) throw new Error('rtpbench sink did not get ready');
    await sleep(20);
  }
  const ports = readFileSync(portsFile, 'utf8').trim().split('\n').map(Number);
  const progress = (): { t: number; rx: number } | undefined => {
    const l = sink.lines.filter((x) => x.startsWith('p ')).at(-1);
    return l ? { t: Number(l.split(' ')[1]), rx: Number(l.split(' ')[2]) } : undefined;
  };
  const sender = spawnTool(o, 0, ['send', HOST, portsFile, String(2 * calls), String(o.seconds), '50']);
  await sleep(o.warmup * 1000);
  const a = { p: progress(), cpu: cpuOf(sink.p.pid as number) };
  await sleep((o.seconds - o.warmup - 0.5) * 1000);
  const b = { p: progress(), cpu: cpuOf(sink.p.pid as number) };
  const s = await sender.done;
  await sleep(300);
  const drops = dropsOn(ports);
  const k = await sink.done;
  const offeredPps = calls * 100;
  const windowRx = (b.p?.rx ?? 0) - (a.p?.rx ?? 0);
  const windowS = (b.p?.t ?? 0) - (a.p?.t ?? 0);
  return judge(
    {
      offeredPps,
      sent: s.sent ?? 0,
      received: k.received ?? 0,
      drops,
      keepUp: windowS > 0 ? windowRx / (windowS * offeredPps) : 0,
      usPerPacket: (1e6 * (b.cpu - a.cpu)) / Math.max(1, windowRx),
    },
    offeredPps * o.seconds,
    s.errors ?? 1,
  );
}

/**
 * What this VM's network path costs now: the bare sink's CPU per packet at `calls` calls, one 6 s
 * run of the sink above with the kernel tuned alike (needs root for RPS; `tuned` says whether it
 * was). The CPU speed line (libmp3lame) does not show it: on 2026-12-06 libmp3lame ran at 31.5 ms,
 * faster than on 2026-12-05 (38.8), while a packet at 2,000 calls cost the sink 4.8 µs against
 * 1.4-2.0 and SIPp and Postgres twice their CPU per audio-minute; the soak held 1,600 calls on the
 * first day and not 1,400 on the second (docs/capacity.md#machine-speed).
 */
export async function networkPathUs(tool: string, calls = 2000): Promise<{ us: number; tuned: boolean }> {
  const work = mkdtempSync(join(tmpdir(), 'srs-bench-net-'));
  const kernel = tuneKernel();
  try {
    const o = { tool, calls: [calls], seconds: 6, warmup: 2, passes: 1, basePort: 41000, coalesceMs: 40 };
    const r = await sinkRun(o, calls, work);
    return { us: r.usPerPacket, tuned: kernel.ok };
  } finally {
    kernel.restore();
    rmSync(work, { recursive: true, force: true });
  }
}

const fmt = (r: RunResult): string =>
  `${(100 * r.keepUp).toFixed(1)} % kept up, ${r.sent - r.received} lost, ${r.drops} drops, ` +
  `${r.usPerPacket.toFixed(2)} µs/pkt${r.sentOk ? '' : ' [sender short: void]'} ${r.pass ? 'ok' : 'FAIL'}`;

export async function receiveBound(o: ReceiveBoundOptions): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'srs-bench-rb-'));
  const kernel = tuneKernel();
  try {
    // This process holds the engine: every thread of it on CPU 1 (threads made later inherit it).
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    process.stdout.write(
      `receiver-bound: sender on CPU 0, receivers on CPU 1, RPS ${kernel.ok ? 'on lo -> CPU 1' : 'OFF'}, ` +
        `${o.seconds} s runs (window ${o.warmup}-${o.seconds - 0.5} s), ${o.passes} passes per step, ` +
        `sink with ${o.coalesceMs} ms coalescing\n` +
        'calls | offered pkt/s | engine (each pass) | sink (each pass)\n',
    );
    const ceiling = { engine: 0, sink: 0 };
    const us = { engine: [] as number[], sink: [] as number[] };
    let voided = false;
    for (const calls of o.calls) {
      const e: RunResult[] = [];
      const k: RunResult[] = [];
      for (let p = 0; p < o.passes; p++) {
        e.push(await engineRun(o, calls, work));
        k.push(await sinkRun(o, calls, work));
      }
      if (e.some((r) => !r.sentOk) || k.some((r) => !r.sentOk)) voided = true;
      if (e.every((r) => r.pass)) ceiling.engine = calls;
      if (k.every((r) => r.pass)) ceiling.sink = calls;
      us.engine.push(...e.map((r) => r.usPerPacket));
      us.sink.push(...k.map((r) => r.usPerPacket));
      process.stdout.write(
        `${calls} | ${calls * 100} | ${e.map(fmt).join('; ')} | ${k.map(fmt).join('; ')}\n`,
      );
      if (!e.some((r) => r.pass) && !k.some((r) => r.pass)) break; // both past their limit
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
    process.stdout.write(
      `zero-loss keep-up ceiling (every pass): engine ${ceiling.engine} calls, sink ${ceiling.sink} calls; ` +
        `ratio ${ceiling.sink > 0 ? (ceiling.engine / ceiling.sink).toFixed(3) : 'n/a'}; ` +
        `median CPU per packet: engine ${med(us.engine).toFixed(2)} µs, sink ${med(us.sink).toFixed(2)} µs ` +
        `(sink/engine ${(med(us.sink) / med(us.engine)).toFixed(3)})\n` +
        `bottleneck: ${
          voided
            ? 'the SENDER fell short on some step (void steps: not a receiver limit)'
            : ceiling.engine === o.calls.at(-1) && ceiling.sink === o.calls.at(-1)
              ? 'none reached: raise the ladder (BENCH_CALLS)'
              : 'the receivers (drops or lag on CPU 1)'
        }${kernel.ok ? '' : '; RPS off: the sender core did the receive work'}\n`,
    );
  } finally {
    kernel.restore();
    rmSync(work, { recursive: true, force: true });
  }
}
