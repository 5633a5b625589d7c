/**
 * A security review's checks of a first start against the real server (`srs serve` as a child
 * process): generated secrets in 0600 files and never in the output, a private data directory,
 * HTTPS, absolute session expiry and admin token rotation. The attacks on a running server are in
 * security.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';
import { closedWithin, tcpConnect } from '../helpers/tcp-probe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('security: first start, HTTPS, absolute sessions, admin token rotation', { timeout: 180000 }, () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-sec2-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const r = await run('openssl', [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'],
    ]);
    assert.equal(r.code, 0, r.stderr);
    // Its own data directory directly in the temporary directory: run as root, the embedded
    // Postgres must reach it, and the server changes no permission of a directory outside it. A
    // first start in full, initdb included (no copy of the tests' template cluster).
    server = await startTestServer(
      {
        SRS_ADMIN_TOKEN: '',
        SRS_KEY_PASSPHRASE: '',
        HTTP_TLS_CERT: cert,
        HTTP_TLS_KEY: key,
        SRS_SESSION_MAX_HOURS: '0.001',
      },
      undefined,
      { freshCluster: true },
    );
    await server.waitFor(/SIPREC recording server ready/, 90000);
  });
  after(async () => {
    await server?.stop();
  });

  const https = (
    method: string,
    path: string,
    o: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> =>
    new Promise((resolve, reject) => {
      const body = o.body === undefined ? undefined : JSON.stringify(o.body);
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: server.httpPort,
          path,
          method,
          rejectUnauthorized: false,
          headers: { ...(o.headers ?? {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      req.once('error', reject);
      req.end(body);
    });

  it('writes generated secrets to 0600 files (the log names them), never to the output; private data directory', async () => {
    const out = server.output();
    const files = {
      token: join(server.dataDir, 'admin-token'),
      password: join(server.dataDir, 'secrets', 'admin-password'),
      passphrase: join(server.dataDir, 'secrets', 'recording-key-passphrase'),
    };
    for (const [what, f] of Object.entries(files)) {
      assert.equal((await stat(f)).mode & 0o777, 0o600, `${what} file mode`);
      const secret = (await readFile(f, 'utf8')).trim();
      assert.ok(secret.length >= 16);
      assert.ok(!out.includes(secret), `the ${what} is not in the server's output`);
      assert.ok(out.includes(f), `the log says where the ${what} is`);
    }
    assert.equal((await stat(server.dataDir)).mode & 0o066, 0, 'data directory: no access for others');
    assert.equal((await stat(join(server.dataDir, 'secrets'))).mode & 0o777, 0o700);
  });

  it('serves HTTPS with HSTS and a Secure cookie; ends a session at its absolute lifetime however active', async () => {
    const password = (await readFile(join(server.dataDir, 'secrets', 'admin-password'), 'utf8')).trim();
    const r = await https('POST', '/api/v1/login', { body: { username: 'admin', password } });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['set-cookie']), /HttpOnly; SameSite=Strict.*; Secure/);
    assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
    const cookie = String(r.headers['set-cookie']).split(';')[0] as string;
    assert.equal((await https('GET', '/api/v1/me', { headers: { cookie } })).status, 200);
    // Active every 300 ms, still ended after 3.6 s (SRS_SESSION_MAX_HOURS=0.001).
    let last = 200;
    const end = Date.now() + 15000;
    while (last === 200 && Date.now() < end) {
      await sleep(300);
      last = (await https('GET', '/api/v1/me', { headers: { cookie } })).status;
    }
    assert.equal(last, 401);
  });

  it('rotates the admin token by CLI: the new one works, the old one stops, the rotation is audited', async () => {
    const old = (await readFile(join(server.dataDir, 'admin-token'), 'utf8')).trim();
    const auth = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
    assert.equal((await https('GET', '/api/v1/keys', auth(old))).status, 200);
    const env = { ...server.env };
    delete env.SRS_ADMIN_TOKEN;
    const r = await run(process.execPath, [SRS_BIN, 'token', 'rotate-admin'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /new admin token written to .*admin-token \(mode 0600\)/);
    const next = (await readFile(join(server.dataDir, 'admin-token'), 'utf8')).trim();
    assert.notEqual(next, old);
    assert.ok(!r.stdout.includes(next), 'not printed without --print');
    const end = Date.now() + 15000;
    while ((await https('GET', '/api/v1/keys', auth(next))).status !== 200 && Date.now() < end)
      await sleep(250);
    assert.equal((await https('GET', '/api/v1/keys', auth(next))).status, 200);
    assert.equal((await https('GET', '/api/v1/keys', auth(old))).status, 401);
    const a = await https('GET', '/api/v1/audit?action=admin-token.rotate', auth(next));
    assert.equal((JSON.parse(a.text) as { total: number }).total, 1);
  });

  it('closes an unfinished TLS handshake after 10 s and a connection idle after its handshake with 408 by 20 s', async () => {
    // Half a ClientHello: Node's TLS default (handshakeTimeout 120 s) held it for two minutes.
    const partial = await tcpConnect(server.httpPort);
    partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    // A finished handshake, then nothing.
    const idle = tlsConnect({ host: '127.0.0.1', port: server.httpPort, rejectUnauthorized: false });
    idle.on('error', () => undefined);
    let answer = '';
    idle.on('data', (d: Buffer) => (answer += d.toString()));
    await new Promise<void>((resolve, reject) => {
      idle.once('secureConnect', resolve);
      idle.once('error', reject);
    });
    const started = Date.now();
    const [partialClosed, idleClosed] = await Promise.all([
      closedWithin(partial, 13_000),
      closedWithin(idle, 25_000),
    ]);
    assert.equal(partialClosed, true, 'the unfinished handshake was still open after 13 s');
    assert.equal(idleClosed, true, 'the idle TLS connection was still open after 25 s');
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 25_000);
  });
});
