import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import {
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  base64ToHex,
  checkKey,
  checkPrefix,
  checkSha256,
  HashCheck,
  hexToBase64,
  sha256Hex,
} from './common.js';
import type { S3StorageConfig } from '../config/storage.js';
import { DEFAULT_TLS_POLICY, type TlsPolicy } from '../config/tls-policy.js';
import {
  ChecksumMismatchError,
  ObjectExistsError,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  StorageError,
} from './errors.js';
import { appendByCopy } from './s3-append.js';
import { deleteAllVersions, versionLocks } from './s3-delete.js';
import {
  httpStatusOf,
  makeS3Client,
  mapS3Error,
  withSignedPayloadSha256,
  type S3ClientSettings,
} from './s3-client.js';
import type {
  ArtifactStore,
  ByteRange,
  DeleteOptions,
  GetResult,
  LockMode,
  ObjectInfo,
  PutOptions,
  PutResult,
  PutSource,
  VersionLock,
} from './types.js';

/**
 * The `s3` backend (AWS SDK v3): objects `<prefix><key>` in one bucket.
 *
 * Integrity: the SHA-256 of the content is known before the upload (the encryption pass computes
 * it). Up to one part (`partSizeMiB`), the content goes in one PutObject whose signed payload hash
 * (`x-amz-content-sha256`) is that SHA-256, so the server itself refuses a body that differs
 * (XAmzContentSHA256Mismatch), and `x-amz-checksum-sha256` carries it too (verified by stores that
 * support additional checksums). Larger content goes in a multipart upload (lib-storage), each
 * part signed with its own hash and sent with its SHA-256 checksum; the whole is hashed on the
 * way and a mismatch fails the upload before CompleteMultipartUpload (the parts are aborted).
 * The SHA-256 is kept as metadata `x-amz-meta-sha256`.
 *
 * Once: a put first looks for the key; an object with the same SHA-256 is found, not written
 * again (a retry after a crash between upload and catalogue commit), one with another refused
 * (ObjectExistsError) unless `overwrite`.
 *
 * WORM: with Object Lock (configured or per put), each object is written with its retention
 * (mode and retain-until date). Deleting removes every version of the key (a plain DeleteObject
 * in a versioned bucket only hides the object behind a delete marker); a version under retention
 * is refused by the server, and that refusal is reported as ObjectLockedError.
 */

const DAY_MS = 86_400_000;
/** Parts uploaded at once per object: bounded memory (queue x part size) on a small node. */
const QUEUE_SIZE = 2;

type SdkLock = { ObjectLockMode?: LockMode; ObjectLockRetainUntilDate?: Date };

export class S3ArtifactStore implements ArtifactStore {
  readonly backend = 's3' as const;
  readonly client: S3Client;
  readonly #cfg: S3StorageConfig;
  readonly #partSize: number;
  readonly #tls: TlsPolicy;

  /** `cfg.tlsPolicy`: the TLS policy of an https endpoint (default: the settings' defaults). */
  constructor(cfg: S3StorageConfig & Pick<S3ClientSettings, 'tlsPolicy'>, client?: S3Client) {
    this.#cfg = cfg;
    this.#tls = cfg.tlsPolicy ?? DEFAULT_TLS_POLICY;
    this.client = client ?? makeS3Client(cfg);
    this.#partSize = cfg.partSizeMiB * 1024 * 1024;
  }

  get location(): string {
    return `s3://${this.#cfg.bucket}/${this.#cfg.prefix}`;
  }

  /** The configured Object Lock (mode and days), if any. */
  get objectLock(): S3StorageConfig['objectLock'] {
    return this.#cfg.objectLock;
  }

  #key(key: string): string {
    return this.#cfg.prefix + checkKey(key);
  }

  async #send<T>(op: string, key: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw mapS3Error(err, op, key, this.#tls);
    }
  }

  /** At start: the bucket is reachable, and has Object Lock enabled when retention is configured. */
  async checkBucket(): Promise<void> {
    const Bucket = this.#cfg.bucket;
    await this.#send('HeadBucket', Bucket, () => this.client.send(new HeadBucketCommand({ Bucket })));
    if (!this.#cfg.objectLock) return;
    const r = await this.#send('GetObjectLockConfiguration', Bucket, () =>
      this.client.send(new GetObjectLockConfigurationCommand({ Bucket })),
    ).catch((err: unknown) => {
      if (err instanceof StorageError && err.retryable) throw err;
      return undefined;
    });
    if (r?.ObjectLockConfiguration?.ObjectLockEnabled !== 'Enabled')
      throw new StorageError(
        'ERR_STORAGE_CONFIG',
        `bucket ${Bucket} has no Object Lock, but S3_OBJECT_LOCK_MODE is set: create the bucket with Object Lock enabled (it cannot be added to a bucket later on every store)`,
      );
  }

  #lockFor(retention: PutOptions['retention']): SdkLock {
    if (retention === false) return {};
    const mode = retention?.mode ?? this.#cfg.objectLock?.mode;
    const days = retention?.days ?? this.#cfg.objectLock?.days;
    const until = retention?.until ?? (days !== undefined ? new Date(Date.now() + days * DAY_MS) : undefined);
    if (!mode && !until) return {};
    if (!mode || !until) throw new TypeError('an Object Lock retention needs a mode and days (or a date)');
    return { ObjectLockMode: mode, ObjectLockRetainUntilDate: until };
  }

  async put(key: string, source: PutSource, opts: PutOptions): Promise<PutResult> {
    const Key = this.#key(key);
    checkSha256(opts.sha256);
    const existing = await this.head(key);
    if (existing) {
      if (existing.sha256 === opts.sha256 && (opts.size === undefined || opts.size === existing.size)) {
        if (source instanceof Readable) source.destroy();
        return {
          key,
          size: existing.size,
          sha256: opts.sha256,
          created: false,
          ...pick(existing, ['versionId', 'lockMode', 'retainUntil']),
        };
      }
      if (!opts.overwrite) throw new ObjectExistsError(key, existing.sha256);
    }
    const lock = this.#lockFor(opts.retention);
    const params = {
      Bucket: this.#cfg.bucket,
      Key,
      ContentType: 'application/octet-stream',
      Metadata: { ...opts.metadata, sha256: opts.sha256 },
      ...(this.#cfg.sse ? { ServerSideEncryption: this.#cfg.sse } : {}),
      ...(this.#cfg.sseKmsKeyId ? { SSEKMSKeyId: this.#cfg.sseKmsKeyId } : {}),
      ...lock,
    };

    let buffer: Buffer | undefined;
    if (Buffer.isBuffer(source)) buffer = source;
    else if (!(source instanceof Readable)) {
      const { size } = await stat(source.path);
      if (size <= this.#partSize) buffer = await readFile(source.path);
    }
    let versionId: string | undefined;
    let size: number;
    if (buffer) {
      const actual = sha256Hex(buffer);
      if (actual !== opts.sha256) throw new ChecksumMismatchError(key, opts.sha256, actual);
      if (opts.size !== undefined && opts.size !== buffer.length)
        throw new ChecksumMismatchError(key, `${opts.size} bytes`, `${buffer.length} bytes`);
      size = buffer.length;
      if (size <= this.#partSize) {
        const cmd = new PutObjectCommand({
          ...params,
          Body: buffer,
          ContentLength: size,
          ChecksumSHA256: hexToBase64(opts.sha256),
        });
        withSignedPayloadSha256(cmd, opts.sha256);
        versionId = (await this.#send('PutObject', Key, () => this.client.send(cmd))).VersionId;
      } else {
        versionId = await this.#multipart(Key, params, buffer);
      }
    } else {
      const input = source instanceof Readable ? source : createReadStream((source as { path: string }).path);
      const check = new HashCheck(key, opts.sha256, opts.size);
      pipeline(input, check, () => undefined); // an input error fails `check`, which fails the upload
      try {
        versionId = await this.#multipart(Key, params, check);
      } finally {
        input.destroy();
      }
      size = check.bytes;
    }
    // The store confirms: the object is there with the size sent, under the retention asked for.
    let stored = await this.head(key);
    if (!stored || stored.size !== size)
      throw new StorageError(
        'ERR_STORAGE',
        `s3 put ${Key}: stored ${stored?.size ?? 'nothing'} of ${size} bytes`,
        true,
      );
    const { ObjectLockMode: Mode, ObjectLockRetainUntilDate: RetainUntilDate } = lock;
    if (Mode && RetainUntilDate && !sameLock(stored, Mode, RetainUntilDate)) {
      // radosgw 16 ignores the Object Lock headers of CreateMultipartUpload: the retention is then
      // set on the version just written, before the put is reported done.
      const VersionId = versionId ?? stored.versionId;
      await this.#send('PutObjectRetention', Key, () =>
        this.client.send(
          new PutObjectRetentionCommand({
            Bucket: this.#cfg.bucket,
            Key,
            ...(VersionId ? { VersionId } : {}),
            Retention: { Mode, RetainUntilDate },
          }),
        ),
      );
      stored = await this.head(key);
      if (!stored || !sameLock(stored, Mode, RetainUntilDate))
        throw new StorageError(
          'ERR_STORAGE_LOCK',
          `s3 put ${Key}: the store did not keep the ${Mode} retention asked for`,
        );
    }
    return {
      key,
      size,
      sha256: opts.sha256,
      created: true,
      ...(versionId ? { versionId } : {}),
      ...(lock.ObjectLockMode ? { lockMode: lock.ObjectLockMode } : {}),
      ...(lock.ObjectLockRetainUntilDate ? { retainUntil: lock.ObjectLockRetainUntilDate } : {}),
    };
  }

  async #multipart(Key: string, params: object, Body: Buffer | Readable): Promise<string | undefined> {
    const upload = new Upload({
      client: this.client,
      params: { ...params, Key, Bucket: this.#cfg.bucket, Body, ChecksumAlgorithm: 'SHA256' },
      partSize: this.#partSize,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    const r = await this.#send('multipart upload', Key, () => upload.done());
    return r.VersionId;
  }

  /**
   * Adds `data` to the end of `key` (`at` bytes long, at least 5 MiB), the object's bytes copied by
   * the server (src/storage/s3-append.ts); throws when it cannot (the caller writes it whole).
   */
  async append(key: string, data: Buffer, at: number): Promise<void> {
    const Key = this.#key(key);
    await this.#send('append', Key, () =>
      appendByCopy(
        this.client,
        {
          Bucket: this.#cfg.bucket,
          Key,
          ...(this.#cfg.sse ? { ServerSideEncryption: this.#cfg.sse } : {}),
          ...(this.#cfg.sseKmsKeyId ? { SSEKMSKeyId: this.#cfg.sseKmsKeyId } : {}),
        },
        data,
        at,
      ),
    );
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const Key = this.#key(key);
    try {
      const r = await this.client.send(
        new HeadObjectCommand({ Bucket: this.#cfg.bucket, Key, ChecksumMode: 'ENABLED' }),
      );
      const checksum = r.ChecksumSHA256 && r.ChecksumType !== 'COMPOSITE' ? r.ChecksumSHA256 : undefined;
      const sha256 = r.Metadata?.sha256 ?? (checksum ? base64ToHex(checksum) : undefined);
      return {
        key,
        size: r.ContentLength ?? 0,
        ...(sha256 ? { sha256 } : {}),
        ...(r.LastModified ? { lastModified: r.LastModified } : {}),
        ...(r.VersionId ? { versionId: r.VersionId } : {}),
        ...(r.ObjectLockMode ? { lockMode: r.ObjectLockMode as LockMode } : {}),
        ...(r.ObjectLockRetainUntilDate ? { retainUntil: r.ObjectLockRetainUntilDate } : {}),
        metadata: r.Metadata ?? {},
      };
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw mapS3Error(err, 'HeadObject', Key, this.#tls);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const Key = this.#key(key);
    if (
      range &&
      (!Number.isInteger(range.start) ||
        range.start < 0 ||
        (range.end !== undefined && range.end < range.start))
    ) {
      const info = await this.head(key);
      if (!info) throw new ObjectNotFoundError(key);
      throw new RangeNotSatisfiableError(key, info.size);
    }
    const Range = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
    let r;
    try {
      r = await this.client.send(
        new GetObjectCommand({ Bucket: this.#cfg.bucket, Key, ...(Range ? { Range } : {}) }),
      );
    } catch (err) {
      if (httpStatusOf(err) === 416)
        throw new RangeNotSatisfiableError(key, (await this.head(key))?.size ?? 0);
      throw mapS3Error(err, 'GetObject', Key, this.#tls);
    }
    const body = r.Body as Readable;
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.ContentRange ?? '');
    if (m) return { body, start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) };
    const size = r.ContentLength ?? 0;
    return { body, start: 0, end: size - 1, size };
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<boolean> {
    return deleteAllVersions(this.client, this.#cfg.bucket, this.#key(key), key, opts);
  }

  async locks(key: string): Promise<VersionLock[]> {
    return versionLocks(this.client, this.#cfg.bucket, this.#key(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const Prefix = this.#cfg.prefix + checkPrefix(prefix);
    let ContinuationToken: string | undefined;
    do {
      const r = await this.#send('ListObjectsV2', Prefix, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.#cfg.bucket, Prefix, ContinuationToken })),
      );
      for (const o of r.Contents ?? []) {
        if (!o.Key) continue;
        yield {
          key: o.Key.slice(this.#cfg.prefix.length),
          size: o.Size ?? 0,
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
        };
      }
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** The object is under `mode` until `until` (to the second: stores keep whole seconds or milliseconds). */
function sameLock(o: ObjectInfo, mode: LockMode, until: Date): boolean {
  return o.lockMode === mode && Math.abs((o.retainUntil?.getTime() ?? 0) - until.getTime()) < 1_000;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
