/**
 * The HTTP port under a connection flood, on the real server: idle connections held for ever used
 * to let one client take the process's file descriptors (about 19,000 from two processes here left
 * the recorder 19,021 of its 20,000), and Node's defaults never closed a connection that sends
 * nothing nor, for minutes, one that half-sends its headers. Now: at most
 * SRS_HTTP_MAX_CONNECTIONS_PER_ADDRESS from one address and SRS_HTTP_MAX_CONNECTIONS in all, a connection that sends nothing
 * within 10 s is closed, headers not complete within 20 s get 408.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { closedWithin, healthz, tcpConnect } from '../helpers/tcp-probe.js';

describe('HTTP port: connection limits (srs serve)', { timeout: 120_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      SRS_HTTP_MAX_CONNECTIONS: '40',
      SRS_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '20',
      // No health check reserve: a connection past the limit is closed at accept (the reserve is
      // api-health-reserve.test.ts).
      SRS_HTTP_HEALTH_RESERVE: '0',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    assert.equal(await server?.stop(), 0, server?.output().slice(-3000));
  });

  it('holds 20 idle connections from one address and 40 in all, serves others meanwhile, closes the idle after 10 s', async () => {
    const port = server.httpPort;
    const one = [];
    for (let i = 0; i < 25; i++) one.push(await tcpConnect(port, '127.0.0.1'));
    const first = await Promise.all(one.map((s) => closedWithin(s, 1000)));
    assert.deepEqual(
      [first.slice(0, 20).some(Boolean), first.slice(20).every(Boolean)],
      [false, true],
      `closed at once from one address: ${first.filter(Boolean).length} of 25 (expected the last 5)`,
    );
    // Another host is served while the first holds its 20.
    assert.equal(await healthz(port, '127.0.0.2'), 200);
    const two = [];
    for (let i = 0; i < 20; i++) two.push(await tcpConnect(port, `127.0.0.${3 + (i % 2)}`));
    const full = await Promise.all(two.map((s) => closedWithin(s, 1000)));
    assert.equal(
      full.filter((c) => !c).length,
      20,
      'the next 20 from two more addresses are held (40 in all)',
    );
    const over = await tcpConnect(port, '127.0.0.5');
    assert.equal(await closedWithin(over, 1000), true, 'a 41st connection is closed at once');
    // Nothing sent on them: every held connection is closed 10 s after its connect.
    const late = await Promise.all([...one.slice(0, 20), ...two].map((s) => closedWithin(s, 13_000)));
    assert.equal(late.filter(Boolean).length, 40, 'idle connections closed');
    assert.equal(await healthz(port, '127.0.0.1'), 200, 'the first address is served again');
  });

  it('answers headers that never end with 408 and closes the connection', async () => {
    const s = await tcpConnect(server.httpPort, '127.0.0.6');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const t0 = Date.now();
    assert.equal(await closedWithin(s, 25_000), true, 'closed');
    assert.match(got, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - t0 >= 15_000, `not before its deadline (${Date.now() - t0} ms)`);
  });
});
