/**
 * The live monitor WebSocket (/monitor) of the real server under floods that cost the database or
 * hold connections (docs/api.md, "Live monitor"; the limits: src/monitor/limits.ts):
 * - 2,000 `listen` messages back to back for a live call the user may hear: new SIPREC calls are
 *   still answered 200 within 2 s, /healthz stays fast, the audit trail gains a few listen.start
 *   rows (not one per message) and the socket is closed with 1008;
 * - more monitor sockets than the cap with one credential: the extra ones closed with 4429 and a
 *   reason, other users still connect, a closed socket gives its slot back;
 * - a client that stops answering the server's pings is cut within two ping intervals.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions, type Reply } from '../helpers/server-client.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The server's ping interval in this test (SRS_MONITOR_PING_SECONDS). */
const PING_SECONDS = 1;
/** The default cap of monitor sockets per user. */
const CAP = 8;
const FLOOD = Number(process.env.FLOOD ?? 2000);

describe('monitor WebSocket: floods and idle sockets are bounded', { timeout: 240000 }, () => {
  let server: TestServer;
  let base: string;
  const cookies: Record<string, string> = {};
  const uacs: SiprecUac[] = [];

  const call = (method: string, path: string, o: CallOptions = {}): Promise<Reply> =>
    callServer(base, method, path, o);
  const admin = { bearer: '' };
  const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 15000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const mkUser = async (username: string, numbers: string[]) => {
    const r = await call('POST', '/api/v1/users', {
      ...admin,
      body: { username, password: `${username}-password`, role: 'user', numbers },
    });
    assert.equal(r.status, 201, r.text);
    const l = await call('POST', '/api/v1/login', { body: { username, password: `${username}-password` } });
    assert.equal(l.status, 200, l.text);
    cookies[username] = (l.headers.get('set-cookie') ?? '').split(';')[0] as string;
  };
  /** srs_monitor_clients: the sockets the server holds (a closed one is gone once it says so). */
  const monitorClients = async () => {
    const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${server.token}` } });
    return Number(/^srs_monitor_clients (\d+)/m.exec(await r.text())?.[1]);
  };
  const auditCount = async (q: string) =>
    ((await call('GET', `/api/v1/audit?${q}&limit=1000`, admin)).json.items ?? []).length;

  /** A monitor socket: its messages, the handshake status, the close code and reason. */
  const open = (headers: Record<string, string>, o: WebSocket.ClientOptions = {}) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/monitor`, { headers, ...o });
    const msgs: { type: string; [k: string]: unknown }[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) msgs.push(JSON.parse(String(d)) as { type: string });
    });
    ws.on('error', () => undefined);
    const opened = new Promise<number>((resolve) => {
      ws.once('open', () => resolve(101));
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(0));
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    /** 'snapshot' once the first snapshot came, else the close code (or 'none' after `ms`). */
    const settled = async (ms = 5000): Promise<string | number> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (msgs.some((m) => m.type === 'snapshot')) return 'snapshot';
        const c = await Promise.race([closed, sleep(20).then(() => null)]);
        if (c) return c.code;
      }
      return 'none';
    };
    return { ws, msgs, opened, closed, settled };
  };
  const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const r = await f();
    return [r, performance.now() - t0];
  };
  /** A new SIPREC call (participant sip:alice@example.com): its final status and how long it took. */
  const newCall = async () => {
    const uac = await SiprecUac.open(server.sipPort);
    uacs.push(uac);
    return timed(() => uac.invite());
  };

  before(async () => {
    server = await startTestServer({ SRS_MONITOR_PING_SECONDS: String(PING_SECONDS) });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    admin.bearer = server.token;
    // alice may hear the calls of sip:alice@example.com (SiprecUac's participant); bob may not.
    await mkUser('alice', ['alice']);
    await mkUser('bob', ['bob']);
  });
  after(async () => {
    for (const u of uacs) u.start('BYE');
    await sleep(300);
    await server?.stop();
  });

  it('keeps taking calls under 2000 listens back to back for a call the user may hear', async () => {
    const [first] = await newCall();
    assert.equal(first.status, 200, 'the call to listen to');
    let recordingId = '';
    await until('the call to go live', async () => {
      const items = (await call('GET', '/api/v1/calls', admin)).json.items ?? [];
      recordingId = String(items[0]?.recordingId ?? '');
      return recordingId !== '';
    });
    const a = open({ cookie: cookies.alice as string });
    assert.equal(await a.opened, 101);
    await until('the snapshot with the call', () =>
      a.msgs.some((m) => m.type === 'snapshot' && JSON.stringify(m).includes(recordingId)),
    );
    const before = await auditCount('action=listen.start&actor=alice');
    const [baseline, baselineMs] = await newCall();
    assert.equal(baseline.status, 200);

    const listen = JSON.stringify({ type: 'listen', recordingId, channel: 'mix' });
    for (let i = 0; i < FLOOD; i++) a.ws.send(listen);
    // Right behind the flood (once the server answers its first message): a new call and the health check.
    await until('a first answer', () => a.msgs.length > 1);
    const [[invite, inviteMs], [health, healthMs]] = await Promise.all([
      newCall(),
      sleep(100).then(() => timed(() => fetch(`${base}/healthz`))),
    ]);
    const closed = await Promise.race([a.closed, sleep(15000).then(() => null)]);
    await sleep(1000); // entries still being written land before the count
    const started = (await auditCount('action=listen.start&actor=alice')) - before;
    const errors = a.msgs.filter((m) => m.type === 'error');
    const report =
      `INVITE ${invite.status} in ${inviteMs.toFixed(0)} ms (before the flood ${baselineMs.toFixed(0)} ms), /healthz ${health.status} in ` +
      `${healthMs.toFixed(0)} ms, listen.start rows +${started}, ${errors.length} errors, ` +
      `${a.msgs.filter((m) => m.type === 'listening').length} listening, close ${JSON.stringify(closed)}`;
    console.log(report);
    assert.equal(invite.status, 200, report);
    assert.ok(inviteMs < 2000, report);
    assert.equal(health.status, 200, report);
    assert.ok(healthMs < 1000, report);
    assert.ok(started >= 1 && started <= 12, `listen.start rows: ${report}`);
    assert.ok(
      errors.some((m) => /busy|too many/.test(String(m.error))),
      `a refusal says why: ${JSON.stringify(errors.slice(0, 3))}`,
    );
    assert.equal(closed?.code, 1008, `closed for sustained abuse: ${report}`);

    // A new socket of alice listens as before.
    const again = open({ cookie: cookies.alice as string });
    assert.equal(await again.opened, 101);
    again.ws.send(listen);
    await until('listening on a new socket', () => again.msgs.some((m) => m.type === 'listening'));
    again.ws.close();
    await again.closed;
  });

  it('closes monitor sockets over the per-user cap with 4429 while other users connect', async () => {
    const alice = { cookie: cookies.alice as string };
    await until('no monitor socket left from before', async () => (await monitorClients()) === 0);
    // A burst at once: the cap holds however the handshakes interleave.
    const burst = Array.from({ length: CAP + 4 }, () => open(alice));
    const outcomes = await Promise.all(burst.map((s) => s.settled()));
    const kept = burst.filter((_s, i) => outcomes[i] === 'snapshot');
    const refused = burst.filter((_s, i) => outcomes[i] !== 'snapshot');
    assert.equal(kept.length, CAP, `outcomes: ${outcomes.join(' ')}`);
    for (const s of refused) {
      const c = await s.closed;
      assert.equal(c.code, 4429);
      assert.match(c.reason, /too many monitor connections/);
    }
    // One more, alone: refused too; another user and the admin token still connect.
    const extra = open(alice);
    assert.equal(await extra.settled(), 4429);
    const others: Record<string, string>[] = [
      { cookie: cookies.bob as string },
      { authorization: `Bearer ${server.token}` },
    ];
    for (const other of others) {
      const s = open(other);
      assert.equal(await s.settled(), 'snapshot', JSON.stringify(Object.keys(other)));
      s.ws.close();
      await s.closed;
    }
    // A socket closed gives its slot back.
    kept[0]?.ws.close();
    await kept[0]?.closed;
    await until('the server to let the socket go', async () => (await monitorClients()) === CAP - 1);
    const next = open(alice);
    assert.equal(await next.settled(), 'snapshot');
    await sleep(500);
    assert.equal(next.ws.readyState, WebSocket.OPEN, 'the new socket stays open');
    for (const s of [...kept, next]) s.ws.close();
    await Promise.all([...kept, next].map((s) => s.closed));
  });

  it('cuts a client that stops answering pings within two ping intervals', async () => {
    const auth = { authorization: `Bearer ${server.token}` };
    const live = open(auth);
    const dead = open(auth, { autoPong: false });
    assert.equal(await live.settled(), 'snapshot');
    assert.equal(await dead.settled(), 'snapshot');
    const t0 = Date.now();
    const gone = await Promise.race([dead.closed, sleep(10 * PING_SECONDS * 1000).then(() => null)]);
    const ms = Date.now() - t0;
    assert.ok(gone, `a client that answers no ping is still connected after ${ms} ms`);
    assert.equal(gone.code, 1006, 'terminated, no closing handshake');
    assert.ok(ms <= 2 * PING_SECONDS * 1000 + 700, `cut after ${ms} ms`);
    // A client that answers stays.
    await sleep(3 * PING_SECONDS * 1000);
    assert.equal(live.ws.readyState, WebSocket.OPEN, 'a client answering pings stays connected');
    live.ws.close();
    await live.closed;
  });
});
