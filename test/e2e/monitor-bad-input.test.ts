/**
 * Hostile input to the live monitor WebSocket (/monitor) of the real server: bad handshakes get an
 * HTTP status and their socket closed, JSON of the wrong shape gets an error message on a socket
 * that stays open, protocol violations get their close code (1002, 1007, 1009), floods and a client
 * that never reads are bounded; after each the server is up (/healthz 200), logged no error and
 * keeps no monitor client behind.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { logLinesSince, logMark, startTestServer, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A client frame (masked, key 0) of `op` carrying `payload`; `len` overrides the declared length. */
function frame(op: number, payload: Buffer, o: { masked?: boolean; len?: bigint } = {}): Buffer {
  const len = o.len ?? BigInt(payload.length);
  const mask = o.masked === false ? 0 : 0x80;
  const head = [0x80 | op];
  if (len < 126n) head.push(mask | Number(len));
  else if (len < 65536n) head.push(mask | 126, Number(len >> 8n), Number(len & 255n));
  else {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(len);
    head.push(mask | 127, ...b);
  }
  return Buffer.concat([Buffer.from(head), Buffer.alloc(mask ? 4 : 0), payload]);
}

describe('monitor WebSocket: hostile input is refused cleanly', { timeout: 240000 }, () => {
  let server: TestServer;
  let mark = 0;
  const auth = () => ({ authorization: `Bearer ${server.token}` });

  const start = async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    mark = 0;
  };
  /** The server is up, answers /healthz and logged no error since the last check. */
  const healthy = async (what: string) => {
    await sleep(200);
    assert.equal(server.proc.exitCode, null, `${what}: the server exited:\n${server.output().slice(-3000)}`);
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
    assert.equal(r.status, 200, `${what}: /healthz`);
    const log = server.output().slice(mark);
    mark = server.output().length;
    const bad = log.split('\n').filter((l) => /"level":(50|60)|internal error|unhandled|Uncaught/i.test(l));
    assert.deepEqual(bad, [], `${what}: error lines in the log`);
  };
  const monitorClients = async () => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, { headers: auth() });
    return Number(/^srs_monitor_clients (\d+)/m.exec(await r.text())?.[1]);
  };

  /** A ws client: the handshake's status (101 or the refusal) and the close code. */
  const open = (headers: Record<string, string> = auth(), path = '/monitor') => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}${path}`, { headers });
    const msgs: Record<string, unknown>[] = [];
    const waiting: ((m: Record<string, unknown>) => void)[] = [];
    ws.on('message', (d, binary) => {
      const m = binary ? { binary: true } : (JSON.parse(String(d)) as Record<string, unknown>);
      const w = waiting.shift();
      if (w) w(m);
      else msgs.push(m);
    });
    ws.on('error', () => undefined);
    const opened = new Promise<number>((resolve) => {
      ws.once('open', () => resolve(101));
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(0));
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    /** The next message (or why none came). */
    const next = (): Promise<Record<string, unknown>> =>
      Promise.race([
        new Promise<Record<string, unknown>>((resolve) => {
          const m = msgs.shift();
          if (m) resolve(m);
          else waiting.push(resolve);
        }),
        closed.then((code) => ({ type: 'closed', code })),
        sleep(10000).then(() => ({ type: 'no reply' })),
      ]);
    /** Sends `data` and resolves with the next message. */
    const ask = (data: string | Buffer) => {
      ws.send(data);
      return next();
    };
    return { ws, msgs, opened, closed, next, ask };
  };

  /** A raw TCP client: writes `request`; `reply` is the first line the server sent back. */
  const raw = (request: string, o: { allowHalfOpen?: boolean } = {}) => {
    const s: Socket = connect({ port: server.httpPort, host: '127.0.0.1', allowHalfOpen: o.allowHalfOpen });
    let data = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
    s.on('error', () => undefined);
    s.write(request);
    const ended = new Promise<void>((resolve) => s.once('end', resolve));
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    const reply = Promise.race([ended, closed, sleep(5000)]).then(
      () => data.toString().split('\r\n')[0] ?? '',
    );
    return { s, reply, closed, data: () => data };
  };
  const upgrade = (path: string, headers = '') =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`;
  const wsHeaders = () =>
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${server.token}\r\n`;

  /** Opens /monitor over raw TCP, writes `bytes` and resolves with the server's close code (null: none). */
  const rawSession = async (bytes: Buffer): Promise<number | null> => {
    const c = raw(upgrade('/monitor', wsHeaders()));
    const deadline = Date.now() + 5000;
    while (!c.data().includes('\r\n\r\n') && Date.now() < deadline) await sleep(20);
    assert.match(c.data().toString(), /^HTTP\/1.1 101/);
    const from = c.data().indexOf('\r\n\r\n') + 4;
    c.s.write(bytes);
    await Promise.race([c.closed, sleep(5000)]);
    c.s.destroy();
    // The server's frames: find its close frame (opcode 8) and read its code.
    const d = c.data().subarray(from);
    for (let i = 0; i + 1 < d.length;) {
      const op = (d[i] as number) & 15;
      let len = (d[i + 1] as number) & 127;
      let at = i + 2;
      if (len === 126) [len, at] = [d.readUInt16BE(at), at + 2];
      if (op === 8) return d.readUInt16BE(at);
      i = at + len;
    }
    return null;
  };

  before(start);
  // A case that crashed the server (a defect) leaves the next cases a fresh one.
  beforeEach(async () => {
    await sleep(300);
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) await start();
  });
  after(async () => {
    await server?.stop();
  });

  it('refuses bad handshakes with an HTTP status', async () => {
    assert.equal(await open({}).opened, 401, 'no credential');
    assert.equal(await open({ authorization: 'Bearer nope' }).opened, 401, 'wrong token');
    assert.equal(await open({ authorization: `Bearer srs_${'x'.repeat(4000)}` }).opened, 401, 'long token');
    const crossSite = { cookie: 'srs_session=abc', origin: 'http://evil.example' };
    assert.equal(await open(crossSite).opened, 401, 'cookie from another origin');
    assert.equal(await open({}, `/monitor?token=${server.token}`).opened, 401, 'admin token in the URL');
    assert.equal(await open(auth(), '/monitor/x').opened, 404, 'other path');
    assert.equal(
      await raw(upgrade('/monitor', `Authorization: Bearer ${server.token}\r\n`)).reply,
      'HTTP/1.1 400 Bad Request',
    );
    const badUrl = await raw(upgrade('http://[', wsHeaders())).reply;
    assert.equal(badUrl, 'HTTP/1.1 400 Bad Request', 'a request target that is no URL');
    await healthy('bad handshakes');
  });

  it('logs a flood of refused handshakes as at most 20 lines, not a line each', async () => {
    const before = logMark(server);
    const refused = await Promise.all(
      Array.from({ length: 60 }, () => open({ authorization: 'Bearer nope' }).opened),
    );
    assert.deepEqual([...new Set(refused)], [401]);
    const lines = logLinesSince(server, before, 'monitor connection refused: no valid credential');
    assert.ok(lines <= 20, `${lines} lines for 60 refused handshakes`);
    await healthy('refused handshakes');
  });

  it('closes the socket of a refused handshake even when the client keeps its side open', async () => {
    for (const path of ['/monitor', '/elsewhere']) {
      const c = raw(upgrade(path, `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`), {
        allowHalfOpen: true,
      });
      assert.match(await c.reply, /^HTTP\/1.1 40[14]/);
      await sleep(300);
      // Writing to a socket the server has closed is answered by a reset (the next write fails).
      c.s.write('more\r\n');
      await sleep(200);
      c.s.write('more\r\n');
      const reset = await Promise.race([c.closed.then(() => true), sleep(2000).then(() => false)]);
      c.s.destroy();
      assert.ok(reset, `${path}: the server still holds the refused socket`);
    }
    await healthy('half-open refused sockets');
  });

  it('survives clients that reset the connection during and after a refused handshake', async () => {
    for (let i = 0; i < 40; i++)
      for (const req of [
        upgrade('/monitor', `${wsHeaders().replace(/Bearer \S+/, 'Bearer srs_zz')}`),
        upgrade('/x'),
      ]) {
        const s = connect(server.httpPort, '127.0.0.1', () => {
          s.write(req);
          setImmediate(() => s.resetAndDestroy());
        });
        s.on('error', () => undefined);
        await new Promise((r) => s.once('close', r));
      }
    await healthy('reset connections');
  });

  it('answers JSON of the wrong shape with an error and keeps the socket open', async () => {
    const c = open();
    assert.equal(await c.opened, 101);
    assert.equal((await c.next()).type, 'snapshot');
    const bad: (string | Buffer)[] = [
      'null',
      '42',
      '"a\\u0000b"',
      'true',
      '[]',
      '[{"type":"listen","recordingId":"x"}]',
      '{{{',
      '',
      Buffer.from([0, 1, 255]),
      '{"type":"nope\\u0000"}',
      '{"__proto__":{"type":"listen"},"recordingId":"x"}',
      '{"type":"listen"}',
      '{"type":"listen","recordingId":5}',
      '{"type":"listen","recordingId":"nope\\u0000","channel":{}}',
      JSON.stringify({ type: 'listen', recordingId: 'a'.repeat(60000) }),
      ...['pause', 'resume', 'start', 'stop'].map((type) =>
        JSON.stringify({ type, recordingId: 'nope\u0000' }),
      ),
      JSON.stringify({ type: 'stop', recordingId: 'x'.repeat(60000) }),
    ];
    for (const m of bad) {
      const reply = await c.ask(m);
      assert.equal(reply.type, 'error', `${String(m).slice(0, 60)}: ${JSON.stringify(reply).slice(0, 200)}`);
      assert.ok(typeof reply.error === 'string' && reply.error.length > 0);
    }
    assert.equal((await c.ask(JSON.stringify({ type: 'pause', recordingId: 'nope' }))).status, 404);
    assert.deepEqual(await c.ask('ping'), { type: 'pong' }, 'the socket still works');
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    c.ws.close();
    assert.equal(await c.closed, 1005);
    await healthy('wrong-shape JSON');
  });

  it('closes a connection that breaks the protocol with its close code', async () => {
    const viaWs = async (what: string, send: (ws: WebSocket) => void, code: number) => {
      const c = open();
      assert.equal(await c.opened, 101);
      send(c.ws);
      assert.equal(await Promise.race([c.closed, sleep(5000).then(() => -1)]), code, what);
      await healthy(what);
    };
    await viaWs('a text frame over 64 KiB', (ws) => ws.send('x'.repeat(70 * 1024)), 1009);
    await viaWs('a binary frame over 64 KiB', (ws) => ws.send(Buffer.alloc(200 * 1024)), 1009);
    await viaWs(
      'fragments adding up to over 64 KiB',
      (ws) => {
        for (let i = 0; i < 10; i++) ws.send('y'.repeat(10 * 1024), { fin: i === 9 });
      },
      1009,
    );
    const cases: [string, Buffer, number][] = [
      ['invalid UTF-8 in a text frame', frame(1, Buffer.from([0xff, 0xfe, 0xfd])), 1007],
      ['a reserved opcode', frame(3, Buffer.alloc(0)), 1002],
      ['an unmasked frame', frame(1, Buffer.from('hi'), { masked: false }), 1002],
      ['a length over 2^53', frame(2, Buffer.alloc(0), { len: 2n ** 63n - 1n }), 1009],
      ['a close frame with an invalid code', frame(8, Buffer.from([0x03, 0xe7])), 1002],
      ['a continuation frame out of the blue', frame(0, Buffer.from('x')), 1002],
    ];
    for (const [what, bytes, code] of cases) {
      assert.equal(await rawSession(bytes), code, what);
      await healthy(what);
    }
  });

  it('bounds floods: many listens, rapid open/close, pings and a client that never reads', async () => {
    const c = open();
    assert.equal(await c.opened, 101);
    for (let i = 0; i < 2000; i++) c.ws.send(JSON.stringify({ type: 'listen', recordingId: `r${i}` }));
    const deadline = Date.now() + 15000;
    while (c.msgs.filter((m) => m.type === 'error').length < 2000 && Date.now() < deadline) await sleep(50);
    assert.equal(c.msgs.filter((m) => m.type === 'error').length, 2000, 'one error per listen');
    c.msgs.length = 0;
    let pongs = 0;
    c.ws.on('pong', () => pongs++);
    for (let i = 0; i < 20; i++) c.ws.ping('p');
    assert.deepEqual(await c.ask('ping'), { type: 'pong' });
    assert.equal(pongs, 20);
    c.ws.close();

    // Rapid open/close: half cut while connecting, half at once after the handshake.
    const quick = Array.from({ length: 100 }, () => open());
    quick.forEach((o, i) => (i % 2 ? o.ws.terminate() : void o.opened.then(() => o.ws.terminate())));
    await Promise.all(quick.map((o) => o.closed));

    // A client that never reads while asking for large replies: dropped, not buffered without bound.
    const slow = raw(upgrade('/monitor', wsHeaders()));
    while (!slow.data().includes('\r\n\r\n')) await sleep(20);
    slow.s.pause();
    const ask = frame(1, Buffer.from(JSON.stringify({ type: 'listen', recordingId: 'z'.repeat(20000) })));
    for (let i = 0; i < 3000 && !slow.s.destroyed; i++)
      if (!slow.s.write(ask)) await Promise.race([new Promise((r) => slow.s.once('drain', r)), slow.closed]);
    assert.ok(await Promise.race([slow.closed.then(() => true), sleep(15000).then(() => false)]), 'dropped');

    for (let end = Date.now() + 5000; (await monitorClients()) !== 0 && Date.now() < end;) await sleep(100);
    assert.equal(await monitorClients(), 0, 'no monitor client left behind');
    await healthy('floods');
  });
});
