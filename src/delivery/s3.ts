import { ConfigError } from '../errors.js';
import { S3ArtifactStore } from '../storage/s3.js';
import { MIN_COPY_PART } from '../storage/s3-append.js';
import { sha256Hex } from '../storage/common.js';
import { parseCredentials } from '../storage/s3-client.js';
import type { S3StorageConfig } from '../config/storage.js';
import type { S3Destination, S3Location } from '../config/s3-destination.js';
import { readSettingFileSync } from '../config/setting-file.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import type { Placement } from './export-targets.js';

/**
 * An `s3` delivery destination: its primary location and, when configured, a secondary one that
 * receives the same objects. Every write goes to the primary, then to the secondary, through the
 * artifact store's S3 client (src/storage/s3.ts): one PutObject signed with the content's SHA-256
 * (the server refuses a body that differs), multipart above `partSizeMiB`, the SHA-256 kept as
 * metadata `x-amz-meta-sha256`, and an object already there with the same SHA-256 found rather
 * than written again. An object appears whole or not at all (no `.part` names as with SFTP).
 *
 * A write counts once every location has the object; a failure names the location (TargetError),
 * whose health then goes down in `delivery_targets` while the other's stays as it was.
 */

/** `s3://bucket/prefix` and where: the endpoint, or the AWS region. */
export const describeS3 = (l: S3Location): string =>
  `s3://${l.bucket}/${l.prefix}${l.endpoint ? ` at ${l.endpoint}` : ` in ${l.region}`}`;

/** The health names (delivery_targets) of an S3 destination's locations, primary first. */
export const s3Labels = (d: S3Destination): string[] => [
  `s3:${describeS3(d)}`,
  ...(d.secondary ? [`s3:${describeS3(d.secondary)} (secondary)`] : []),
];

/** A failure at one target (its health name): the one the console then shows as failing. */
export class TargetError extends Error {
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TargetError';
  }
}

/**
 * An object key from a rendered export path: the artifact store takes segments of
 * `[A-Za-z0-9._-]` (what every S3-compatible store and every tool handles alike), so anything else
 * (`+`, `@`, spaces, non-ASCII) becomes `_`, and an empty or dot-led segment gets a `_`.
 */
export function s3Key(rel: string): string {
  return rel
    .split('/')
    .map((seg) => {
      const s = seg.replace(/[^A-Za-z0-9._-]/g, '_');
      return s === '' ? '_' : s.startsWith('.') ? `_${s.slice(1)}` : s;
    })
    .join('/');
}

/**
 * At start: a secondary location must differ from the primary, and a credentials file each
 * location names must be readable and hold keys (either refuses the start naming the setting;
 * an unreachable bucket does not: it is retried like an SFTP server that does not answer).
 */
export function checkS3Destination(d: S3Destination, setting: string): void {
  // On AWS a bucket name is global: the region does not make another location.
  const where = (l: S3Location) => `${l.bucket}/${l.prefix} ${l.endpoint ?? 'aws'}`;
  if (d.secondary && where(d.secondary) === where(d))
    throw new ConfigError(
      `${setting}.secondary: the same bucket, prefix and endpoint as the primary; name another location`,
    );
  const locs: [S3Location, string][] = [[d, setting]];
  if (d.secondary) locs.push([d.secondary, `${setting}.secondary`]);
  for (const [l, name] of locs) {
    const file = l.credentialsFile;
    if (!file) continue;
    let text: string;
    try {
      text = readSettingFileSync(file).toString('utf8');
    } catch (err) {
      throw new ConfigError(`${name}.credentialsFile: cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      parseCredentials(text, file);
    } catch (err) {
      throw new ConfigError(`${name}.credentialsFile: ${(err as Error).message}`);
    }
  }
}

/**
 * An S3 destination with the TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of its https
 * endpoints, given by startDelivery (src/delivery/tls-policy.ts); default: the settings' defaults.
 */
type S3PolicyDestination = S3Destination & { tlsPolicy?: TlsPolicy | undefined };

function storeConfig(
  l: S3Location,
  d: S3PolicyDestination,
): S3StorageConfig & { tlsPolicy?: TlsPolicy | undefined } {
  return {
    tlsPolicy: d.tlsPolicy,
    backend: 's3',
    bucket: l.bucket,
    prefix: l.prefix,
    region: l.region,
    endpoint: l.endpoint,
    forcePathStyle: l.forcePathStyle,
    credentialsFile: l.credentialsFile,
    sse: l.sse,
    sseKmsKeyId: l.sseKmsKeyId,
    partSizeMiB: d.partSizeMiB,
    maxAttempts: d.maxAttempts,
  };
}

interface Location {
  label: string;
  store: S3ArtifactStore;
}

const withSuffix = (rel: string, suffix: string) => rel.replace(/(\.[^./]+)?$/, (ext) => `-${suffix}${ext}`);

export class S3DestinationClient {
  readonly labels: string[];
  private readonly locations: Location[];

  constructor(readonly dest: S3PolicyDestination) {
    this.labels = s3Labels(dest);
    this.locations = [dest, ...(dest.secondary ? [dest.secondary] : [])].map((l, i) => ({
      label: this.labels[i] as string,
      store: new S3ArtifactStore(storeConfig(l, dest)),
    }));
  }

  private async at<T>(loc: Location, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof TargetError) throw err;
      throw new TargetError(loc.label, `${loc.label}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Writes `data` as `key` at every location. `replace`: an object of other content under the key
   * is replaced (names that are ours: offload files, a day index); otherwise it is refused.
   * 'present' when every location had it already (same SHA-256): nothing was sent.
   */
  async write(key: string, data: Buffer, replace: boolean): Promise<'written' | 'present'> {
    const sha256 = sha256Hex(data);
    let created = false;
    for (const loc of this.locations) {
      const r = await this.at(loc, () =>
        loc.store.put(key, data, { sha256, size: data.length, overwrite: replace }),
      );
      created ||= r.created;
    }
    return created ? 'written' : 'present';
  }

  /**
   * Export: writes a new object at `rel` (made a valid key), or at `rel-<suffix>` when any
   * location holds something else there; nothing at a destination is replaced. Returns the key.
   */
  async place(rel: string, data: Buffer, suffix: string, own: Placement): Promise<string> {
    const sha256 = sha256Hex(data);
    const key = s3Key(rel);
    for (const candidate of [key, withSuffix(key, suffix)]) {
      let taken = false;
      for (const loc of this.locations) {
        const h = await this.at(loc, () => loc.store.head(candidate));
        // The same content is ours only where this recording claimed the name (export-targets.ts).
        if (h && !(h.sha256 === sha256 && h.size === data.length && own.mine(candidate))) taken = true;
      }
      if (taken) continue;
      if (!own.mine(candidate)) await own.claim(candidate);
      await this.write(candidate, data, false);
      return candidate;
    }
    throw new Error(`export: ${key} and ${withSuffix(key, suffix)} both exist with other content`);
  }

  /**
   * The size of `key` when every location holds it at the same size, at least S3's smallest
   * first part (5 MiB), so that `append` can add to it; otherwise undefined (write it whole).
   */
  async appendableSize(key: string): Promise<number | undefined> {
    let size: number | undefined;
    for (const loc of this.locations) {
      const h = await this.at(loc, () => loc.store.head(key));
      if (!h || h.size < MIN_COPY_PART || (size !== undefined && h.size !== size)) return undefined;
      size = h.size;
    }
    return size;
  }

  /** Adds `data` to the end of `key` (`at` bytes long) at every location (src/storage/s3-append.ts). */
  async append(key: string, data: Buffer, at: number): Promise<void> {
    for (const loc of this.locations) await this.at(loc, () => loc.store.append(key, data, at));
  }

  /** The object at `key` at the first location (an access test reads its probe back). */
  async read(key: string): Promise<Buffer> {
    const loc = this.locations[0] as Location;
    return this.at(loc, async () => {
      const chunks: Buffer[] = [];
      for await (const c of (await loc.store.get(key)).body) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    });
  }

  /** Whether any location holds `key`. */
  async exists(key: string): Promise<boolean> {
    for (const loc of this.locations) if (await this.at(loc, () => loc.store.exists(key))) return true;
    return false;
  }

  /** Deletes `key` (every version) at every location: an access test's probe. */
  async remove(key: string): Promise<void> {
    for (const loc of this.locations) await this.at(loc, () => loc.store.delete(key));
  }

  /** Throws (TargetError) when a location's bucket does not answer. */
  async probe(): Promise<void> {
    for (const loc of this.locations) await this.at(loc, () => loc.store.checkBucket());
  }

  async close(): Promise<void> {
    for (const loc of this.locations) await loc.store.close();
  }
}
