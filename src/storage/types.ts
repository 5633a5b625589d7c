import type { Readable } from 'node:stream';

/**
 * The artifact store: where encrypted recordings live. Keys are relative paths
 * (`recordings/YYYY/MM/DD/<id>.wav.gpg`, the catalogue's `RecordingFile.path`), the same in every
 * backend, so the catalogue does not change with the backend.
 */

export type StorageBackend = 'local' | 's3';
export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

/** Content to store: in memory, a file, or a stream (read once). */
export type PutSource = Buffer | { path: string } | Readable;

export interface PutOptions {
  /** SHA-256 (hex) of the content, known before the upload: sent with it and checked before it is committed. */
  sha256: string;
  /** Size in bytes, when known; checked too. */
  size?: number;
  /** Stored with the object (S3 user metadata: lower-case keys, ASCII values). Ignored by `local`. */
  metadata?: Record<string, string>;
  /**
   * Object Lock of this object (s3 only): `days` from now or an `until` date, in `mode` (default:
   * the configured mode). Default: the configured retention, if any; `false`: none.
   */
  retention?: { mode?: LockMode; days?: number; until?: Date } | false;
  /** Replace the content of a key that holds other content (default: refuse with ObjectExistsError). */
  overwrite?: boolean;
}

export interface PutResult {
  key: string;
  size: number;
  sha256: string;
  /** False when the key already held this content (a retry): nothing was written. */
  created: boolean;
  versionId?: string;
  lockMode?: LockMode;
  retainUntil?: Date;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Known when the store keeps it (s3: object metadata or checksum); absent in listings and `local`. */
  sha256?: string;
  lastModified?: Date;
  versionId?: string;
  lockMode?: LockMode;
  retainUntil?: Date;
  metadata?: Record<string, string>;
}

/** Inclusive byte offsets, as in HTTP; `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface GetResult {
  body: Readable;
  /** Size of the whole object. */
  size: number;
  start: number;
  end: number;
}

export interface DeleteOptions {
  /** Remove GOVERNANCE-locked versions (needs s3:BypassGovernanceRetention). COMPLIANCE is never bypassed. */
  bypassGovernance?: boolean;
}

/** The Object Lock of one version of an object (s3). */
export interface VersionLock {
  versionId: string;
  mode?: LockMode;
  retainUntil?: Date;
  legalHold: boolean;
}

export interface ArtifactStore {
  readonly backend: StorageBackend;
  /** Where objects go, for logs: a directory or `s3://bucket/prefix`. */
  readonly location: string;
  /** Stores `source` under `key` once: an identical object already there is found, not written again. */
  put(key: string, source: PutSource, opts: PutOptions): Promise<PutResult>;
  head(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** The object (or a byte range of it) as a stream. ObjectNotFoundError, RangeNotSatisfiableError. */
  get(key: string, range?: ByteRange): Promise<GetResult>;
  /** Removes the object (every version, in a versioned bucket); false when it was not there. ObjectLockedError. */
  delete(key: string, opts?: DeleteOptions): Promise<boolean>;
  /** The Object Lock of every version of the object (s3; absent where there is no Object Lock). */
  locks?(key: string): Promise<VersionLock[]>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  close(): Promise<void>;
}
