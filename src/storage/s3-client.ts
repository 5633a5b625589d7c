import { S3Client, type PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3StorageConfig } from '../config/storage.js';
import { belowPolicyMessage, DEFAULT_TLS_POLICY, type TlsPolicy } from '../config/tls-policy.js';
import {
  ChecksumMismatchError,
  ObjectNotFoundError,
  StorageError,
  StorageUnavailableError,
} from './errors.js';
import { readSettingFileText } from '../config/setting-file.js';
import { jsonSyntaxMessage } from '../errors.js';

/** The S3 client of the store: settings, credentials from a file, and what its errors mean to us. */

/** A dead endpoint fails fast; a live one may take this long between two bytes of a part. */
const CONNECT_TIMEOUT_MS = 5_000;
const SOCKET_TIMEOUT_MS = 120_000;
/** Credentials read from a file are read again after this, so a rotated file is picked up. */
const CREDENTIALS_REREAD_MS = 5 * 60_000;

export type S3ClientSettings = Pick<
  S3StorageConfig,
  'region' | 'endpoint' | 'forcePathStyle' | 'credentialsFile' | 'maxAttempts'
> & {
  /** The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of an https endpoint; default: the settings' defaults. */
  tlsPolicy?: TlsPolicy | undefined;
};

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Parses a credentials file: JSON `{"accessKeyId", "secretAccessKey", "sessionToken"?}` or the AWS
 * shared-credentials format (`aws_access_key_id = ...` under `[default]` or the first profile).
 */
export function parseCredentials(text: string, path: string): Credentials {
  let c: Partial<Credentials> = {};
  if (text.trimStart().startsWith('{')) {
    try {
      c = JSON.parse(text) as Partial<Credentials>;
    } catch (err) {
      throw new StorageError(
        'ERR_STORAGE_CREDENTIALS',
        `${path}: not valid JSON (${jsonSyntaxMessage(err, text)})`,
      );
    }
  } else {
    const profiles = new Map<string, Record<string, string>>();
    let current: Record<string, string> | undefined;
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      const section = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
      if (section) profiles.set(section[1] as string, (current = {}));
      else if (current && /^[A-Za-z_]+\s*=/.test(line)) {
        const i = line.indexOf('=');
        current[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
    }
    const p = profiles.get('default') ?? profiles.values().next().value ?? {};
    c = {
      accessKeyId: p.aws_access_key_id,
      secretAccessKey: p.aws_secret_access_key,
      sessionToken: p.aws_session_token,
    };
  }
  if (
    typeof c.accessKeyId !== 'string' ||
    typeof c.secretAccessKey !== 'string' ||
    !c.accessKeyId ||
    !c.secretAccessKey
  )
    throw new StorageError(
      'ERR_STORAGE_CREDENTIALS',
      `${path}: needs an access key id and a secret access key`,
    );
  return {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
  };
}

function fileCredentials(path: string) {
  return async () => {
    const text = await readSettingFileText(path).catch((err: Error) => {
      throw new StorageError(
        'ERR_STORAGE_CREDENTIALS',
        `cannot read S3_CREDENTIALS_FILE ${path}: ${err.message}`,
      );
    });
    return { ...parseCredentials(text, path), expiration: new Date(Date.now() + CREDENTIALS_REREAD_MS) };
  };
}

export function makeS3Client(s: S3ClientSettings): S3Client {
  const tls = s.tlsPolicy ?? DEFAULT_TLS_POLICY;
  return new S3Client({
    region: s.region,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    forcePathStyle: s.forcePathStyle,
    maxAttempts: s.maxAttempts,
    ...(s.credentialsFile ? { credentials: fileCredentials(s.credentialsFile) } : {}),
    // Checksums only where we ask for them (SHA-256): the SDK's default CRC32 on every request
    // (aws-chunked trailers) is not understood by many S3-compatible stores.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK's own https.Agent (keepAlive, 50 sockets), held to the TLS policy: agent options, so
    // the handler still makes and owns the agent (destroyed with the client).
    requestHandler: {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: SOCKET_TIMEOUT_MS,
      httpsAgent: { keepAlive: true, maxSockets: 50, minVersion: tls.minVersion, ciphers: tls.ciphers },
    },
  });
}

/** Answers that say: try again later. */
const RETRYABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
]);
/** What S3 and S3-compatible stores answer when the body does not match the hash sent with it. */
const DIGEST_NAMES = new Set(['XAmzContentSHA256Mismatch', 'BadDigest', 'InvalidDigest']);

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export const httpStatusOf = (err: unknown): number | undefined => (err as SdkError).$metadata?.httpStatusCode;

/**
 * An SDK error as one of ours, naming the operation and the key. `tls`: the client's TLS policy, for
 * an endpoint below it (said as such; retryable, as any endpoint that does not answer).
 */
export function mapS3Error(err: unknown, op: string, key: string, tls?: TlsPolicy): Error {
  if (err instanceof StorageError) return err;
  const below = tls && belowPolicyMessage(err as Error, tls, 'the S3 endpoint');
  if (below) return new StorageUnavailableError(`s3 ${op} ${key}: ${below}`, { cause: err });
  const e = err as SdkError;
  const status = httpStatusOf(err);
  const name = e.name ?? 'Error';
  const what = `s3 ${op} ${key}: ${name}${e.message && e.message !== name ? `: ${e.message}` : ''}`;
  if (DIGEST_NAMES.has(name))
    return new ChecksumMismatchError(key, 'the SHA-256 sent', 'what the server received', { cause: err });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new ObjectNotFoundError(key);
  if (
    name === 'CredentialsProviderError' ||
    name === 'InvalidAccessKeyId' ||
    name === 'SignatureDoesNotMatch'
  )
    return new StorageError('ERR_STORAGE_CREDENTIALS', what, false, { cause: err });
  // No HTTP answer at all (connection refused or reset, timeout, name resolution), a 5xx or 429.
  if (status === undefined || status >= 500 || status === 429 || RETRYABLE_NAMES.has(name))
    return new StorageUnavailableError(what, { cause: err });
  return new StorageError('ERR_STORAGE', what, false, { cause: err });
}

/**
 * Signs the request with `sha256` (hex) as its payload hash instead of the hash of the bytes the
 * SDK is about to send: SigV4 servers (AWS S3, radosgw) hash the body they receive and refuse the
 * request when it differs, so the content is checked against the hash it was made with.
 */
export function withSignedPayloadSha256(cmd: PutObjectCommand, sha256: string): void {
  cmd.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers?: Record<string, string> };
      if (req.headers) req.headers['x-amz-content-sha256'] = sha256;
      return next(args);
    },
    { step: 'build', name: 'srsSignedPayloadSha256' },
  );
}
