/**
 * The real server's process series (`srs serve` as a child: embedded Postgres, SIP edge, native
 * engine, pipeline), read against /proc/<pid> from outside, and the descriptor check a recorder
 * that runs around the clock needs: SIPp calls with RTP (sip-scenarios/siprec-load.xml) hold
 * sockets and spool files while they last, and give every one back once their recordings are stored.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { freePort, run, startTestServer, type TestServer } from '../helpers/server.js';
import { SCENARIOS, removeSippErrorLogs } from '../helpers/sipp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const IDLE_MS = 11000;

describe('process metrics of the real server', { timeout: 240000 }, () => {
  let server: TestServer;
  let pid: number;
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(r.status, 200, path);
    return r;
  };
  const scrape = async () => {
    const text = await (await get('/metrics')).text();
    return (name: string): number => {
      const x = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return x ? Number(x[1]) : assert.fail(`${name} missing from /metrics`);
    };
  };
  const procFds = async () => (await readdir(`/proc/${pid}/fd`)).length;
  const stored = async () => {
    const r = (await (await get('/api/v1/recordings?state=stored&limit=1&count=exact')).json()) as {
      total: number;
    };
    return r.total;
  };
  /** `n` SIPp calls of 2 s with RTP at 20 calls/s; resolves when SIPp is done. */
  const calls = async (n: number) => {
    const r = await run(
      'sipp',
      [
        ...['-sf', 'siprec-load.xml', '-s', 'srs', '-i', '127.0.0.1', '-p', String(await freePort(true))],
        ...['-mp', String(42000 + 4 * Math.floor(Math.random() * 4000))],
        ...['-r', '20', '-m', String(n), '-l', '100', '-timeout', '60s', '-timeout_error', '-nostdin'],
        `127.0.0.1:${server.sipPort}`,
      ],
      { cwd: SCENARIOS, timeoutMs: 90000 },
    );
    assert.equal(r.code, 0, `SIPp: ${r.stdout.slice(-1500)}${r.stderr.slice(-500)}`);
  };
  const allStored = async (n: number) => {
    for (const end = Date.now() + 90000; (await stored()) < n; await sleep(250))
      if (Date.now() > end) assert.fail(`${await stored()} of ${n} stored\n${server.output().slice(-2000)}`);
  };

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    pid = server.proc.pid as number;
  });
  after(async () => {
    await server?.stop();
    await removeSippErrorLogs('siprec-load');
  });

  it('reports what /proc shows of the process: descriptors, limit, memory, CPU, start', async () => {
    const m = await scrape();
    const fds = await procFds();
    // The scrape's connection may close in between: one or two either way.
    assert.ok(Math.abs(m('process_open_fds') - fds) <= 3, `/metrics ${m('process_open_fds')}, /proc ${fds}`);
    const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
    assert.equal(m('process_max_fds'), Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]));
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
    const rssSeen = m('process_resident_memory_bytes');
    assert.ok(Math.abs(rssSeen - rss) / rss < 0.15, `/metrics ${rssSeen}, /proc ${rss}`);
    const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat (11 and 12 after the name).
    const cpu = (Number(stat[11]) + Number(stat[12])) / hz;
    assert.ok(cpu > 0.5, `a server that started has burnt CPU: ${cpu} s`);
    assert.ok(
      Math.abs(m('process_cpu_seconds_total') - cpu) < 0.5,
      `/metrics ${m('process_cpu_seconds_total')}, /proc ${cpu}`,
    );
    const now = Date.now() / 1000;
    assert.ok(m('process_start_time_seconds') > now - 240 && m('process_start_time_seconds') <= now);
    assert.ok(
      m('nodejs_heap_size_used_bytes') > 0 &&
        m('nodejs_heap_size_used_bytes') <= m('nodejs_heap_size_total_bytes'),
    );
  });

  it('holds descriptors while calls last and gives every one back once they are stored', async () => {
    // A first batch brings the pools (database connections, libuv's threads) to their working size.
    await calls(20);
    await allStored(20);
    // Idle database connections close after 10 s (pg's default): both counts are taken past that.
    await sleep(IDLE_MS);
    const settled = (await scrape())('process_open_fds');
    // A second batch, three times as many calls: a descriptor kept per call would show 60 times.
    let peak = 0;
    let peakCalls = 0;
    const batch = calls(60);
    let done = false;
    void batch.finally(() => (done = true)).catch(() => undefined);
    while (!done) {
      const m = await scrape();
      if (m('process_open_fds') > peak) [peak, peakCalls] = [m('process_open_fds'), m('srs_active_calls')];
      await sleep(200);
    }
    await batch;
    await allStored(80);
    await sleep(IDLE_MS);
    const end = (await scrape())('process_open_fds');
    const fds = await procFds();
    assert.ok(peakCalls >= 10, `calls overlapped: ${peakCalls} at the peak`);
    assert.ok(
      peak >= settled + peakCalls,
      `each live call holds descriptors: ${settled} -> ${peak} with ${peakCalls} calls`,
    );
    assert.ok(
      end <= settled + 8,
      `descriptors given back: ${settled} before 60 calls, ${end} after (/proc ${fds})`,
    );
  });
});
