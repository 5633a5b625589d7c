import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { StorageError } from '../../src/storage/errors.js';
import { mapS3Error, parseCredentials } from '../../src/storage/s3-client.js';
import {
  ChecksumMismatchError,
  ObjectNotFoundError,
  StorageUnavailableError,
} from '../../src/storage/index.js';

describe('storage settings', () => {
  it('default to the local tree', () => {
    assert.deepEqual(loadConfig({}).storage, { backend: 'local' });
  });

  it('read every S3 setting from the environment, normalising the prefix', () => {
    const s = loadConfig({
      SRS_STORAGE: 's3',
      S3_BUCKET: 'calls-archive',
      S3_PREFIX: '/site-a/node-1/',
      S3_REGION: 'eu-west-3',
      S3_ENDPOINT: 'http://127.0.0.1:7480',
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREDENTIALS_FILE: '/etc/srs/s3.json',
      S3_OBJECT_LOCK_MODE: 'COMPLIANCE',
      S3_OBJECT_LOCK_DAYS: '2555',
      S3_SSE: 'aws:kms',
      S3_SSE_KMS_KEY_ID: 'alias/recordings',
      S3_PART_SIZE_MB: '32',
      S3_MAX_ATTEMPTS: '5',
    }).storage;
    assert.deepEqual(s, {
      backend: 's3',
      bucket: 'calls-archive',
      prefix: 'site-a/node-1/',
      region: 'eu-west-3',
      endpoint: 'http://127.0.0.1:7480',
      forcePathStyle: true,
      credentialsFile: '/etc/srs/s3.json',
      objectLock: { mode: 'COMPLIANCE', days: 2555 },
      sse: 'aws:kms',
      sseKmsKeyId: 'alias/recordings',
      partSizeMiB: 32,
      maxAttempts: 5,
    });
  });

  it('take the config file, the environment winning', () => {
    const s = loadConfig(
      { S3_PREFIX: 'from-env' },
      {
        storage: {
          backend: 's3',
          bucket: 'from-file',
          prefix: 'x',
          objectLock: { mode: 'GOVERNANCE', days: 30 },
        },
      },
    ).storage;
    assert.equal(s.backend, 's3');
    if (s.backend !== 's3') return;
    assert.equal(s.bucket, 'from-file');
    assert.equal(s.prefix, 'from-env/');
    assert.equal(s.region, 'us-east-1');
    assert.equal(s.forcePathStyle, false);
    assert.deepEqual(s.objectLock, { mode: 'GOVERNANCE', days: 30 });
    assert.equal(s.partSizeMiB, 16);
  });

  it('name what is wrong', () => {
    const bad = (env: Record<string, string>, re: RegExp) =>
      assert.throws(
        () => loadConfig({ SRS_STORAGE: 's3', S3_BUCKET: 'ok-bucket', ...env }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.match(e.message, re);
          return true;
        },
      );
    assert.throws(() => loadConfig({ SRS_STORAGE: 'nfs' }), /storage/);
    assert.throws(() => loadConfig({ SRS_STORAGE: 's3' }), /storage\.bucket: required when SRS_STORAGE=s3/);
    bad({ S3_BUCKET: 'Bad_Bucket' }, /storage\.bucket/);
    bad({ S3_OBJECT_LOCK_MODE: 'COMPLIANCE' }, /storage\.objectLock\.days/);
    bad({ S3_OBJECT_LOCK_DAYS: '7' }, /storage\.objectLock\.mode: COMPLIANCE or GOVERNANCE/);
    bad({ S3_OBJECT_LOCK_MODE: 'WORM', S3_OBJECT_LOCK_DAYS: '7' }, /storage\.objectLock\.mode/);
    bad({ S3_SSE_KMS_KEY_ID: 'k' }, /S3_SSE_KMS_KEY_ID needs S3_SSE=aws:kms/);
    bad({ S3_PART_SIZE_MB: '4' }, /storage\.partSizeMiB/);
    bad({ S3_ENDPOINT: 'ftp://x' }, /storage\.endpoint/);
    bad({ S3_PREFIX: 'a/../b' }, /storage\.prefix/);
  });
});

describe('S3 credentials file', () => {
  it('reads JSON and the AWS shared-credentials format', () => {
    assert.deepEqual(parseCredentials('{"accessKeyId":"AK","secretAccessKey":"SK"}', 'f'), {
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
    });
    const ini =
      '[other]\naws_access_key_id = X\n\n[default]\naws_access_key_id = AK\naws_secret_access_key=SK\naws_session_token = T\n';
    assert.deepEqual(parseCredentials(ini, 'f'), {
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
      sessionToken: 'T',
    });
    assert.deepEqual(parseCredentials('[ci]\naws_access_key_id=A\naws_secret_access_key=B\n', 'f'), {
      accessKeyId: 'A',
      secretAccessKey: 'B',
    });
  });

  it('says which file lacks what', () => {
    assert.throws(
      () => parseCredentials('{"accessKeyId":"AK"}', '/etc/s3.json'),
      /\/etc\/s3\.json: needs an access key id and a secret/,
    );
    assert.throws(() => parseCredentials('{nope', '/etc/s3.json'), /not valid JSON/);
    assert.throws(() => parseCredentials('', '/etc/s3'), StorageError);
  });
});

describe('S3 errors as storage errors', () => {
  const sdk = (name: string, status?: number) =>
    Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });
  it('a network failure or a 5xx is retryable; a digest mismatch, a 404 and a 403 are not', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
      $metadata: {},
    });
    const cases: [unknown, (e: Error) => boolean][] = [
      [refused, (e) => e instanceof StorageUnavailableError && e.retryable],
      [sdk('InternalError', 500), (e) => e instanceof StorageUnavailableError],
      [sdk('SlowDown', 503), (e) => e instanceof StorageUnavailableError],
      [sdk('XAmzContentSHA256Mismatch', 400), (e) => e instanceof ChecksumMismatchError && !e.retryable],
      [sdk('BadDigest', 400), (e) => e instanceof ChecksumMismatchError],
      [sdk('NoSuchKey', 404), (e) => e instanceof ObjectNotFoundError],
      [
        sdk('AccessDenied', 403),
        (e) => e instanceof StorageError && !e.retryable && /AccessDenied/.test(e.message),
      ],
      [
        sdk('CredentialsProviderError'),
        (e) => e instanceof StorageError && e.code === 'ERR_STORAGE_CREDENTIALS',
      ],
    ];
    for (const [err, ok] of cases) {
      const m = mapS3Error(err, 'PutObject', 'b/k');
      assert.ok(ok(m), `${(err as Error).name} -> ${m.name}: ${m.message}`);
    }
  });
});
