import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type ConfigFile } from '../../src/config.js';
import { checkDeliveryConfig } from '../../src/delivery/index.js';
import { describeS3, s3Key, s3Labels } from '../../src/delivery/s3.js';
import { ConfigError } from '../../src/errors.js';

/**
 * The `s3` delivery destination's settings: parsed with their defaults wherever SFTP is accepted
 * (offload audio and metadata, export primary and secondary), and every bad setting refused with
 * a message naming it (zod at load, credentials file and secondary location at start).
 */

const env = { SRS_KEY_PASSPHRASE: 'x', SRS_DATA_DIR: '/tmp/srs-unused' };

describe('s3 delivery destination settings', () => {
  let dir: string;
  let creds: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-s3dest-'));
    creds = join(dir, 'creds.json');
    await writeFile(creds, JSON.stringify({ accessKeyId: 'AK', secretAccessKey: 'SK' }));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const load = (file: ConfigFile) => loadConfig(env, file);
  const offload = (audio: unknown, extra: Record<string, unknown> = {}) =>
    load({ offload: { enabled: true, audio: audio as never, ...extra } });

  it('offload and export take an s3 destination with defaults, a secondary location, SSE', () => {
    const c = load({
      offload: {
        enabled: true,
        audio: {
          type: 's3',
          bucket: 'archive-eu',
          prefix: '/carrier/audio/',
          region: 'eu-south-1',
          credentialsFile: creds,
          sse: 'aws:kms',
          sseKmsKeyId: 'arn:aws:kms:eu-south-1:1:key/k',
          secondary: { bucket: 'archive-dr', endpoint: 'https://s3.dr.example', forcePathStyle: true },
        } as never,
        metadata: {
          type: 'sftp',
          host: 'meta',
          username: 'u',
          password: 'p',
          directory: '/csv',
          knownHostsFile: '/k',
        } as never,
      },
      export: {
        enabled: true,
        primary: { type: 's3', bucket: 'mp3-export' } as never,
        secondary: { type: 'local', directory: dir },
      },
    });
    const a = c.offload.audio;
    assert.ok(a?.type === 's3');
    assert.equal(a.prefix, 'carrier/audio/');
    assert.equal(a.region, 'eu-south-1');
    assert.equal(a.forcePathStyle, false);
    assert.equal(a.partSizeMiB, 16);
    assert.equal(a.maxAttempts, 3);
    assert.equal(a.sse, 'aws:kms');
    const s = a.secondary;
    assert.ok(s);
    assert.deepEqual(
      [s.bucket, s.prefix, s.region, s.endpoint, s.forcePathStyle, s.credentialsFile, s.sse],
      ['archive-dr', '', 'us-east-1', 'https://s3.dr.example', true, undefined, undefined],
      'a secondary location takes nothing from the primary: its own defaults',
    );
    assert.equal(c.offload.metadata?.type, 'sftp');
    const p = c.export.primary;
    assert.ok(p?.type === 's3');
    assert.equal(p.prefix, '');
    assert.equal(p.region, 'us-east-1');
    assert.deepEqual(s3Labels(a), [
      's3:s3://archive-eu/carrier/audio/ in eu-south-1',
      's3:s3://archive-dr/ at https://s3.dr.example (secondary)',
    ]);
    assert.equal(describeS3(p), 's3://mp3-export/ in us-east-1');
    checkDeliveryConfig(c);
  });

  it('refuses bad s3 settings, naming them', () => {
    assert.throws(() => offload({ type: 's3' }), /offload\.audio\.bucket: required/);
    assert.throws(
      () => offload({ type: 's3', bucket: 'Bad_Bucket' }),
      /offload\.audio\.bucket: a bucket name/,
    );
    assert.throws(
      () => offload({ type: 's3', bucket: 'ok-bucket', prefix: '../up' }),
      /offload\.audio\.prefix: use path segments/,
    );
    assert.throws(
      () => offload({ type: 's3', bucket: 'ok-bucket', endpoint: 'ftp://x' }),
      /offload\.audio\.endpoint/,
    );
    assert.throws(
      () => offload({ type: 's3', bucket: 'ok-bucket', sse: 'AES256', sseKmsKeyId: 'k' }),
      /offload\.audio\.sseKmsKeyId: sseKmsKeyId needs sse "aws:kms"/,
    );
    assert.throws(
      () => offload({ type: 's3', bucket: 'ok-bucket', secondary: { bucket: 'x' } }),
      /offload\.audio\.secondary\.bucket: a bucket name/,
    );
    assert.throws(() => offload({ type: 'webdav', bucket: 'ok-bucket' }), /offload\.audio\.type/);
    assert.throws(
      () =>
        load({
          export: { enabled: true, primary: { type: 's3', bucket: 'ok-bucket', partSizeMiB: 1 } as never },
        }),
      /export\.primary\.partSizeMiB/,
    );
  });

  it('refuses at start an unreadable or empty credentials file and a secondary equal to the primary', async () => {
    const empty = join(dir, 'empty.json');
    await writeFile(empty, '{}');
    const check = (audio: unknown) => () => checkDeliveryConfig(offload(audio));
    assert.throws(
      check({ type: 's3', bucket: 'ok-bucket', credentialsFile: join(dir, 'missing') }),
      (err: unknown) =>
        err instanceof ConfigError && /^offload\.audio\.credentialsFile: .*ENOENT/.test(err.message),
    );
    assert.throws(
      check({ type: 's3', bucket: 'ok-bucket', secondary: { bucket: 'dr-bucket', credentialsFile: empty } }),
      /offload\.audio\.secondary\.credentialsFile: .*needs an access key id and a secret access key/,
    );
    assert.throws(
      check({
        type: 's3',
        bucket: 'ok-bucket',
        prefix: 'a',
        secondary: { bucket: 'ok-bucket', prefix: 'a/' },
      }),
      /offload\.audio\.secondary: the same bucket, prefix and endpoint as the primary/,
    );
    // Export too; a disabled feature is not checked.
    const bad = { type: 's3', bucket: 'ok-bucket', credentialsFile: empty } as never;
    assert.throws(
      () =>
        checkDeliveryConfig(
          load({ export: { enabled: true, primary: { type: 'local', directory: dir }, secondary: bad } }),
        ),
      /export\.secondary\.credentialsFile/,
    );
    checkDeliveryConfig(load({ export: { enabled: false, primary: bad } }));
  });

  it('makes export paths valid object keys', () => {
    assert.equal(
      s3Key('2026/12/02/20261202_101500-+39 02 555@pbx.example-Zoë'),
      '2026/12/02/20261202_101500-_39_02_555_pbx.example-Zo_',
    );
    assert.equal(s3Key('a/.hidden/b'), 'a/_hidden/b');
  });
});
