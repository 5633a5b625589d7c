/**
 * The health check reserve of the HTTP port, on the real server: idle clients that filled
 * SRS_HTTP_MAX_CONNECTIONS left the orchestrator's GET /healthz and Prometheus's GET /metrics
 * refused at accept (reset), and a healthy recorder was restarted. Now SRS_HTTP_HEALTH_RESERVE more
 * connections serve those probes only (anything else 503 with Retry-After), each closed after
 * its answer, and one that sends no request headers within 2 s is closed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { closedWithin, tcpConnect } from '../helpers/tcp-probe.js';

interface Answer {
  status: number | string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether the server closed the connection within 2 s of its answer. */
  closed: boolean;
}

/** `method path` on a new connection from `localAddress`: the answer, or the error's code. */
function ask(
  port: number,
  localAddress: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    let socket: Socket | undefined;
    const req = request(
      { host: '127.0.0.1', port, method, path, headers, localAddress, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          void (socket ? closedWithin(socket, 2000) : Promise.resolve(true)).then((closed) =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, closed }),
          );
        });
      },
    );
    req.on('socket', (s: Socket) => (socket = s));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: err.code ?? err.message, headers: {}, body: '', closed: true }),
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The value of one sample line of a /metrics text. */
const sample = (text: string, line: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe('HTTP port: health check reserve (srs serve)', { timeout: 60_000 }, () => {
  let server: TestServer;
  /** The idle connections holding every ordinary place (closed by the server 10 s after connect). */
  const idle: Socket[] = [];
  const idleClosed: boolean[] = [];
  before(async () => {
    server = await startTestServer({
      SRS_HTTP_MAX_CONNECTIONS: '10',
      SRS_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '10',
      SRS_HTTP_HEALTH_RESERVE: '2',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    for (let i = 0; i < 10; i++) {
      const s = await tcpConnect(server.httpPort, '127.0.0.11');
      idleClosed.push(false);
      s.once('close', () => (idleClosed[i] = true));
      idle.push(s);
    }
  });
  after(async () => {
    for (const s of idle) s.destroy();
    assert.equal(await server?.stop(), 0, server?.output().slice(-3000));
  });

  it('serves GET /healthz and /metrics past the connection limit, closing each connection after its answer', async () => {
    const port = server.httpPort;
    assert.equal((await Promise.all(idle.map((s) => closedWithin(s, 300)))).filter(Boolean).length, 0);
    const health = await ask(port, '127.0.0.12', 'GET', '/healthz');
    assert.equal(health.status, 200, `GET /healthz with the limit full: ${health.status} ${health.body}`);
    assert.equal(health.headers.connection, 'close');
    assert.equal(health.closed, true, 'the reserve connection is closed after its answer');
    const m = await ask(port, '127.0.0.12', 'GET', '/metrics', { authorization: `Bearer ${server.token}` });
    assert.equal(m.status, 200, m.body);
    assert.equal(m.closed, true);
    assert.equal(sample(m.body, 'srs_http_connections_open{pool="ordinary"}'), 10);
    assert.equal(sample(m.body, 'srs_http_connections_open{pool="reserve"}'), 1);
    assert.equal(sample(m.body, 'srs_http_reserve_connections_total'), 2);
  });

  it('answers any other request on a reserve connection with 503 and Retry-After, and closes it', async () => {
    const port = server.httpPort;
    const api = await ask(port, '127.0.0.12', 'GET', '/api/v1/recordings', {
      authorization: `Bearer ${server.token}`,
    });
    assert.equal(api.status, 503, api.body);
    assert.equal(api.headers['retry-after'], '5');
    assert.match(api.body, /connection limit/);
    assert.equal(api.closed, true);
    const head = await ask(port, '127.0.0.12', 'HEAD', '/healthz');
    assert.deepEqual([head.status, head.closed], [503, true]);
    // The monitor WebSocket's upgrade too.
    const ws = await tcpConnect(port, '127.0.0.12');
    let got = '';
    ws.on('data', (d: Buffer) => (got += d.toString()));
    ws.write(
      'GET /monitor HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${server.token}\r\n\r\n`,
    );
    assert.equal(await closedWithin(ws, 2000), true, 'upgrade on a reserve connection closed');
    assert.match(got, /^HTTP\/1\.1 503 /);
  });

  it('closes idle and slow reserve connections after 2 s, so that they cannot hold the reserve', async () => {
    const port = server.httpPort;
    const t0 = Date.now();
    const silent = await tcpConnect(port, '127.0.0.13');
    const slow = await tcpConnect(port, '127.0.0.13');
    slow.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => !slow.destroyed && slow.write('X-Slow: 1\r\n'), 300);
    try {
      // The limit and the reserve full: refused at accept.
      const over = await tcpConnect(port, '127.0.0.14');
      assert.equal(await closedWithin(over, 1000), true, 'a connection past the reserve is closed at once');
      assert.equal(await closedWithin(silent, 1000), false, 'held in the reserve for its header deadline');
      const closed = await Promise.all([closedWithin(silent, 4000), closedWithin(slow, 4000)]);
      assert.deepEqual(closed, [true, true], `reserve connections closed by ${Date.now() - t0} ms`);
    } finally {
      clearInterval(drip);
      silent.destroy();
      slow.destroy();
    }
    // The ordinary places are still held (their first-bytes deadline is 10 s): the reserve serves.
    assert.deepEqual(idleClosed.filter(Boolean).length, 0, 'idle ordinary connections still open');
    const health = await ask(port, '127.0.0.12', 'GET', '/healthz');
    assert.equal(health.status, 200, `GET /healthz after the reserve was held: ${health.status}`);
    const m = await ask(port, '127.0.0.12', 'GET', '/metrics', { authorization: `Bearer ${server.token}` });
    const refused = (reason: string) =>
      sample(m.body, `srs_http_connections_refused_total{reason="${reason}"}`);
    assert.deepEqual(
      [refused('reserve-header-timeout'), refused('reserve-not-a-probe'), (refused('total-limit') ?? 0) >= 1],
      [2, 3, true],
      m.body,
    );
    assert.equal(idleClosed.filter(Boolean).length, 0, 'still within the idle connections deadline');
  });
});
