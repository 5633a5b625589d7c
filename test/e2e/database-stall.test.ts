/**
 * The database hangs (its processes stopped with SIGSTOP: a storage stall, a partition without a
 * reset) under the real server and its real embedded Postgres. Before, a new SIPREC INVITE got no
 * final response at all (the SRC's transaction ran into its own timer), /healthz and the API did
 * not answer either, so neither a load balancer nor the SRC could fail over. Now: the INVITE gets
 * 503 with Retry-After within the catalogue deadline (SRS_CATALOGUE_TIMEOUT_MS), /healthz answers
 * 503 with `database: false` within 2 s, and from then on OPTIONS probes, new INVITEs, API
 * requests and monitor connections that need the database get 503 at once, and /metrics answers
 * without what the database would give (`srs_database_up 0`); once the database is
 * back, a new call is recorded and stored, and the refused call leaves no row behind (its insert,
 * committed late, is removed). A live call's re-INVITE (pause) went unanswered while the database
 * hung (the SRC's transaction times out, and an SRC may end the call); now it is answered at once
 * and its events reach the catalogue once the database is back. An API request already waiting
 * when the database stalled waited until it was back; now it gets 503 once the stall is known. SIGTERM waited for ever; now the
 * shutdown ends at SRS_SHUTDOWN_TIMEOUT_SECONDS, or at once on a second signal. A database host
 * that accepts connections and answers nothing kept `srs serve` and every `srs` command waiting
 * for ever without a word; now they exit 1 after the 10 s connect timeout, naming the address.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SRS_BIN, freePort, run, startTestServer, type TestServer } from '../helpers/server.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents } from '../helpers/recording.js';
import { sipOptions } from '../helpers/kamailio.js';
import WebSocket from 'ws';

/** The children of `pid`. pgrep exits 1 when there are none; any other failure is the test's. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch (err) {
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
}

/** A process's state letter from /proc (T: stopped), or 'gone'. */
function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
  } catch {
    return 'gone';
  }
}

/** The stopped processes' pids and states: what a failure should show. */
const postgresStates = (pids: number[]): string => pids.map((p) => `${p} ${stateOf(p)}`).join(', ');

const signal = (pids: number[], sig: NodeJS.Signals): void => {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone
    }
  }
};

/**
 * Stops the embedded Postgres: its postmaster first, so that it forks no backend any more, then
 * every child it has once it is stopped. Listing the children first and stopping them after can
 * leave a backend forked in between running, free to answer the health probe's `select 1`: the
 * likely reason /healthz once said 200 with the database "hung" (a full local run; not reproduced
 * alone). Returns the stopped processes once every one of them is in state T.
 */
async function stopPostgres(server: TestServer): Promise<number[]> {
  const pid = Number((await readFile(join(server.dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const stopped = [pid];
  signal([pid], 'SIGSTOP');
  const deadline = Date.now() + 5000;
  for (;;) {
    // States first, children after: once the postmaster is seen stopped, the list is complete.
    const running = stopped.filter((p) => !['T', 'gone'].includes(stateOf(p)));
    const fresh = childrenOf(pid).filter((c) => !stopped.includes(c));
    if (fresh.length === 0 && running.length === 0) return stopped;
    signal(fresh, 'SIGSTOP');
    stopped.push(...fresh);
    assert.ok(Date.now() < deadline, `postgres processes not stopped after 5 s: ${running.join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An HTTP answer within `ms`: its status and body, or 'no answer'. */
async function within(
  url: string,
  ms: number,
  token?: string,
): Promise<{ status: number | 'no answer'; text: string }> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  try {
    const r = await fetch(url, {
      signal: ac.signal,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: r.status, text: await r.text() };
  } catch {
    return { status: 'no answer', text: '' };
  } finally {
    clearTimeout(t);
  }
}

describe('database hung (SIGSTOP) under srs serve', { timeout: 240_000 }, () => {
  let server: TestServer;
  let stopped: number[] = [];

  before(async () => {
    server = await startTestServer({ SRS_CATALOGUE_TIMEOUT_MS: '3000' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    signal(stopped, 'SIGCONT');
    assert.equal(await server?.stop(), 0, server?.output().slice(-3000));
  });

  it('refuses a new call with 503 in time, answers /healthz and the API, records again once it is back', async () => {
    stopped = await stopPostgres(server);
    const refused = await SiprecUac.open(server.sipPort);
    try {
      const started = Date.now();
      const inv = await refused.invite({ streams: 1 });
      const took = Date.now() - started;
      assert.equal(inv.status, 503, inv.text.slice(0, 400));
      assert.match(inv.text, /^Retry-After: \d+/m);
      assert.ok(took >= 2500 && took < 6000, `answered after ${took} ms (deadline 3000)`);
    } finally {
      refused.close();
    }

    const health = await within(`http://127.0.0.1:${server.httpPort}/healthz`, 4000);
    assert.equal(health.status, 503, `${health.text}\npostgres: ${postgresStates(stopped)}`);
    assert.equal((JSON.parse(health.text) as { details: { database: boolean } }).details.database, false);
    // Known stalled now: a load balancer's OPTIONS probe gets 503, the next INVITE is refused at once.
    assert.equal(await sipOptions(`127.0.0.1:${server.sipPort}`), 503);
    const next = await SiprecUac.open(server.sipPort);
    try {
      const started = Date.now();
      const inv = await next.invite({ streams: 1 });
      assert.equal(inv.status, 503, inv.text.slice(0, 400));
      assert.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms`);
      assert.match(inv.text, /^Retry-After: \d+/m);
    } finally {
      next.close();
    }
    // The live monitor: a credential that needs the database is refused with 503 at once.
    const upgrade = await new Promise<number | string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/monitor`, {
        headers: { authorization: 'Bearer not-the-admin-token' },
      });
      const t = setTimeout(() => {
        ws.terminate();
        resolve('no answer in 3 s');
      }, 3000);
      ws.on('unexpected-response', (_req, res) => {
        clearTimeout(t);
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        clearTimeout(t);
        resolve('opened');
        ws.close();
      });
      ws.on('error', () => undefined);
    });
    assert.equal(upgrade, 503);
    // /metrics still answers (what needs the database is left out) and says the database is away.
    const metrics = await within(`http://127.0.0.1:${server.httpPort}/metrics`, 5000, server.token);
    assert.equal(metrics.status, 200, metrics.text.slice(0, 300));
    assert.match(metrics.text, /^srs_database_up 0$/m);
    assert.match(metrics.text, /^srs_active_calls 0$/m);
    const api = await within(`http://127.0.0.1:${server.httpPort}/api/v1/recordings`, 8000, server.token);
    assert.equal(api.status, 503, api.text);
    assert.match(api.text, /database/);

    signal(stopped, 'SIGCONT');
    stopped = [];
    // Back: /healthz says so within its next probe, and calls are taken again.
    const back = Date.now() + 10_000;
    while ((await within(`http://127.0.0.1:${server.httpPort}/healthz`, 3000)).status !== 200) {
      assert.ok(Date.now() < back, 'healthz still 503 10 s after the database came back');
      await new Promise((r) => setTimeout(r, 200));
    }
    const ok = await SiprecUac.open(server.sipPort);
    const inv = await ok.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text.slice(0, 400));
    await sendLoopbackTone(inv.ports[0] as number, 1000, 0x77);
    assert.match(await ok.request('BYE'), /^SIP\/2\.0 200/);
    ok.close();
    await waitForState(server, ok.callId, 'stored');
    // The refused call's row, inserted once the database answered, is gone again.
    const deadline = Date.now() + 15_000;
    let rows = await listRecordings(server);
    while (rows.some((r) => r.callId === refused.callId) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      rows = await listRecordings(server);
    }
    assert.deepEqual(
      rows.map((r) => r.callId),
      [ok.callId],
      'only the call recorded after the stall is catalogued',
    );
    // Nor a spool: the refused calls' directories are gone, the stored call's wiped.
    assert.deepEqual(await readdir(join(server.dataDir, 'spool')), []);
    assert.match(server.output(), /catalogue did not answer within 3000 ms/);
  });
  it('answers a re-INVITE (pause, resume) while the database hangs; the catalogue gets its events once it is back', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text.slice(0, 400));
    const port = inv.ports[0] as number;
    await sendLoopbackTone(port, 1000, 0x78);
    stopped = await stopPostgres(server);
    const started = Date.now();
    const pause = await uac.reinvite({ streams: 1, direction: 'inactive' }, 10_000);
    const took = Date.now() - started;
    assert.match(pause ?? 'no answer in 10 s', /^SIP\/2\.0 200/);
    assert.match(pause ?? '', /^a=inactive/m);
    assert.ok(took < 2000, `the pause was answered after ${took} ms`);
    await new Promise((r) => setTimeout(r, 1500));
    signal(stopped, 'SIGCONT');
    stopped = [];
    const resume = await uac.reinvite({ streams: 1 }, 10_000);
    assert.match(resume ?? 'no answer in 10 s', /^SIP\/2\.0 200/);
    await sendLoopbackTone(port, 1000, 0x78);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    const types = (await recordingEvents(server, rec.id)).map((e) => e.type);
    assert.ok(
      types.includes('stream-paused') && types.includes('stream-resumed'),
      `events: ${types.join(', ')}`,
    );
    assert.ok(
      types.indexOf('stream-paused') < types.indexOf('stream-resumed'),
      `events: ${types.join(', ')}`,
    );
  });

  it('answers 503 to an API request that was already waiting when the database stalled (it waited until the database was back)', async () => {
    stopped = await stopPostgres(server);
    const started = Date.now();
    // Sent at once: the stall is not known yet, so the request reaches its handler and waits.
    const api = await within(`http://127.0.0.1:${server.httpPort}/api/v1/recordings`, 12_000, server.token);
    const took = Date.now() - started;
    assert.equal(api.status, 503, api.text);
    assert.match(api.text, /database/);
    assert.ok(took < 6000, `answered after ${took} ms`);
    await server.waitFor(/database not answering: a waiting API request answered 503/, 5000);
    signal(stopped, 'SIGCONT');
    stopped = [];
    // Its handler, finished once the database is back, finds the answer sent: the server goes on.
    const back = Date.now() + 10_000;
    let list = await within(`http://127.0.0.1:${server.httpPort}/api/v1/recordings`, 5000, server.token);
    while (list.status !== 200 && Date.now() < back) {
      await new Promise((r) => setTimeout(r, 200));
      list = await within(`http://127.0.0.1:${server.httpPort}/api/v1/recordings`, 5000, server.token);
    }
    assert.equal(list.status, 200, list.text);
  });
});

describe('shutdown with the database hung (SIGSTOP)', { timeout: 120_000 }, () => {
  const servers: TestServer[] = [];
  const stopped: number[] = [];
  const postmasters: number[] = [];
  after(async () => {
    signal(stopped, 'SIGCONT');
    for (const s of servers) await s.stop('SIGKILL');
    // The servers exited without stopping their embedded Postgres (a next start would adopt it).
    signal(postmasters, 'SIGINT');
  });

  /** Exit code and how long after `from` the process ended. */
  const exitOf = (s: TestServer, from: number) =>
    new Promise<{ code: number | null; ms: number }>((resolve) => {
      if (s.proc.exitCode !== null) return resolve({ code: s.proc.exitCode, ms: Date.now() - from });
      s.proc.once('exit', (code) => resolve({ code, ms: Date.now() - from }));
    });

  it('ends at SRS_SHUTDOWN_TIMEOUT_SECONDS with exit 1, or at once on a second signal (it waited for ever)', async () => {
    const [patient, hurried] = await Promise.all(
      [0, 1].map(async () => {
        const s = await startTestServer({ SRS_SHUTDOWN_TIMEOUT_SECONDS: '4' });
        servers.push(s);
        await s.waitFor(/SIPREC recording server ready/, 60000);
        return s;
      }),
    );
    for (const s of [patient, hurried] as TestServer[]) {
      const pids = await stopPostgres(s);
      stopped.push(...pids);
      postmasters.push(pids[0] as number);
    }
    // Let the database's stall be felt (the health probe, the job queue's poll wait on it).
    await new Promise((r) => setTimeout(r, 2500));
    const started = Date.now();
    const p = patient as TestServer;
    const h = hurried as TestServer;
    const ends = [exitOf(p, started), exitOf(h, started)] as const;
    p.proc.kill('SIGTERM');
    h.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    const second = Date.now();
    h.proc.kill('SIGINT');
    const [a, b] = await Promise.all(ends);
    assert.equal(a.code, 1, p.output().slice(-2000));
    assert.ok(a.ms >= 3500 && a.ms < 9000, `exited ${a.ms} ms after SIGTERM (timeout 4 s)`);
    assert.match(p.output(), /the shutdown did not finish in 4 s: exiting/);
    assert.equal(b.code, 1, h.output().slice(-2000));
    assert.ok(
      b.ms - (second - started) < 1500,
      `exited ${b.ms - (second - started)} ms after the second signal`,
    );
    assert.match(h.output(), /second signal: exiting now/);
  });
});

describe('a database host that accepts connections and answers nothing', { timeout: 120_000 }, () => {
  it('srs serve and srs recordings list exit 1 within the connect timeout, naming the address, not the password (they waited for ever without a word)', async () => {
    const held: Socket[] = [];
    const blackhole = createServer((sock) => held.push(sock));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
    const port = (blackhole.address() as AddressInfo).port;
    const dataDir = await mkdtemp(join(tmpdir(), 'srs-blackhole-'));
    try {
      const env = {
        ...(process.env as Record<string, string>),
        SRS_DATA_DIR: dataDir,
        DATABASE_URL: `postgres://srs:not-to-be-printed@127.0.0.1:${port}/srs`,
        SIP_HOST: '127.0.0.1',
        SIP_PORT: String(await freePort(true)),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(await freePort()),
      };
      const started = Date.now();
      const [serve, list] = await Promise.all([
        run(process.execPath, [SRS_BIN, 'serve'], { env, timeoutMs: 40_000 }),
        run(process.execPath, [SRS_BIN, 'recordings', 'list'], { env, timeoutMs: 40_000 }),
      ]);
      const took = Date.now() - started;
      for (const r of [serve, list]) {
        assert.equal(r.code, 1, r.stdout.slice(-1000) + r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`the database at 127\\.0\\.0\\.1:${port} cannot be used: .*timeout`),
        );
        assert.ok(!(r.stdout + r.stderr).includes('not-to-be-printed'), 'the password was printed');
      }
      assert.ok(took < 30_000, `exited after ${took} ms (connect timeout 10 s)`);
    } finally {
      for (const s of held) s.destroy();
      blackhole.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
