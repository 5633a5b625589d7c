/**
 * `npm run bench:soak`: sustained capacity, end to end. SIPp places calls of a set length (RTP on
 * every stream for the whole call) at a set rate for a set time against `srs serve` with its
 * defaults (embedded Postgres, in-process MP3, RSA 4096 key), then waits for every recording to
 * be stored. Reports: concurrent calls held, calls failed, RTP lost, recordings stored, BYE-to-
 * stored p50/p99, peak backlog, peak plaintext spool, drain time, CPU per audio-minute by process
 * (server, of which the MP3 encoder; Postgres; SIPp), and which side saturated.
 *
 * A step passes when no call failed, no RTP was lost (sequence gaps, kernel drops), every call was
 * stored with >= 99 % of its packets, BYE-to-stored p99 < --p99-limit (60 s), and the server gave
 * back the descriptors its calls held (at most FDS_TOLERANCE more after the drain than before).
 * It also reports the server's resident memory and its trend in the steady state (a leak per call
 * shows there; not a pass condition: a 10-minute trend is too noisy to bound).
 *
 *   npm run bench:soak -- --concurrency 1000 --call-seconds 60 --duration 600   # the target (17 cps)
 *   npm run bench:soak -- --search 400,600,800,1000,1200 --duration 600         # highest sustained
 *   npm run bench:soak -- --concurrency 40 --call-seconds 10 --duration 30      # a short validation
 *
 * Each step runs a fresh server and data directory; --search stops at the first failing step.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log.js';
import { openDatabase } from '../src/store/db.js';
import { freePort, startTestServer } from '../test/helpers/server.js';
import { machineSpeedLine } from './lib/machine.js';
import { buildRtpbench } from './lib/rtpbench-tool.js';
import { networkPathUs } from './receive-bound.js';
import {
  cpuOf,
  childCpuOf,
  machineBusy,
  memoryOf,
  percentile,
  postgresCpu,
  slope,
  udpDrops,
} from './lib/proc.js';
import { PACKETS_PER_SECOND, writeSoakScenario } from './lib/soak-scenario.js';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1000' },
    'call-seconds': { type: 'string', default: '60' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '600' },
    search: { type: 'string' },
    'drain-timeout': { type: 'string', default: '600' },
    'p99-limit': { type: 'string', default: '60' },
    /** Extra server environment, e.g. --server-env SRS_MP3_ENCODER=ffmpeg,SRS_JOB_CONCURRENCY=1 */
    'server-env': { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
  },
});
const callSeconds = Number(values['call-seconds']);
const duration = Number(values.duration);
const drainTimeout = Number(values['drain-timeout']);
const p99Limit = Number(values['p99-limit']);
const levels = (values.search ?? values.concurrency ?? '')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const serverEnv = Object.fromEntries(
  String(values['server-env'])
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
if (levels.length === 0 || !(callSeconds > 0) || !(duration > 0)) {
  process.stderr.write(
    'usage: bench:soak [--concurrency N | --search N,N,...] [--call-seconds S] [--duration S]\n',
  );
  process.exit(2);
}
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Descriptors the server may hold after a step more than before it (database connections). */
const FDS_TOLERANCE = 16;
const RTP_LO = 33000;
const RTP_HI = 59999;

interface Health {
  activeCalls: number;
  pipeline?: { backlogJobs: number; backlogAudioMinutes: number; concurrency: number; admitting: boolean };
}

async function spoolBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    total += await stat(join(e.parentPath, e.name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

async function runStep(concurrency: number): Promise<boolean> {
  const rate = values.rate && !values.search ? Number(values.rate) : concurrency / callSeconds;
  const calls = Math.round(rate * duration);
  const dataDir = await mkdtemp(join(tmpdir(), 'srs-bench-soak-'));
  const server = await startTestServer(
    {
      LOG_LEVEL: 'warn',
      RTP_PORT_MIN: String(RTP_LO),
      RTP_PORT_MAX: String(RTP_HI),
      SRS_FIRST_KEY_TYPE: 'rsa4096', // the server's default, not the test helper's quick key
      ...serverEnv,
    },
    dataDir,
  );
  const pid = server.proc.pid as number;
  const health = async (): Promise<Health | undefined> => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`).catch(() => undefined);
    if (!r) return undefined;
    const j = (await r.json().catch(() => undefined)) as { details?: Health } | undefined;
    return j?.details;
  };
  try {
    for (const deadline = Date.now() + 120_000; !(await health())?.pipeline;) {
      if (Date.now() > deadline) throw new Error(`server not up:\n${server.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const db = await openDatabase({ dataDir, log: createLogger('silent') });
    const scenario = await writeSoakScenario(dataDir, callSeconds);
    const prefix = `soak${concurrency}-${Date.now()}`;
    const port = await freePort(true);
    const cpu0 = { server: cpuOf(pid), children: childCpuOf(pid), pg: postgresCpu(dataDir) };
    const mem0 = memoryOf(pid);
    const busy = machineBusy();
    process.stdout.write(
      `\n${concurrency} concurrent: ${rate.toFixed(2)} calls/s x ${callSeconds} s calls for ${duration} s (${calls} calls)\n` +
        (await machineSpeedLine()),
    );
    const t0 = Date.now();
    // SIPp's -timeout: the placing, the last calls and 120 s, with 5 % of the duration spare (the
    // hour-long run of 2026-12-06 reached the timeout without it, all its calls counted successful).
    const sippTimeout = Math.ceil(duration * 1.05 + callSeconds + 120);
    const sipp = spawn(
      'sipp',
      [
        ...['-sf', scenario, '-s', 'srs', '-i', '127.0.0.1', '-p', String(port)],
        ...['-mp', String(10000 + 2 * Math.floor(Math.random() * 2000))],
        // N calls per call length, spread evenly (SIPp paces by elapsed time): no fractional -r.
        ...(values.rate && !values.search
          ? ['-r', String(rate), '-rp', '1000']
          : ['-r', String(concurrency), '-rp', String(callSeconds * 1000)]),
        ...['-m', String(calls), '-l', String(Math.ceil(concurrency * 1.5) + 50)],
        ...['-cid_str', `${prefix}-%u-%p@bench`, '-nostdin', '-max_socket', '60000'],
        ...['-timeout', `${sippTimeout}s`, '-timeout_error', '-buff_size', String(4 << 20)],
        // Its counters every 30 s: when it runs past its time, they show what it was waiting for.
        ...['-trace_stat', '-stf', join(dataDir, 'sipp-stat.csv'), '-fd', '30'],
        `127.0.0.1:${server.sipPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let sippOut = '';
    sipp.stdout.on('data', (d: Buffer) => (sippOut = (sippOut + d.toString()).slice(-20000)));
    sipp.stderr.on('data', (d: Buffer) => (sippOut = (sippOut + d.toString()).slice(-20000)));
    const sippPid = sipp.pid as number;
    let sippCpu = 0;
    const sippDone = new Promise<number | null>((resolve) => sipp.once('exit', resolve));
    let sippExit: number | null | undefined;
    let sippSeconds = NaN;
    void sippDone.then((c) => {
      sippExit = c;
      sippSeconds = (Date.now() - t0) / 1000;
    });

    const held: number[] = [];
    const peak = { calls: 0, jobs: 0, audioMin: 0, spool: 0, concurrencyMin: Infinity };
    const drops = new Map<string, number>();
    const busySamples: number[] = [];
    /** The server's resident memory (elapsed s, bytes) while calls are placed, and its peak descriptors. */
    const rssSamples: [number, number][] = [];
    let peakFds = 0;
    let lastSpool = 0;
    let lastBye = 0;
    let drainedAt = 0;
    let storedN = 0;
    const deadline = t0 + (duration + callSeconds + 120 + drainTimeout) * 1000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2000));
      if (sippExit === undefined) sippCpu = cpuOf(sippPid) || sippCpu;
      const h = await health();
      const el = (Date.now() - t0) / 1000;
      if (h) {
        if (el > callSeconds + 5 && el < duration) held.push(h.activeCalls);
        peak.calls = Math.max(peak.calls, h.activeCalls);
        peak.jobs = Math.max(peak.jobs, h.pipeline?.backlogJobs ?? 0);
        peak.audioMin = Math.max(peak.audioMin, h.pipeline?.backlogAudioMinutes ?? 0);
        peak.concurrencyMin = Math.min(peak.concurrencyMin, h.pipeline?.concurrency ?? Infinity);
      }
      if (Date.now() - lastSpool > 4000) {
        lastSpool = Date.now();
        peak.spool = Math.max(peak.spool, await spoolBytes(join(dataDir, 'spool')));
      }
      for (const [inode, n] of udpDrops(RTP_LO, RTP_HI)) drops.set(inode, Math.max(drops.get(inode) ?? 0, n));
      if (el < duration) busySamples.push(busy());
      const mem = memoryOf(pid);
      if (mem && el < duration) rssSamples.push([el, mem.rss]);
      peakFds = Math.max(peakFds, mem?.fds ?? 0);
      if (sippExit !== undefined && lastBye === 0) lastBye = Date.now();
      if (lastBye > 0) {
        const q = await db.pool.query<{ n: number; done: number }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE state IN ('stored', 'failed'))::int AS done
             FROM recordings WHERE call_id LIKE $1`,
          [`${prefix}-%`],
        );
        storedN = q.rows[0]?.done ?? 0;
        if (storedN >= (q.rows[0]?.n ?? 0) && (h?.activeCalls ?? 1) === 0) {
          drainedAt = Date.now();
          break;
        }
      }
    }
    if (sippExit === undefined) sipp.kill('SIGKILL');
    // Idle database connections close after 10 s: then every descriptor a call held is given back.
    if (drainedAt > 0) await new Promise((r) => setTimeout(r, 12000));
    const mem1 = memoryOf(pid);
    const cpu1 = { server: cpuOf(pid), children: childCpuOf(pid), pg: postgresCpu(dataDir) };
    const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
      headers: { authorization: `Bearer ${server.token}` },
    })
      .then((r) => r.text())
      .catch(() => '');
    const mp3Cpu = Number(/^srs_mp3_encode_cpu_seconds_total (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const background = Number(
      /^srs_mp3_background_encodes_total\{result="idle"\} (\S+)/m.exec(metrics)?.[1] ?? NaN,
    );
    const sippStat = (label: string): number =>
      Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(sippOut)?.[1] ?? NaN);
    const ok = sippStat('Successful call');
    const failed = sippStat('Failed call');
    const r = await db.pool.query<{
      rows: number;
      stored: number;
      audio_s: number;
      rx: number;
      lost: number;
      short: number;
      lat: number[] | null;
    }>(
      `SELECT count(*)::int AS rows,
              count(*) FILTER (WHERE state = 'stored')::int AS stored,
              coalesce(sum(duration_ms) FILTER (WHERE state = 'stored'), 0)::float8 / 1000 AS audio_s,
              coalesce(sum((media_stats->'legs'->0->>'packetsReceived')::bigint), 0)::float8 AS rx,
              coalesce(sum((media_stats->'legs'->0->>'packetsLost')::bigint), 0)::float8 AS lost,
              count(*) FILTER (WHERE coalesce((media_stats->'legs'->0->>'packetsReceived')::int, 0)
                                < $2 * 0.99)::int AS short,
              array_agg(extract(epoch FROM stored_at - ended_at)::float8 ORDER BY stored_at - ended_at)
                FILTER (WHERE state = 'stored') AS lat
         FROM recordings WHERE call_id LIKE $1`,
      [`${prefix}-%`, callSeconds * PACKETS_PER_SECOND],
    );
    await db.close();
    const row = r.rows[0];
    const lat = row?.lat ?? [];
    const kernelDrops = [...drops.values()].reduce((a, b) => a + b, 0);
    const audioMin = (row?.audio_s ?? 0) / 60;
    const heldSorted = [...held].sort((a, b) => a - b);
    const placeS = lastBye > 0 ? (lastBye - t0) / 1000 : NaN;
    const sippShare = sippCpu / Math.max(1, placeS);
    const drainS = drainedAt > 0 ? (drainedAt - lastBye) / 1000 : NaN;
    const serverCpu = cpu1.server - cpu0.server;
    const per = (x: number) => (audioMin > 0 ? (x / audioMin).toFixed(3) : 'n/a');
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(1, a.length);
    // Memory in the steady state: from a minute after the first calls ended, the second half of it.
    const steady = rssSamples.filter(([t]) => t >= Math.max(callSeconds + 60, duration / 2));
    const steadyLong = (steady.at(-1)?.[0] ?? 0) - (steady[0]?.[0] ?? 0) >= 300;
    const perSecond = steadyLong ? slope(steady) : NaN;
    const mib = (b: number | undefined) => (b === undefined ? 'n/a' : (b / 1048576).toFixed(0));
    const rssAt = (t: number) => rssSamples.find(([x]) => x >= t)?.[1];
    const fdsKept = mem0 && mem1 ? mem1.fds - mem0.fds : Infinity;
    const pass =
      failed === 0 &&
      ok === calls &&
      row?.rows === calls &&
      row?.stored === calls &&
      (row?.lost ?? 1) === 0 &&
      kernelDrops === 0 &&
      (row?.short ?? 1) === 0 &&
      fdsKept <= FDS_TOLERANCE &&
      p99 < p99Limit &&
      drainedAt > 0;
    const lines = [
      `  concurrent calls held: median ${percentile(heldSorted, 50)} (min ${heldSorted[0] ?? 0}, peak ${peak.calls})`,
      `  calls: ${calls} placed, ${ok} ok, ${failed} failed (SIPp); ${row?.rows ?? 0} catalogued, ${row?.stored ?? 0} stored; ` +
        `SIPp ended ${sippSeconds.toFixed(0)} s after its start (the last call due to end at ${duration + callSeconds} s)`,
      `  RTP: ${row?.rx ?? 0} received of ${calls * callSeconds * PACKETS_PER_SECOND} sent, ${row?.lost ?? 0} lost (sequence gaps), ` +
        `${kernelDrops} kernel drops, ${row?.short ?? 0} calls under 99 % of their packets`,
      `  BYE-to-stored: p50 ${p50.toFixed(1)} s, p99 ${p99.toFixed(1)} s (limit ${p99Limit} s)`,
      `  peak backlog: ${peak.jobs} jobs, ${peak.audioMin.toFixed(1)} audio-minutes; lowest job concurrency ${peak.concurrencyMin}; ` +
        `${background} encodes borrowed idle CPU (SCHED_IDLE); ` +
        `peak plaintext spool ${(peak.spool / 1048576).toFixed(1)} MiB`,
      `  server memory: RSS ${mib(rssAt(callSeconds + 60))} MiB a minute into full load, ${mib(rssSamples.at(-1)?.[1])} ` +
        `at the end of placing, ${mib(mem1?.rss)} after the drain; steady-state trend ${
          Number.isFinite(perSecond)
            ? `${((perSecond * 3600) / 1048576).toFixed(0)} MiB/h (${(perSecond / rate / 1024).toFixed(2)} KiB per call)`
            : 'n/a (a steady state under 5 minutes)'
        }; open descriptors ${mem0?.fds ?? 'n/a'} before, peak ${peakFds}, ${mem1?.fds ?? 'n/a'} after (kept ${fdsKept}, limit ${FDS_TOLERANCE})`,
      `  drain: ${Number.isFinite(drainS) ? `${drainS.toFixed(0)} s after the last BYE` : `not drained within ${drainTimeout} s`}`,
      `  CPU s per audio-minute (${audioMin.toFixed(0)} audio-minutes stored): server ${per(serverCpu)} ` +
        `(of which MP3 encoder ${per(mp3Cpu)}), ffmpeg children ${per(cpu1.children - cpu0.children)}, ` +
        `Postgres ${per(cpu1.pg - cpu0.pg)}, SIPp ${per(sippCpu)}`,
      `  load while placing: SIPp ${(100 * sippShare).toFixed(0)} % of a core, server ${(
        ((100 * serverCpu) / Math.max(1, (drainedAt || Date.now()) - t0)) *
        1000
      ).toFixed(
        0,
      )} % of a core (whole run), machine ${(100 * mean(busySamples)).toFixed(0)} % busy (/proc/stat, indicative)`,
      `  at its limit: ${
        [
          sippShare > 0.9 ? 'SIPp (the sender: this step does not measure the server)' : '',
          p99 >= p99Limit || !(drainedAt > 0) ? 'the post-call pipeline (BYE-to-stored over the limit)' : '',
          kernelDrops > 0 || (row?.lost ?? 0) > 0 ? 'the RTP receiver (packets dropped)' : '',
          failed > 0 ? 'call admission (calls failed: 503 back-pressure or timeouts)' : '',
          fdsKept > FDS_TOLERANCE ? 'descriptors (kept after the calls: a leak)' : '',
          mean(busySamples) > 0.95 ? 'the machine (both cores busy, whoever used them)' : '',
        ]
          .filter(Boolean)
          .join('; ') || 'nothing'
      }`,
      `  after the step, ${(await machineSpeedLine()).trimEnd()}`,
      `  -> ${pass ? 'PASS' : 'FAIL'}${
        sippExit !== 0 && sippExit !== undefined
          ? ` (SIPp exit ${sippExit} after ${sippSeconds.toFixed(0)} s, its -timeout ${sippTimeout} s)`
          : ''
      }`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    if ((!pass && failed > 0) || (sippExit !== 0 && sippExit !== undefined))
      process.stdout.write(
        `SIPp's last output:\n${sippOut.slice(-1500)}\n${await sippCounters(join(dataDir, 'sipp-stat.csv'))}`,
      );
    return pass;
  } finally {
    const code = await server.stop();
    if (code !== 0) process.stdout.write(`server exit code ${code}\n${server.output().slice(-2000)}\n`);
    if (!values.keep) await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The network path's cost next to the CPU speed: SIPp's RTP, the engine's receive and Postgres's
 * commits all go through the kernel, whose cost per packet moved 2x between days on this VM while
 * the libmp3lame speed did not show it (bench/receive-bound.ts networkPathUs).
 */
async function networkPathLine(): Promise<string> {
  try {
    buildRtpbench(ROOT, join(ROOT, 'build', 'bench', 'rtpbench'));
    const n = await networkPathUs(join(ROOT, 'build', 'bench', 'rtpbench'));
    return (
      `network path: a bare UDP sink spends ${n.us.toFixed(2)} CPU-µs per packet at 200,000 packets/s` +
      `${n.tuned ? '' : ' (untuned: not root)'} (bench:media's sink at 2,000 calls: 1.4-2.0 µs on 2026-12-05, ` +
      `when 1,600 calls held; 4.8 on 2026-12-06, when 1,400 did not)\n`
    );
  } catch (err) {
    return `network path: not measured (${(err as Error).message.split('\n')[0]})\n`;
  }
}

if (duration < 600)
  process.stdout.write(
    `note: --duration ${duration} s is under 10 minutes: a validation run, not a sustained figure\n`,
  );
process.stdout.write(
  `bench:soak  calls of ${callSeconds} s, placed for ${duration} s per step; pass: 0 failed, 0 lost, all stored, BYE-to-stored p99 < ${p99Limit} s\n`,
);
process.stdout.write(await networkPathLine());
let best: number | undefined;
for (const c of levels) {
  if (!(await runStep(c))) break;
  best = c;
}
if (levels.length > 1 || values.search) {
  process.stdout.write(
    best !== undefined
      ? `highest sustained concurrency: ${best} calls of ${callSeconds} s (${(best / callSeconds).toFixed(1)} calls/s) for ${duration} s\n`
      : `no step passed (lowest tried: ${levels[0]})\n`,
  );
}

/** SIPp's last counter rows (-trace_stat), a line each: when it ran, what it had placed and what was still open. */
async function sippCounters(path: string, rows = 4): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const [head, ...lines] = text.trim().split('\n');
  if (!head || lines.length === 0) return `SIPp's counters: none (${path})\n`;
  const cols = head.split(';');
  const at = (row: string[], name: string) => row[cols.indexOf(name)] ?? '?';
  return (
    `SIPp's counters (every 30 s, the last ${Math.min(rows, lines.length)}):\n` +
    lines
      .slice(-rows)
      .map((l) => l.split(';'))
      .map(
        (r) =>
          `  ${at(r, 'ElapsedTime(C)')}: created ${at(r, 'TotalCallCreated')}, open ${at(r, 'CurrentCall')}, ` +
          `successful ${at(r, 'SuccessfulCall(C)')}, failed ${at(r, 'FailedCall(C)')}, ` +
          `retransmissions ${at(r, 'Retransmissions(C)')}, dead calls ${at(r, 'DeadCallMsgs(C)')}`,
      )
      .join('\n') +
    '\n'
  );
}
