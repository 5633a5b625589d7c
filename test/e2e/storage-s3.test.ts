import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import type { S3StorageConfig } from '../../src/config/storage.js';
import {
  ChecksumMismatchError,
  createArtifactStore,
  ObjectExistsError,
  ObjectLockedError,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  S3ArtifactStore,
  sha256Of,
  StorageError,
  StorageUnavailableError,
} from '../../src/storage/index.js';
import { withSignedPayloadSha256 } from '../../src/storage/s3-client.js';
import { s3ServerMissing, startS3Server, type S3Server } from '../helpers/s3-server.js';

/**
 * The s3 backend against a real S3 implementation: Ceph radosgw (Debian's), in a throwaway
 * single-node cluster started by scripts/s3-server.sh on loopback. Skipped, with the apt-get line,
 * only when the Ceph binaries are not installed.
 */

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;
const read = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};
const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

const missing = await s3ServerMissing();
if (missing) console.log(`# storage-s3 tests skipped: ${missing}`);

describe('s3 artifact store on Ceph radosgw', { skip: missing, timeout: 600_000 }, () => {
  let server: S3Server;
  let tmp: string;
  let plain: S3ArtifactStore;
  let worm: S3ArtifactStore;
  let raw: S3Client;
  const settings = (over: Partial<S3StorageConfig>): S3StorageConfig => {
    const c = loadConfig({
      SRS_STORAGE: 's3',
      S3_BUCKET: 'srs-plain',
      S3_PREFIX: 'node-a',
      S3_ENDPOINT: server.endpoint,
      S3_REGION: server.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREDENTIALS_FILE: server.credentialsFile,
      S3_PART_SIZE_MB: '5',
      S3_MAX_ATTEMPTS: '2',
    }).storage;
    assert.equal(c.backend, 's3');
    return { ...(c as S3StorageConfig), ...over };
  };

  before(async () => {
    server = await startS3Server();
    console.log(`# radosgw started in ${server.startMs} ms`);
    tmp = await mkdtemp(join(tmpdir(), 'srs-s3-test-'));
    const p = createArtifactStore(settings({}), '/nonexistent');
    assert.ok(p instanceof S3ArtifactStore);
    plain = p;
    raw = plain.client;
    await raw.send(new CreateBucketCommand({ Bucket: 'srs-plain' }));
    await raw.send(new CreateBucketCommand({ Bucket: 'srs-worm', ObjectLockEnabledForBucket: true }));
    worm = new S3ArtifactStore(settings({ bucket: 'srs-worm', objectLock: { mode: 'COMPLIANCE', days: 1 } }));
    await plain.checkBucket();
    await worm.checkBucket();
  });
  after(async () => {
    await plain?.close();
    await worm?.close();
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const key = 'recordings/2026/12/02/rec-1.wav.gpg';
  const small = randomBytes(200_000);

  it('uploads under the prefix, with the SHA-256 kept, and gets it back whole and by range', async () => {
    const r = await plain.put(key, small, {
      sha256: sha(small),
      size: small.length,
      metadata: { kind: 'wav' },
    });
    assert.equal(r.created, true);
    assert.equal(r.size, small.length);
    const o = await raw.send(new HeadObjectCommand({ Bucket: 'srs-plain', Key: `node-a/${key}` }));
    assert.equal(o.ContentLength, small.length);
    assert.equal(o.Metadata?.sha256, sha(small));
    assert.equal(o.Metadata?.kind, 'wav');
    const h = await plain.head(key);
    assert.equal(h?.sha256, sha(small));
    assert.equal(await plain.head('recordings/none'), undefined);
    const whole = await plain.get(key);
    assert.ok((await read(whole.body)).equals(small));
    const part = await plain.get(key, { start: 1000, end: 4999 });
    assert.deepEqual([part.start, part.end, part.size], [1000, 4999, small.length]);
    assert.ok((await read(part.body)).equals(small.subarray(1000, 5000)));
    const open = await plain.get(key, { start: small.length - 7 });
    assert.deepEqual([open.start, open.end], [small.length - 7, small.length - 1]);
    assert.ok((await read(open.body)).equals(small.subarray(small.length - 7)));
    await assert.rejects(plain.get(key, { start: small.length }), RangeNotSatisfiableError);
    await assert.rejects(plain.get('recordings/none'), ObjectNotFoundError);
    assert.deepEqual(await sha256Of(plain, key), { sha256: sha(small), size: small.length });
    // A small file goes in one request too.
    const path = join(tmp, 'small.bin');
    await writeFile(path, small);
    const f = await plain.put('recordings/2026/12/02/from-file.mp3.gpg', { path }, { sha256: sha(small) });
    assert.equal(f.size, small.length);
    assert.equal(await plain.delete(f.key), true);
  });

  it('uploads a long recording (20 MiB file) in 5 MiB parts, and reads ranges across parts', async () => {
    const big = randomBytes(20 * MiB + 123);
    const path = join(tmp, 'long.bin');
    await writeFile(path, big);
    const k = 'recordings/2026/12/02/long.wav.gpg';
    const r = await plain.put(k, { path }, { sha256: sha(big), size: big.length });
    assert.equal(r.size, big.length);
    const o = await raw.send(new HeadObjectCommand({ Bucket: 'srs-plain', Key: `node-a/${k}` }));
    // A multipart object's ETag is the MD5 of the parts' MD5s and their count: 5 parts.
    assert.match(o.ETag ?? '', /-5"$/);
    const across = await plain.get(k, { start: 5 * MiB - 100, end: 5 * MiB + 99 });
    assert.ok((await read(across.body)).equals(big.subarray(5 * MiB - 100, 5 * MiB + 100)));
    assert.deepEqual(await sha256Of(plain, k), { sha256: sha(big), size: big.length });
    // Its SHA-256 is kept with it, so a retry finds it.
    assert.equal((await plain.head(k))?.sha256, sha(big));
    assert.equal((await plain.put(k, { path }, { sha256: sha(big) })).created, false);
  });

  it('refuses content that does not match its SHA-256: one request or multipart, nothing stored, no parts left', async () => {
    const k = 'recordings/2026/12/02/bad.wav.gpg';
    const wrong = sha(Buffer.from('not this'));
    await assert.rejects(plain.put(k, small, { sha256: wrong }), ChecksumMismatchError);
    const big = randomBytes(12 * MiB);
    await assert.rejects(
      plain.put(k, Readable.from([big.subarray(0, 3 * MiB), big.subarray(3 * MiB)]), { sha256: wrong }),
      ChecksumMismatchError,
    );
    assert.equal(await plain.exists(k), false);
    const uploads = await raw.send(
      new ListMultipartUploadsCommand({ Bucket: 'srs-plain', Prefix: `node-a/${k}` }),
    );
    assert.deepEqual(uploads.Uploads ?? [], []);
  });

  it('the server itself refuses a body whose SHA-256 is not the one the request is signed with', async () => {
    const body = Buffer.from('the recording');
    const bad = new PutObjectCommand({ Bucket: 'srs-plain', Key: 'node-a/signed-bad', Body: body });
    withSignedPayloadSha256(bad, sha(Buffer.from('another recording')));
    await assert.rejects(raw.send(bad), (e: Error) => e.name === 'XAmzContentSHA256Mismatch');
    assert.equal(await plain.exists('signed-bad'), false);
    const good = new PutObjectCommand({ Bucket: 'srs-plain', Key: 'node-a/signed-good', Body: body });
    withSignedPayloadSha256(good, sha(body));
    await raw.send(good);
    assert.equal(await plain.exists('signed-good'), true);
    assert.equal(await plain.delete('signed-good'), true);
  });

  it('a re-put of the same content finds the object (one version), other content is refused', async () => {
    const k = 'recordings/2026/12/02/once.mp3.gpg';
    const body = randomBytes(1000);
    assert.equal((await worm.put(k, body, { sha256: sha(body) })).created, true);
    const again = await worm.put(k, Readable.from([body]), { sha256: sha(body) });
    assert.equal(again.created, false);
    assert.equal(again.lockMode, 'COMPLIANCE');
    const other = randomBytes(1000);
    await assert.rejects(worm.put(k, other, { sha256: sha(other) }), ObjectExistsError);
    const v = await raw.send(new ListObjectVersionsCommand({ Bucket: 'srs-worm', Prefix: `node-a/${k}` }));
    assert.equal(v.Versions?.length, 1);
  });

  it('lists by prefix, relative to the configured prefix', async () => {
    const keys = (await collect(plain.list('recordings/2026/12/02/'))).map((o) => o.key);
    assert.deepEqual(keys, ['recordings/2026/12/02/long.wav.gpg', 'recordings/2026/12/02/rec-1.wav.gpg']);
    assert.deepEqual(await collect(plain.list('recordings/2027/')), []);
  });

  it('deletes every version of the object; deleting it again finds nothing', async () => {
    const k = 'recordings/2026/12/02/gone.wav.gpg';
    const unlocked = new S3ArtifactStore(settings({ bucket: 'srs-worm' }));
    await unlocked.put(k, small, { sha256: sha(small), retention: false });
    assert.equal(await unlocked.delete(k), true);
    assert.equal(await unlocked.exists(k), false);
    const v = await raw.send(new ListObjectVersionsCommand({ Bucket: 'srs-worm', Prefix: `node-a/${k}` }));
    assert.deepEqual([v.Versions ?? [], v.DeleteMarkers ?? []], [[], []]);
    assert.equal(await unlocked.delete(k), false);
    assert.equal(await plain.delete(key), true);
    assert.equal(await plain.exists(key), false);
    await unlocked.close();
  });

  it('Object Lock: retention set per object at upload; deletion before expiry refused and reported', async () => {
    const k = 'recordings/2026/12/02/worm.wav.gpg';
    const t0 = Date.now();
    const r = await worm.put(k, small, { sha256: sha(small) });
    assert.equal(r.lockMode, 'COMPLIANCE');
    const h = await worm.head(k);
    assert.equal(h?.lockMode, 'COMPLIANCE');
    const until = h?.retainUntil?.getTime() ?? 0;
    assert.ok(
      until >= t0 + 86_400_000 - 5_000 && until <= Date.now() + 86_400_000 + 5_000,
      String(h?.retainUntil),
    );
    await assert.rejects(worm.delete(k), (e: unknown) => {
      assert.ok(e instanceof ObjectLockedError, String(e));
      assert.equal(e.mode, 'COMPLIANCE');
      assert.equal(e.retainUntil?.getTime(), until);
      assert.equal(e.retryable, false);
      return true;
    });
    assert.ok((await read((await worm.get(k)).body)).equals(small));
    // Compliance cannot be bypassed.
    await assert.rejects(worm.delete(k, { bypassGovernance: true }), ObjectLockedError);

    // A long recording (multipart) carries its retention too.
    const long = randomBytes(11 * MiB);
    const l = 'recordings/2026/12/02/worm-long.wav.gpg';
    await worm.put(l, long, { sha256: sha(long), retention: { days: 2 } });
    const hl = await worm.head(l);
    assert.equal(hl?.lockMode, 'COMPLIANCE');
    assert.ok(Math.abs((hl?.retainUntil?.getTime() ?? 0) - (Date.now() + 2 * 86_400_000)) < 60_000);
    await assert.rejects(worm.delete(l), ObjectLockedError);
    assert.deepEqual(await sha256Of(worm, l), { sha256: sha(long), size: long.length });

    // Per object: governance for 3 days; refused, then removed by someone allowed to bypass.
    const g = 'recordings/2026/12/02/governed.wav.gpg';
    await worm.put(g, small, { sha256: sha(small), retention: { mode: 'GOVERNANCE', days: 3 } });
    const hg = await worm.head(g);
    assert.equal(hg?.lockMode, 'GOVERNANCE');
    assert.ok(Math.abs((hg?.retainUntil?.getTime() ?? 0) - (Date.now() + 3 * 86_400_000)) < 60_000);
    await assert.rejects(worm.delete(g), ObjectLockedError);
    assert.equal(await worm.delete(g, { bypassGovernance: true }), true);
    assert.equal(await worm.exists(g), false);
  });

  it('a retention on a bucket without Object Lock is a start-up error', async () => {
    const s = new S3ArtifactStore(settings({ objectLock: { mode: 'GOVERNANCE', days: 1 } }));
    await assert.rejects(s.checkBucket(), /has no Object Lock/);
    const none = new S3ArtifactStore(settings({ bucket: 'srs-missing' }));
    await assert.rejects(none.checkBucket(), StorageError);
    await s.close();
    await none.close();
  });

  it('an outage: put fails with a retryable error while radosgw is down, and succeeds once it is back', async () => {
    const k = 'recordings/2026/12/02/outage.wav.gpg';
    const body = randomBytes(64 * 1024);
    await server.stopGateway();
    await assert.rejects(plain.put(k, body, { sha256: sha(body) }), (e: unknown) => {
      assert.ok(e instanceof StorageUnavailableError, String(e));
      assert.equal(e.retryable, true);
      return true;
    });
    await server.startGateway();
    const r = await plain.put(k, body, { sha256: sha(body) });
    assert.equal(r.created, true);
    assert.deepEqual(await sha256Of(plain, k), { sha256: sha(body), size: body.length });
  });
});
