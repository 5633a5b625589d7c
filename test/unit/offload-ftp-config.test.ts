import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type ConfigFile } from '../../src/config.js';
import { destinationLabels } from '../../src/delivery/destination.js';
import { exportLabels } from '../../src/delivery/export.js';
import { describeFtp } from '../../src/delivery/ftp.js';
import { checkDeliveryConfig } from '../../src/delivery/index.js';
import { ConfigError } from '../../src/errors.js';

/**
 * The `ftp` delivery destination's settings: accepted wherever SFTP is (offload audio and
 * metadata, export primary and secondary) with their defaults (FTPS with explicit TLS, port 21 or
 * 990 with implicit TLS), and every unsafe or bad setting refused with a message naming it: plain
 * FTP without `insecurePlainFtp`, no password, an unknown `tls`, a CA file that is not PEM.
 */

const env = { SRS_KEY_PASSPHRASE: 'x', SRS_DATA_DIR: '/tmp/srs-unused' };
const base = { type: 'ftp', host: 'ftp.example.com', username: 'srs', password: 'pw', directory: '/in' };

describe('ftp delivery destination settings', () => {
  let dir: string;
  let ca: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-ftpdest-'));
    ca = join(dir, 'ca.pem');
    // A real certificate (any will do: only its form is checked at start).
    const { X509Certificate } = await import('node:crypto');
    const { rootCertificates } = await import('node:tls');
    const pem = rootCertificates[0] as string;
    new X509Certificate(pem);
    await writeFile(ca, `${pem}\n`);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const load = (file: ConfigFile) => loadConfig(env, file);
  const offload = (audio: unknown) => load({ offload: { enabled: true, audio: audio as never } });

  it('offload and export take an ftp destination, FTPS by default', () => {
    const c = load({
      offload: {
        enabled: true,
        audio: { ...base, caFile: ca } as never,
        metadata: { ...base, tls: 'implicit', passwordFile: '/etc/srs/ftp.pw', password: '' } as never,
      },
      export: {
        enabled: true,
        primary: { ...base, port: 2121, directory: 'mp3' } as never,
        secondary: { ...base, host: 'plain.example', tls: 'none', insecurePlainFtp: true } as never,
      },
    });
    const a = c.offload.audio;
    assert.ok(a?.type === 'ftp');
    assert.deepEqual(
      [a.tls, a.port, a.timeoutSeconds, a.insecurePlainFtp, a.insecureAcceptAnyCertificate, a.caFile],
      ['explicit', undefined, 360, false, false, ca],
    );
    assert.equal(describeFtp(a), 'ftp://srs@ftp.example.com:21/in', 'port 21 by default');
    const m = c.offload.metadata;
    assert.ok(m?.type === 'ftp');
    assert.equal(m.password, undefined);
    assert.deepEqual(destinationLabels(m), ['ftp:ftp://srs@ftp.example.com:990/in'], '990 with implicit TLS');
    const p = c.export.primary;
    assert.ok(p?.type === 'ftp');
    assert.deepEqual(exportLabels(p), ['ftp:ftp://srs@ftp.example.com:2121mp3']);
    assert.equal(c.export.secondary?.type, 'ftp');
    checkDeliveryConfig(c);
  });

  it('refuses plain FTP unless insecurePlainFtp says so, and other bad ftp settings, naming them', () => {
    assert.throws(
      () => offload({ ...base, tls: 'none' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /offload\.audio\.tls: tls "none" sends the password and the recordings in clear; set insecurePlainFtp: true/.test(
          err.message,
        ),
    );
    assert.throws(
      () =>
        load({
          export: {
            enabled: true,
            primary: { type: 'local', directory: dir },
            secondary: { ...base, tls: 'none' } as never,
          },
        }),
      /export\.secondary\.tls: tls "none"/,
    );
    assert.throws(
      () => offload({ ...base, password: undefined }),
      /offload\.audio: needs password or passwordFile/,
    );
    assert.throws(() => offload({ ...base, tls: 'starttls' }), /offload\.audio\.tls/);
    assert.throws(() => offload({ ...base, port: 0 }), /offload\.audio\.port/);
    assert.throws(() => offload({ ...base, host: '' }), /offload\.audio\.host/);
    assert.throws(
      () => offload({ ...base, tls: 'none', insecurePlainFtp: true, caFile: ca }),
      /offload\.audio\.tls: caFile and insecureAcceptAnyCertificate apply to FTPS only/,
    );
  });

  it('refuses purgeAfterTransfer with an ftp audio destination, which cannot fsync', () => {
    const c = load({ offload: { enabled: true, purgeAfterTransfer: true, audio: base as never } });
    assert.throws(
      () => checkDeliveryConfig(c),
      (err: unknown) =>
        err instanceof ConfigError &&
        /^offload\.purgeAfterTransfer: not with an ftp audio destination/.test(err.message),
    );
    // Without the purge, or with FTP for the CSV only, it is accepted.
    checkDeliveryConfig(load({ offload: { enabled: true, audio: base as never } }));
    checkDeliveryConfig(
      load({
        offload: {
          enabled: true,
          purgeAfterTransfer: true,
          audio: { type: 's3', bucket: 'archive' } as never,
          metadata: base as never,
        },
      }),
    );
  });

  it('refuses at start a CA file that cannot be read or holds no certificate', async () => {
    const notPem = join(dir, 'not.pem');
    await writeFile(notPem, 'hello');
    const check = (caFile: string) => () => checkDeliveryConfig(offload({ ...base, caFile }));
    assert.throws(
      check(join(dir, 'missing.pem')),
      (err: unknown) => err instanceof ConfigError && /^offload\.audio\.caFile: .*ENOENT/.test(err.message),
    );
    assert.throws(check(notPem), /offload\.audio\.caFile: .*not\.pem holds no PEM certificate/);
    // A disabled feature is not checked.
    checkDeliveryConfig(load({ offload: { enabled: false, audio: { ...base, caFile: notPem } as never } }));
  });
});
