/**
 * `npm run bench:monitor`: the live monitor under load, against a real `srs serve` child process
 * (SIPp signalling, RTP from this process, WebSocket clients in this process).
 *
 *   1. baseline: one call, two RTP streams for BENCH_SECONDS, nobody listening: the server's CPU
 *      time and the call's packet loss;
 *   2. listen-in: the same call with BENCH_LISTENERS clients listening to the mix: latency from the
 *      RTP packet's send to the frame's receipt in the client (end to end, which bounds "arrival to
 *      frame sent"), the server-measured arrival-to-send latency, frames/bytes per listener, the
 *      server's CPU against the baseline, and the call's packet loss (must stay 0);
 *   3. fan-out: BENCH_WATCHERS watchers connected, BENCH_CALLS short calls placed: every watcher
 *      must get every call-start and call-end; the delay from the first to the last watcher per event.
 *   4. listen-in again on a server with SRS_LISTEN_SOURCE=spool (audio tailed from the spool files).
 * Prints figures; asserts nothing. Env: BENCH_LISTENERS=300 BENCH_WATCHERS=1000 BENCH_SECONDS=8 BENCH_CALLS=10
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../test/helpers/server.js';
import { SCENARIOS, sipp } from '../test/helpers/sipp.js';
import { sendRtpStream } from '../test/helpers/rtp.js';
import { tone } from '../test/helpers/audio.js';

const LISTENERS = Number(process.env.BENCH_LISTENERS ?? 300);
const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CALLS = Number(process.env.BENCH_CALLS ?? 10);

interface LiveCall {
  recordingId: string;
  callId: string;
  streams: { codec: string; port: number }[];
  media?: { packetsReceived: number; packetsLost: number }[];
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const cpuMs = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in ticks of 10 ms
};

/** Starts a server (with extra env) and returns what the phases need. */
async function open(env: Record<string, string> = {}) {
  // Every client of the bench comes from 127.0.0.1: lift the per-address cap (100 by default,
  // which closed the 101st socket: "socket hang up") above the listeners and watchers opened.
  const sockets = String(2 * (LISTENERS + WATCHERS) + 100);
  const server: TestServer = await startTestServer({
    LOG_LEVEL: 'warn',
    SRS_HTTP_MAX_CONNECTIONS: sockets,
    SRS_HTTP_MAX_CONNECTIONS_PER_ADDRESS: sockets,
    // All of them with the admin token: lift the per-credential cap of monitor sockets too (8).
    SRS_MONITOR_MAX_PER_USER: sockets,
    ...env,
  });
  await server.waitFor(/SIPREC recording server ready/, 60000).catch(async () => {
    // LOG_LEVEL=warn hides the ready line: poll /healthz instead.
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return '';
      await sleep(200);
    }
  });
  const base = `http://127.0.0.1:${server.httpPort}`;
  const wsUrl = `ws://127.0.0.1:${server.httpPort}/monitor`;
  const wsAuth = { headers: { authorization: `Bearer ${server.token}` } };
  const pid = server.proc.pid as number;
  const api = async <T>(path: string): Promise<T> =>
    (await (
      await fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${server.token}` } })
    ).json()) as T;
  const src = await readFile(join(SCENARIOS, 'siprec-basic.xml'), 'utf8');
  const scenario = async (pauseMs: number): Promise<string> => {
    const path = join(server.dataDir, `bench-${pauseMs}.xml`);
    await writeFile(
      path,
      src
        .replace(/<nop>\s*<action>\s*<exec play_pcap_audio="[^"]*"\s*\/>\s*<\/action>\s*<\/nop>/, '')
        .replace(/<pause milliseconds="\d+"\s*\/>/, `<pause milliseconds="${pauseMs}" />`),
    );
    return path;
  };
  const longCall = await scenario((SECONDS + 3) * 1000);

  const seen = new Set<string>();
  /** Places one call and sends SECONDS of RTP on both streams; `during` runs once media flows. */
  const runCall = async (
    onLive: (c: LiveCall) => Promise<void> | void,
  ): Promise<{
    cpu: number;
    wallMs: number;
    sendStart: number;
    live: LiveCall;
    final: LiveCall | undefined;
  }> => {
    const done = sipp(`127.0.0.1:${server.sipPort}`, longCall);
    let live: LiveCall | undefined;
    while (!live) {
      live = (await api<{ items: LiveCall[] }>('/calls')).items.find((c) => !seen.has(c.recordingId));
      if (!live) await sleep(50);
    }
    seen.add(live.recordingId);
    await onLive(live);
    const c0 = cpuMs(pid);
    const t0 = performance.now();
    const sendStart = Date.now();
    await Promise.all(
      live.streams.map((s, i) =>
        sendRtpStream({
          host: '127.0.0.1',
          port: s.port,
          pt: s.codec === 'PCMA' ? 8 : 0,
          codec: s.codec === 'PCMA' ? 'PCMA' : 'PCMU',
          samples: tone(i ? 1000 : 440, SECONDS * 1000, 8000),
          ssrc: 100 + i,
        }),
      ),
    );
    const cpu = cpuMs(pid) - c0;
    const wallMs = performance.now() - t0;
    await sleep(300);
    const final = (await api<{ items: LiveCall[] }>('/calls')).items.find(
      (c) => c.recordingId === live.recordingId,
    );
    await done;
    return { cpu, wallMs, sendStart, live, final };
  };
  const loss = (c: LiveCall | undefined) => {
    const rx = (c?.media ?? []).reduce((n, m) => n + m.packetsReceived, 0);
    const lost = (c?.media ?? []).reduce((n, m) => n + m.packetsLost, 0);
    return { rx, lost };
  };
  return { server, base, wsUrl, wsAuth, pid, runCall, loss, scenario };
}

/** LISTENERS clients listen to one call's mix while it is recorded. */
async function listenPhase(x: Awaited<ReturnType<typeof open>>) {
  const { wsUrl, wsAuth, runCall, loss } = x;
  const clients: WebSocket[] = [];
  const e2e: number[] = [];
  const e2eOldest: number[] = [];
  const serverLat: number[] = [];
  let frames = 0;
  let bytes = 0;
  let firstOffset = -1;
  let sendStart = 0;
  const l = await runCall(async (live) => {
    await Promise.all(
      Array.from({ length: LISTENERS }, () => {
        const ws = new WebSocket(wsUrl, wsAuth);
        clients.push(ws);
        ws.binaryType = 'nodebuffer';
        ws.on('message', (d: Buffer, isBinary) => {
          if (!isBinary) return;
          const now = Date.now();
          const offset = d.readUInt32LE(4);
          const end = offset + d.length - 12;
          if (firstOffset < 0) firstOffset = offset;
          frames++;
          bytes += d.length;
          serverLat.push(d.readUInt32LE(8));
          // Packet k left us k * 20 ms after the first: the frame's newest packet at (end - 160 - first) / 8,
          // its oldest at (offset - first) / 8.
          if (sendStart) {
            e2e.push(now - (sendStart + (end - 160 - firstOffset) / 8));
            e2eOldest.push(now - (sendStart + (offset - firstOffset) / 8));
          }
        });
        return new Promise<void>((resolve, reject) => {
          ws.once('open', () => {
            ws.send(JSON.stringify({ type: 'listen', recordingId: live.recordingId, channel: 'mix' }));
            resolve();
          });
          ws.once('error', reject);
        });
      }),
    );
    sendStart = Date.now();
  });
  const ll = loss(l.final);
  const listenCpuPct = (100 * l.cpu) / l.wallMs;
  for (const ws of clients) ws.terminate();
  return { e2e, e2eOldest, serverLat, frames, bytes, listenCpuPct, ll };
}

async function main(): Promise<void> {
  const x = await open();
  const { server, base, wsUrl, wsAuth, pid, runCall, loss, scenario } = x;
  // 1. Baseline.
  const b = await runCall(() => undefined);
  const bl = loss(b.final);
  const baseCpuPct = (100 * b.cpu) / b.wallMs;

  // 2. Listen-in (the engine's live tap).
  const { e2e, e2eOldest, serverLat, frames, bytes, listenCpuPct, ll } = await listenPhase(x);

  // 3. Fan-out of call events to WATCHERS.
  const watchers: WebSocket[] = [];
  const arrivals = new Map<string, number[]>();
  await Promise.all(
    Array.from({ length: WATCHERS }, () => {
      const ws = new WebSocket(wsUrl, wsAuth);
      watchers.push(ws);
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; call?: { recordingId: string } };
        if (m.type !== 'call-start' && m.type !== 'call-end') return;
        const k = `${m.type}:${m.call?.recordingId}`;
        const a = arrivals.get(k) ?? [];
        a.push(performance.now());
        arrivals.set(k, a);
      });
      return new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
    }),
  );
  const shortCall = await scenario(1000);
  const cpuF0 = cpuMs(pid);
  const tF0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLS }, (_x, i) =>
      sleep(i * 200).then(() => sipp(`127.0.0.1:${server.sipPort}`, shortCall)),
    ),
  );
  await sleep(1000);
  const fanCpuPct = (100 * (cpuMs(pid) - cpuF0)) / (performance.now() - tF0);
  // Only this phase's calls: the listen phase's call may end while the watchers connect.
  const started = new Set(
    [...arrivals.keys()].filter((k) => k.startsWith('call-start:')).map((k) => k.slice(11)),
  );
  for (const k of [...arrivals.keys()]) if (!started.has(k.slice(k.indexOf(':') + 1))) arrivals.delete(k);
  const spreads = [...arrivals.values()].map((a) => Math.max(...a) - Math.min(...a));
  const complete = [...arrivals.values()].filter((a) => a.length === WATCHERS).length;
  const incomplete = [...arrivals]
    .filter(([, a]) => a.length !== WATCHERS)
    .map(([k, a]) => `${k} reached ${a.length}`);
  for (const ws of watchers) ws.terminate();

  const metrics = await fetch(`${base}/metrics`, wsAuth).then((r) => r.text());
  await server.stop();

  // 4. Listen-in from the spool files (SRS_LISTEN_SOURCE=spool: what an engine without a live tap gets).
  const y = await open({ SRS_LISTEN_SOURCE: 'spool' });
  const sp = await listenPhase(y);
  await y.server.stop();

  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
  process.stdout.write(
    [
      `live monitor benchmark (${SECONDS} s calls, 2 RTP streams, 50 packets/s each)`,
      '',
      `baseline, no listener:   server CPU ${baseCpuPct.toFixed(1)} % of a core, packets ${bl.rx} received, ${bl.lost} lost`,
      `${String(LISTENERS).padStart(4)} listeners (mix): server CPU ${listenCpuPct.toFixed(1)} % of a core (x${(listenCpuPct / baseCpuPct).toFixed(1)} baseline), packets ${ll.rx} received, ${ll.lost} lost`,
      `   frames ${frames} (${(frames / LISTENERS).toFixed(0)} per listener), ${(bytes / LISTENERS / 1024).toFixed(0)} KiB per listener`,
      `   latency RTP send -> frame received (client, end to end), newest packet of each frame: p50 ${f(pct(e2e, 50))} ms, p95 ${f(pct(e2e, 95))} ms, p99 ${f(pct(e2e, 99))} ms, max ${f(Math.max(...e2e))} ms`,
      `                                                           oldest packet of each frame: p50 ${f(pct(e2eOldest, 50))} ms, p95 ${f(pct(e2eOldest, 95))} ms, p99 ${f(pct(e2eOldest, 99))} ms, max ${f(Math.max(...e2eOldest))} ms`,
      `   latency audio arrival -> frame sent (server, oldest audio of each frame): p50 ${f(pct(serverLat, 50))} ms, p95 ${f(pct(serverLat, 95))} ms, max ${f(Math.max(...serverLat))} ms`,
      `${String(LISTENERS).padStart(4)} listeners, spool-file tap (SRS_LISTEN_SOURCE=spool): server CPU ${sp.listenCpuPct.toFixed(1)} % of a core, packets ${sp.ll.rx} received, ${sp.ll.lost} lost, ${(sp.frames / LISTENERS).toFixed(0)} frames per listener`,
      `   latency RTP send -> frame received, oldest packet of each frame: p50 ${f(pct(sp.e2eOldest, 50))} ms, p95 ${f(pct(sp.e2eOldest, 95))} ms, p99 ${f(pct(sp.e2eOldest, 99))} ms, max ${f(Math.max(...sp.e2eOldest))} ms`,
      `   latency audio arrival -> frame sent (server, oldest audio of each frame): p50 ${f(pct(sp.serverLat, 50))} ms, p95 ${f(pct(sp.serverLat, 95))} ms, max ${f(Math.max(...sp.serverLat))} ms`,
      `${String(WATCHERS).padStart(4)} watchers, ${CALLS} calls: ${complete}/${arrivals.size} events reached every watcher${incomplete.length ? ` (not: ${incomplete.join(', ')})` : ''}; first-to-last watcher spread p50 ${f(pct(spreads, 50))} ms, max ${f(Math.max(...spreads))} ms; server CPU ${fanCpuPct.toFixed(1)} % of a core`,
      '',
      metrics
        .split('\n')
        .filter((x) => /^srs_(listen_latency|rtp_packets|calls_total|monitor)/.test(x))
        .join('\n'),
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:monitor failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
