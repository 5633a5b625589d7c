/**
 * The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) on the SMTP client of notifications and
 * the journal (src/delivery/smtp.ts), against a real SMTPS server on loopback (node:tls, enough
 * SMTP for nodemailer's verify: the greeting, EHLO, QUIT). Before, the client took what Node takes:
 * a server held to TLS 1.2 with SRS_TLS_MIN_VERSION=TLSv1.3, and one offering only AES128-SHA.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_TLS_CIPHERS, type TlsPolicy } from '../../src/config/tls-policy.js';
import { sendDue, smtpTransport, type SmtpSettings } from '../../src/delivery/smtp.js';
import { createLogger } from '../../src/log.js';
import { selfSignedCertDir } from '../helpers/tls-cert.js';

const log = createLogger('silent');

describe('SMTP client: the TLS policy (real SMTPS server on loopback)', { timeout: 60_000 }, () => {
  let dir: string;
  const servers: tls.Server[] = [];

  /** An SMTPS server that takes TLS 1.2 at most, with `ciphers`; its port. */
  const smtps = async (ciphers: string): Promise<number> => {
    const server = tls.createServer(
      {
        key: readFileSync(join(dir, 'key.pem')),
        cert: readFileSync(join(dir, 'cert.pem')),
        maxVersion: 'TLSv1.2',
        ciphers,
      },
      (s) => {
        s.on('error', () => undefined);
        s.write('220 srs.test ESMTP\r\n');
        s.on('data', (d: Buffer) => {
          for (const line of d.toString().split('\r\n').filter(Boolean)) {
            if (/^QUIT/i.test(line)) s.end('221 bye\r\n');
            else s.write(/^EHLO/i.test(line) ? '250 srs.test\r\n' : '250 ok\r\n');
          }
        });
      },
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  };
  const settings = (port: number, tlsPolicy?: TlsPolicy): SmtpSettings => ({
    host: '127.0.0.1',
    port,
    secure: true,
    rejectUnauthorized: false, // the policy is under test here, not the certificate
    tlsPolicy,
  });
  /** nodemailer's verify (TLS, greeting, EHLO): true, or the error's message. */
  const verify = async (s: SmtpSettings): Promise<true | string> => {
    const t = await smtpTransport(s, log);
    try {
      return await t.verify();
    } catch (err) {
      return (err as Error).message;
    } finally {
      t.close();
    }
  };

  before(() => {
    dir = selfSignedCertDir();
  });
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a TLS 1.2 server when SRS_TLS_MIN_VERSION is TLSv1.3', async () => {
    const port = await smtps('ECDHE-RSA-AES128-GCM-SHA256');
    assert.equal(await verify(settings(port)), true, 'TLS 1.2 with ECDHE and AES-GCM: taken by default');
    const strict = await verify(settings(port, { minVersion: 'TLSv1.3', ciphers: DEFAULT_TLS_CIPHERS }));
    assert.notEqual(strict, true, 'connected over TLS 1.2');
    assert.match(String(strict), /protocol version/);
  });

  it('refuses a server with only AES128-SHA under the default policy, and says so in the failure', async () => {
    const port = await smtps('AES128-SHA');
    const r = await verify(settings(port));
    assert.notEqual(r, true, 'connected with AES128-SHA');
    assert.match(String(r), /handshake failure/);
    // What a notification that fails there records: the policy and what to fix.
    const failures: string[] = [];
    const t = await smtpTransport(settings(port), log);
    try {
      await sendDue([{ recordingId: 'r1', attempts: 0 }], {
        send: async () => {
          await t.sendMail({ from: 'srs@srs.test', to: 'a@srs.test', text: 'x' });
        },
        failed: async (_item, error) => void failures.push(error),
        repo: { targetError: async () => undefined },
        smtp: settings(port),
        stopped: () => false,
        log,
        what: 'notification failed',
      });
    } finally {
      t.close();
    }
    assert.equal(failures.length, 1);
    assert.match(
      failures[0] ?? '',
      /^the SMTP server offers no TLS version or cipher that SRS_TLS_MIN_VERSION \(TLSv1\.2\) and SRS_TLS_CIPHERS allow/,
    );
  });
});
