/**
 * An external drachtio-server that comes up after the recorder (systemd or compose starting both
 * at once): the server starts, says it waits for drachtio at host:port, reports `sip: false` on
 * /healthz, and takes calls once drachtio answers, however late. Shutdown closes the connection.
 * The "external server" is the edge started on its own in this test process on ports of our own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { startSipEdge, type SipEdge } from '../../src/sip/edge/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sipp, waitForState } from '../helpers/sipp.js';

/** A TCP port (and its UDP twin) free now in 48000-48999, the range of this test. */
async function portInRange(): Promise<number> {
  for (;;) {
    const port = 48000 + Math.floor(Math.random() * 1000);
    const tcp = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    const udp =
      tcp &&
      (await new Promise<boolean>((resolve) => {
        const u = createSocket('udp4');
        u.once('error', () => resolve(false));
        u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
      }));
    if (udp) return port;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Health {
  ok: boolean;
  details: { sip: boolean };
}

async function health(server: TestServer): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
  return (await res.json()) as Health;
}

/** Polls /healthz until `sip` is `want` (60 s at most); returns the last value seen. */
async function healthUntil(server: TestServer, want: boolean): Promise<boolean> {
  const deadline = Date.now() + 60000;
  let sip = (await health(server)).details.sip;
  while (sip !== want && Date.now() < deadline) {
    await sleep(500);
    sip = (await health(server)).details.sip;
  }
  return sip;
}

describe('external drachtio server that starts after the recorder', { timeout: 240000 }, () => {
  let server: TestServer;
  let edge: SipEdge | undefined;
  let controlPort: number;
  /** What the stand-in drachtio server logged, with the time it was logged. */
  const edgeLog: { at: number; msg: string }[] = [];
  const note = (_o: unknown, msg?: string): void => void edgeLog.push({ at: Date.now(), msg: msg ?? '' });
  const edgeLogger = { info: note, warn: note, error: note, debug() {} };

  before(async () => {
    controlPort = await portInRange();
    server = await startTestServer({
      DRACHTIO_HOST: '127.0.0.1',
      DRACHTIO_PORT: String(controlPort),
      DRACHTIO_SECRET: 'late-secret',
    });
    await server.waitFor(/SIPREC recording server ready/, 90000);
  });

  after(async () => {
    if (server && server.proc.exitCode === null) await server.stop();
    await edge?.close();
  });

  it('starts without drachtio, says it waits for it and reports sip: false', async () => {
    await server.waitFor(new RegExp(`waiting for the drachtio server at 127\\.0\\.0\\.1:${controlPort}`));
    const h = await health(server);
    assert.equal(h.details.sip, false);
    assert.equal(h.ok, false);
  });

  it('connects once drachtio comes up late and /healthz turns sip: true', async () => {
    // Well past the startup wait: drachtio appears only after the server has given up waiting.
    await sleep(7000);
    edge = await startSipEdge({
      sip: { host: '127.0.0.1', port: await portInRange() },
      control: { host: '127.0.0.1', port: controlPort, secret: 'late-secret' },
      log: edgeLogger,
    });
    const sip = await healthUntil(server, true);
    assert.equal(sip, true, `sip never became true:\n${server.output().slice(-3000)}`);
    await server.waitFor(/connected to drachtio server/, 10000);
  });

  it('records a call that arrives through the late drachtio server', async () => {
    assert.ok(edge, 'the drachtio stand-in is up');
    const trace = `${server.dataDir}/sipp-late.log`;
    const r = await sipp(`127.0.0.1:${edge.sipPort}`, 'siprec-basic.xml', [
      '-trace_msg',
      '-message_file',
      trace,
    ]);
    assert.equal(r.code, 0, `sipp failed: ${r.stdout.slice(-1500)}\n${server.output().slice(-2000)}`);
    const callId = /Call-ID: (\S+)/.exec(await readFile(trace, 'utf8'))?.[1];
    assert.ok(callId);
    const rec = await waitForState(server, callId, 'stored');
    assert.equal(rec.participants.length, 2);
    assert.equal(rec.files.length, 2);
  });

  it('reports sip: false while drachtio is gone and reconnects when it is back', async () => {
    assert.ok(edge, 'the drachtio stand-in is up');
    await edge.close();
    edge = undefined;
    assert.equal(await healthUntil(server, false), false, 'sip stayed true with drachtio gone');
    edge = await startSipEdge({
      sip: { host: '127.0.0.1', port: await portInRange() },
      control: { host: '127.0.0.1', port: controlPort, secret: 'late-secret' },
      log: edgeLogger,
    });
    assert.equal(await healthUntil(server, true), true, `no reconnect:\n${server.output().slice(-3000)}`);
  });

  it('closes the drachtio connection on shutdown and exits cleanly', async () => {
    const exited = new Promise<number>((resolve) => server.proc.once('exit', () => resolve(Date.now())));
    const stopAt = Date.now();
    assert.equal(await server.stop(), 0);
    const exitAt = await exited;
    const closed = edgeLog.find((e) => e.at >= stopAt && e.msg === 'drachtio app disconnected');
    assert.ok(closed, `the application never closed its drachtio connection: ${JSON.stringify(edgeLog)}`);
    assert.ok(closed.at <= exitAt);
    // Closed by a shutdown step, not torn down by the exit: before the database stopped (the last
    // step, a second or so later), which a connection left open outlives.
    const pgStopped = server
      .output()
      .split('\n')
      .find((l) => l.includes('"msg":"embedded postgres: stopped"'));
    assert.ok(pgStopped, 'the server logs its database stop');
    const pgStoppedAt = Date.parse((JSON.parse(pgStopped) as { time: string }).time);
    assert.ok(
      closed.at <= pgStoppedAt,
      `the connection closed ${closed.at - pgStoppedAt} ms after the database stopped, i.e. at the exit`,
    );
    assert.match(server.output(), /closing the drachtio connection/);
  });
});
