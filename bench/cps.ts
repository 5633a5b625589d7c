/**
 * `npm run bench:cps`: SIPREC calls per second against the real server on this machine.
 *
 * Starts `srs serve` (embedded edge, drachtio-srf app, native engine, embedded Postgres) in a
 * fresh data directory, then runs SIPp with sip-scenarios/siprec-load.xml (one PCMU stream, 2 s of
 * RTP from SIPp's rtp_stream, BYE) at each rate of a ladder for a fixed duration. The server runs
 * with its production settings (the defaults: job concurrency from the measured cost and live
 * load, back-pressure past SRS_MAX_BACKLOG_SECONDS; only the port range and session limit are
 * widened). A call counts as recorded only when its recording is stored with at least 90 % of the
 * packets sent (90 of 100), within --drain seconds (default 120) of the step's last BYE. A rate
 * passes when SIPp reports zero failed calls, every call is recorded, and setup p99 is under 2 s.
 * Prints, per rate: calls, failures, setup latency p50/p99 (INVITE -> 200, SIPp -trace_rtt),
 * recorded calls, the backlog left at the last BYE and how long it took to store everything; and
 * the highest passing rate as a ratio of the 500 cps target.
 *
 *   npm run bench:cps                       # ladder 50,100,200,300,400,500 cps, 60 s each
 *   npm run bench:cps -- --rates 100,150 --duration 20
 *   npm run bench:cps -- --rates 200 --duration 20 --cpu-prof /tmp/prof   # V8 profile of the server
 *
 * Bounded: each step stops after its calls (SIPp -m) plus a drain deadline; the ladder stops at
 * the first failing rate.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log.js';
import { openDatabase, type Database } from '../src/store/db.js';
import { freePort, run, startTestServer, type TestServer } from '../test/helpers/server.js';
import { SCENARIOS } from '../test/helpers/sipp.js';
import { machineSpeedLine } from './lib/machine.js';

const TARGET = 500;
/**
 * A rate is only "sustained" while setup stays fast: above this p99 the server is queueing work,
 * not keeping up (SRCs fail over after a few seconds; SIPp would still count such calls as good).
 */
const MAX_P99_MS = 2000;
const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '50,100,200,300,400,500' },
    duration: { type: 'string', default: '60' },
    drain: { type: 'string', default: '120' },
    keep: { type: 'boolean', default: false },
    /** Write V8 CPU profiles of the server (node --cpu-prof) into this directory. */
    'cpu-prof': { type: 'string' },
  },
});
const rates = String(values.rates)
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const duration = Number(values.duration);
const drainSeconds = Number(values.drain);
if (rates.length === 0 || !(duration > 0)) {
  process.stderr.write('usage: bench:cps [--rates 50,100,...] [--duration SECONDS] [--drain SECONDS]\n');
  process.exit(2);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Step {
  rate: number;
  calls: number;
  ok: number;
  failed: number;
  recorded: number;
  rows: number;
  backlogJobs: number;
  backlogMinutes: number;
  drainS: number;
  p50: number;
  p99: number;
  pass: boolean;
  wallS: number;
}

/**
 * node refuses --cpu-prof in NODE_OPTIONS, and the server is spawned by the test helper: a module
 * preloaded with --import profiles the process through node:inspector and writes a .cpuprofile at
 * exit (the inspector session is in-thread, so Profiler.stop answers synchronously).
 */
async function profilerHook(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'profiler-hook.mjs');
  await writeFile(
    file,
    `import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = new Session();
s.connect();
s.post('Profiler.enable');
s.post('Profiler.setSamplingInterval', { interval: 500 });
s.post('Profiler.start');
process.on('exit', () => {
  s.post('Profiler.stop', (err, r) => {
    if (!err) writeFileSync(${JSON.stringify(dir)} + '/srs-' + process.pid + '.cpuprofile', JSON.stringify(r.profile));
  });
});
`,
  );
  return file;
}

/** A fresh server (own data directory and embedded Postgres) per rate, so no step inherits the
 * post-call pipeline backlog of the previous one. */
async function startServer(): Promise<{ server: TestServer; dataDir: string; db: Database }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'srs-bench-cps-'));
  const server = await startTestServer(
    {
      LOG_LEVEL: 'warn',
      RTP_PORT_MIN: '33000',
      RTP_PORT_MAX: '59999',
      SRS_MAX_SESSIONS: '100000',
      SRS_FIRST_KEY_TYPE: 'rsa4096', // the server's default, not the test helper's quick key
      ...(values['cpu-prof'] ? { NODE_OPTIONS: `--import=${await profilerHook(values['cpu-prof'])}` } : {}),
    },
    dataDir,
  );
  // Per-call info lines would cost CPU, so the log is at warn: wait for /healthz instead.
  for (const deadline = Date.now() + 90000; ;) {
    const ok = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`server not healthy:\n${server.output().slice(-2000)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  const db = await openDatabase({ dataDir, log: createLogger('silent') });
  return { server, dataDir, db };
}

process.stdout.write(
  `SIPp scenario siprec-load.xml, ${duration} s per rate, a fresh server per rate\n${await machineSpeedLine()}`,
);
const steps: Step[] = [];
for (const rate of rates) {
  const { server, dataDir, db } = await startServer();
  try {
    const calls = Math.round(rate * duration);
    const prefix = `cps${rate}-${Date.now()}`;
    const port = await freePort(true);
    const t0 = Date.now();
    const r = await run(
      'sipp',
      [
        ...['-sf', 'siprec-load.xml', '-s', 'srs', '-i', '127.0.0.1', '-p', String(port)],
        ...['-mp', String(10000 + 2 * Math.floor(Math.random() * 500))],
        ...['-r', String(rate), '-m', String(calls), '-l', String(rate * 8 + 100)],
        ...['-cid_str', `${prefix}-%u-%p@bench`, '-trace_rtt', '-rtt_freq', '1'],
        ...['-timeout', `${duration + 60}s`, '-timeout_error', '-nostdin', '-max_socket', '60000'],
        // SIPp's own socket buffers default to 64 kB: a stall of a few ms at hundreds of calls a
        // second drops responses in SIPp's kernel buffer, and the call dies waiting for its 200.
        ...['-buff_size', String(4 * 1024 * 1024)],
        `127.0.0.1:${server.sipPort}`,
      ],
      { cwd: SCENARIOS, timeoutMs: (duration + 90) * 1000 },
    );
    const wallS = (Date.now() - t0) / 1000;
    // SIPp's final statistics screen: "Successful call | ... | N" and "Failed call".
    const cum = (label: string): number => {
      const m = new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(r.stdout);
      return m ? Number(m[1]) : NaN;
    };
    const ok = cum('Successful call');
    const failed = cum('Failed call');
    // -trace_rtt: siprec-load_<pid>_rtt.csv, one "date;dateMs;responsetime;rtd_no" line per call.
    const rttFiles = (await readdir(SCENARIOS)).filter(
      (f) => f.startsWith('siprec-load_') && f.endsWith('_rtt.csv'),
    );
    const rtts: number[] = [];
    for (const f of rttFiles) {
      const text = await readFile(join(SCENARIOS, f), 'utf8');
      if (process.env.BENCH_DEBUG) process.stdout.write(text.slice(0, 300));
      for (const line of text.split('\n').slice(1)) {
        const v = Number(line.split(';')[1]);
        if (Number.isFinite(v) && line.trim() !== '') rtts.push(v);
      }
      await rm(join(SCENARIOS, f), { force: true });
    }
    for (const f of (await readdir(SCENARIOS)).filter((x) => x.startsWith('siprec-load_'))) {
      await rm(join(SCENARIOS, f), { force: true });
    }
    rtts.sort((a, b) => a - b);
    // The backlog the step left: post-call jobs queued or running at its last BYE.
    const health = (await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)
      .then((res) => res.json())
      .catch(() => ({}))) as {
      details?: { pipeline?: { backlogJobs: number; backlogAudioMinutes: number } };
    };
    const backlog = health.details?.pipeline;
    // Recorded: stored, with at least 90 % of the call's 100 packets.
    let rows = 0;
    let recorded = 0;
    let ended = 0;
    const drainStart = Date.now();
    const deadline = drainStart + drainSeconds * 1000;
    for (;;) {
      const q = await db.pool.query<{ rows: string; recorded: string; ended: string; settled: string }>(
        `SELECT count(*) AS rows,
                count(*) FILTER (WHERE state = 'stored' AND
                  COALESCE((media_stats->'legs'->0->>'packetsReceived')::int, 0) >= 90) AS recorded,
                count(*) FILTER (WHERE ended_at IS NOT NULL) AS ended,
                count(*) FILTER (WHERE state IN ('stored', 'failed')) AS settled
         FROM recordings WHERE call_id LIKE $1`,
        [`${prefix}-%`],
      );
      rows = Number(q.rows[0]?.rows ?? 0);
      recorded = Number(q.rows[0]?.recorded ?? 0);
      ended = Number(q.rows[0]?.ended ?? 0);
      if (Number(q.rows[0]?.settled ?? 0) >= calls || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    const drainS = (Date.now() - drainStart) / 1000;
    const step: Step = {
      rate,
      calls,
      ok,
      failed,
      recorded,
      rows,
      backlogJobs: backlog?.backlogJobs ?? NaN,
      backlogMinutes: backlog?.backlogAudioMinutes ?? NaN,
      drainS,
      p50: percentile(rtts, 50),
      p99: percentile(rtts, 99),
      pass:
        r.code === 0 &&
        ok === calls &&
        failed === 0 &&
        recorded === calls &&
        percentile(rtts, 99) < MAX_P99_MS,
      wallS,
    };
    steps.push(step);
    process.stdout.write(
      `${String(rate).padStart(4)} cps x ${duration} s: ${calls} calls, ${ok} ok, ${failed} failed, ` +
        `${recorded}/${calls} recorded (stored with >= 90 % of their RTP; rows ${rows}, ${ended} ended), ` +
        `backlog left at the last BYE ${step.backlogJobs} jobs (${step.backlogMinutes.toFixed(1)} audio-min), ` +
        `${recorded >= calls ? `all stored ${step.drainS.toFixed(0)} s later` : `not all stored within ${drainSeconds} s`}, ` +
        `setup p50 ${step.p50.toFixed(1)} ms p99 ${step.p99.toFixed(1)} ms, ` +
        `sipp exit ${r.code}, wall ${wallS.toFixed(0)} s -> ${step.pass ? 'PASS' : 'FAIL'}\n`,
    );
    if (!step.pass && r.code !== 0) process.stdout.write(`${r.stderr.slice(-800)}\n`);
  } finally {
    await db.close();
    const code = await server.stop();
    if (code !== 0) process.stdout.write(`server exit code ${code}\n${server.output().slice(-2000)}\n`);
    if (!values.keep) await rm(dataDir, { recursive: true, force: true });
  }
  if (!steps.at(-1)?.pass) break;
}
const best = steps.filter((s) => s.pass).at(-1);
process.stdout.write(
  best
    ? `highest rate sustained ${duration} s with zero failures and every call stored with >= 90 % of its RTP: ${best.rate} cps ` +
        `(setup p50 ${best.p50.toFixed(1)} ms, p99 ${best.p99.toFixed(1)} ms) = ${(best.rate / TARGET).toFixed(2)} x the ${TARGET} cps target\n`
    : `no rate passed (lowest tried: ${rates[0]} cps)\n`,
);
