/**
 * The TLS of the real server (`srs serve` with SIP over TLS and HTTPS, on loopback), probed with
 * Node's TLS client:
 * - TLS 1.0 and 1.1 are refused, and in TLS 1.2 every suite without ECDHE or AEAD (AES128-SHA,
 *   AES256-GCM-SHA384, ECDHE-RSA-AES128-SHA). Before, Node's defaults took them all: the SIP
 *   signalling, which carries the SRTP keys, could be read later by whoever got the private key;
 * - SIGHUP reads the certificate files again: the next handshakes get the renewed certificate on
 *   both ports, with the same policy. Before, SIGHUP ended the server at once (no orderly
 *   shutdown, its embedded Postgres left running);
 * - renewed files that do not go together leave the certificate in use, and the error line names
 *   the settings.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { freePort, logLinesSince, logMark, startTestServer, type TestServer } from '../helpers/server.js';
import { handshake, selfSignedCertDir } from '../helpers/tls-cert.js';

const fingerprintOf = (pemFile: string): string =>
  execFileSync('openssl', ['x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256'])
    .toString()
    .trim()
    .split('=')[1] as string;

/** GET over HTTPS without verifying the (self-signed) certificate: the body. */
function httpsGet(port: number, path: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path,
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
  });
}

/** The notAfter of a PEM certificate file, in seconds since the epoch. */
const notAfterOf = (pemFile: string): number =>
  Date.parse(
    execFileSync('openssl', ['x509', '-in', pemFile, '-noout', '-enddate'])
      .toString()
      .trim()
      .split('=')[1] as string,
  ) / 1000;

async function waitLines(server: TestServer, mark: number, msg: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (logLinesSince(server, mark, msg) < n) {
    if (Date.now() > deadline) assert.fail(`no ${n} "${msg}" lines:\n${server.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('TLS: protocol policy and certificate reload on SIGHUP', { timeout: 180_000 }, () => {
  let server: TestServer;
  let live: string;
  let sipTls: number;
  const spare: string[] = [];

  before(async () => {
    live = selfSignedCertDir();
    sipTls = await freePort();
    server = await startTestServer({
      SIP_TLS_CERT: join(live, 'cert.pem'),
      SIP_TLS_KEY: join(live, 'key.pem'),
      SIP_TLS_PORT: String(sipTls),
      HTTP_TLS_CERT: join(live, 'cert.pem'),
      HTTP_TLS_KEY: join(live, 'key.pem'),
    });
    await server.waitFor(/SIPREC recording server ready/, 90_000);
  });
  after(async () => {
    await server?.stop();
    for (const d of [live, ...spare]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const ports = (): [string, number][] => [
    ['SIP TLS', sipTls],
    ['HTTPS', server.httpPort],
  ];

  /** The policy, on both ports: what is refused and what is taken. */
  async function assertPolicy(): Promise<void> {
    for (const [name, port] of ports()) {
      const old = await handshake(port, {
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      assert.equal(old.ok, false, `${name}: TLS 1.0/1.1 refused (${JSON.stringify(old)})`);
      for (const cipher of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA']) {
        const weak = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: cipher });
        assert.equal(weak.ok, false, `${name}: ${cipher} refused (${JSON.stringify(weak)})`);
      }
      const good = await handshake(port, { maxVersion: 'TLSv1.2' });
      assert.ok(
        good.ok && /^ECDHE-RSA-(AES\d+-GCM|CHACHA20)/.test(good.cipher),
        `${name}: ${JSON.stringify(good)}`,
      );
      const v13 = await handshake(port, { minVersion: 'TLSv1.3' });
      assert.ok(v13.ok && v13.version === 'TLSv1.3', `${name}: ${JSON.stringify(v13)}`);
    }
  }

  it('refuses TLS 1.0 and 1.1 and the TLS 1.2 suites without ECDHE or AEAD on both ports', async () => {
    await assertPolicy();
  });

  it('serves the renewed certificate on both ports after SIGHUP and keeps running', async () => {
    const before = fingerprintOf(join(live, 'cert.pem'));
    for (const [name, port] of ports()) {
      const h = await handshake(port);
      assert.ok(h.ok && h.fingerprint === before, `${name} serves the first certificate`);
    }
    const renewed = selfSignedCertDir();
    spare.push(renewed);
    copyFileSync(join(renewed, 'cert.pem'), join(live, 'cert.pem'));
    copyFileSync(join(renewed, 'key.pem'), join(live, 'key.pem'));
    const after = fingerprintOf(join(live, 'cert.pem'));
    assert.notEqual(after, before);

    const mark = logMark(server);
    server.proc.kill('SIGHUP');
    await waitLines(server, mark, 'TLS certificate reloaded', 2);
    assert.equal(server.proc.exitCode, null, 'still running');
    assert.equal(server.proc.signalCode, null, 'not ended by the signal');
    for (const [name, port] of ports()) {
      const h = await handshake(port);
      assert.ok(
        h.ok && h.fingerprint === after,
        `${name} serves the renewed certificate: ${JSON.stringify(h)}`,
      );
    }
    await assertPolicy();
  });

  it('says when the certificate served has expired, in the log and in /metrics', async () => {
    const metric = async (listener: string): Promise<number> => {
      const text = await httpsGet(server.httpPort, '/metrics', server.token);
      const m = new RegExp(
        `^srs_tls_certificate_expiry_timestamp_seconds\\{listener="${listener}"\\} (\\d+)$`,
        'm',
      ).exec(text);
      assert.ok(m, `srs_tls_certificate_expiry_timestamp_seconds{listener="${listener}"} in /metrics`);
      return Number(m[1]);
    };
    assert.equal(await metric('sip'), notAfterOf(join(live, 'cert.pem')));
    assert.equal(await metric('http'), notAfterOf(join(live, 'cert.pem')));
    // A certificate whose end is a day past: signed again by its own key with -days -1.
    const expired = selfSignedCertDir();
    spare.push(expired);
    execFileSync('openssl', [
      ...['x509', '-in', join(expired, 'cert.pem'), '-signkey', join(expired, 'key.pem')],
      ...['-days', '-1', '-out', join(live, 'cert.pem')],
    ]);
    copyFileSync(join(expired, 'key.pem'), join(live, 'key.pem'));
    const mark = logMark(server);
    server.proc.kill('SIGHUP');
    await waitLines(server, mark, 'TLS certificate reloaded', 2);
    await waitLines(
      server,
      mark,
      'the TLS certificate of SIP_TLS_CERT has expired: SRCs and browsers that verify it refuse it',
      1,
    );
    await waitLines(
      server,
      mark,
      'the TLS certificate of HTTP_TLS_CERT has expired: SRCs and browsers that verify it refuse it',
      1,
    );
    const end = notAfterOf(join(live, 'cert.pem'));
    assert.ok(end < Date.now() / 1000, 'the certificate has expired');
    assert.equal(await metric('sip'), end);
    assert.equal(await metric('http'), end);
  });

  it('keeps the certificate in use when the renewed key does not go with it and names the setting', async () => {
    const inUse = fingerprintOf(join(live, 'cert.pem'));
    const other = selfSignedCertDir();
    spare.push(other);
    copyFileSync(join(other, 'key.pem'), join(live, 'key.pem'));
    const mark = logMark(server);
    server.proc.kill('SIGHUP');
    await waitLines(server, mark, 'TLS certificate reload failed: the certificate in use stays', 2);
    const lines = server.output().split('\n').slice(mark).join('\n');
    assert.match(lines, /SIP_TLS_KEY: .*does not go with the certificate/);
    assert.match(lines, /HTTP_TLS_KEY: .*does not go with the certificate/);
    assert.equal(server.proc.exitCode, null, 'still running');
    for (const [name, port] of ports()) {
      const h = await handshake(port);
      assert.ok(h.ok && h.fingerprint === inUse, `${name} still serves the certificate in use`);
    }
    assert.equal(await server.stop(), 0, 'an orderly shutdown after all');
  });
});
