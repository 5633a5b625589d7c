import { SrsError } from '../errors.js';

/**
 * Typed errors of the artifact store. Callers match them with instanceof or `code`; `retryable`
 * says whether trying the same operation later can succeed (a job retries, a request gets 503).
 */
export class StorageError extends SrsError {
  readonly retryable: boolean;
  constructor(code: string, message: string, retryable = false, options?: { cause?: unknown }) {
    super(code, message, options);
    this.retryable = retryable;
  }
}

/** The store cannot be reached or answered with a server error (connection refused, timeout, 5xx). */
export class StorageUnavailableError extends StorageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORAGE_UNAVAILABLE', message, true, options);
  }
}

/** The content does not match the SHA-256 (or size) it was sent with: nothing was stored. */
export class ChecksumMismatchError extends StorageError {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_STORAGE_CHECKSUM',
      `${key}: content ${actual} does not match the expected ${expected}; not stored`,
      false,
      options,
    );
  }
}

/** The key already holds different content (another SHA-256) and overwrite was not asked for. */
export class ObjectExistsError extends StorageError {
  constructor(
    readonly key: string,
    readonly existingSha256: string | undefined,
  ) {
    super(
      'ERR_STORAGE_EXISTS',
      `${key} already exists with other content (sha256 ${existingSha256 ?? 'unknown'}); not overwritten`,
    );
  }
}

/** Deletion refused by an Object Lock retention (WORM) that has not expired. */
export class ObjectLockedError extends StorageError {
  constructor(
    readonly key: string,
    readonly mode: string | undefined,
    readonly retainUntil: Date | undefined,
    options?: { cause?: unknown; legalHold?: boolean },
  ) {
    super(
      'ERR_STORAGE_LOCKED',
      options?.legalHold && !(retainUntil && retainUntil.getTime() > Date.now())
        ? `${key} is under an S3 legal hold: deletion refused`
        : `${key} is under ${mode ?? 'an'} Object Lock retention${retainUntil ? ` until ${retainUntil.toISOString()}` : ''}: deletion refused`,
      false,
      options,
    );
    this.legalHold = options?.legalHold ?? false;
  }
  /** A legal hold (no end date) holds the object, whether or not a retention does too. */
  readonly legalHold: boolean;
}

export class ObjectNotFoundError extends StorageError {
  constructor(readonly key: string) {
    super('ERR_STORAGE_NOT_FOUND', `${key} is not in the store`);
  }
}

/** A byte range outside the object (HTTP 416 with `bytes *\/size`). */
export class RangeNotSatisfiableError extends StorageError {
  constructor(
    readonly key: string,
    readonly size: number,
  ) {
    super('ERR_STORAGE_RANGE', `range not satisfiable for ${key} (size ${size})`);
  }
}

/** A key that is not a plain relative path (`..`, absolute, empty segments, odd characters). */
export class InvalidKeyError extends StorageError {
  constructor(key: string) {
    super(
      'ERR_STORAGE_KEY',
      `invalid storage key ${JSON.stringify(key)}: use a relative path of [A-Za-z0-9._-] segments`,
    );
  }
}
