/**
 * DRACHTIO_HOST/PORT/SECRET: the SIPREC application connects to an external drachtio server and
 * the process starts no SIP listener of its own. The "external server" here is the edge started
 * on its own in this test process, standing where a real drachtio-server would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { startSipEdge, type SipEdge } from '../../src/sip/edge/index.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { sipp, waitForState } from '../helpers/sipp.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

describe('application against an external drachtio server', { timeout: 120000 }, () => {
  let edge: SipEdge;
  let server: TestServer;

  before(async () => {
    edge = await startSipEdge({
      sip: { host: '127.0.0.1', port: 0 },
      control: { host: '127.0.0.1', port: 0, secret: 'ext-secret' },
      log: quiet,
    });
    server = await startTestServer({
      DRACHTIO_HOST: '127.0.0.1',
      DRACHTIO_PORT: String(edge.controlPort),
      DRACHTIO_SECRET: 'ext-secret',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    assert.equal(await server?.stop(), 0);
    await edge?.close();
  });

  it('opens no SIP port of its own', async () => {
    assert.match(server.output(), /via drachtio-server 127\.0\.0\.1:\d+/);
    const free = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(server.sipPort, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    assert.ok(free, `SIP port ${server.sipPort} must stay unbound in external mode`);
  });

  it('records a call that arrives through the external server', async () => {
    const trace = `${server.dataDir}/sipp-ext.log`;
    const r = await sipp(`127.0.0.1:${edge.sipPort}`, 'siprec-basic.xml', [
      '-trace_msg',
      '-message_file',
      trace,
    ]);
    assert.equal(r.code, 0, `sipp failed: ${r.stdout.slice(-1500)}`);
    const { readFile } = await import('node:fs/promises');
    const callId = /Call-ID: (\S+)/.exec(await readFile(trace, 'utf8'))?.[1];
    assert.ok(callId);
    const rec = await waitForState(server, callId, 'stored');
    assert.equal(rec.participants.length, 2);
    assert.equal(rec.files.length, 2);
  });

  it('stops with a clear error when the external server refuses the secret', async () => {
    const bad = await startTestServer({
      DRACHTIO_HOST: '127.0.0.1',
      DRACHTIO_PORT: String(edge.controlPort),
      DRACHTIO_SECRET: 'not-the-secret',
      SIP_PORT: String(await freePort(true)),
    });
    const code = await new Promise<number | null>((resolve) => bad.proc.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(
      bad.output(),
      /srs: drachtio server 127\.0\.0\.1:\d+: .*authenticate.*check DRACHTIO_SECRET/,
    );
  });
});
