import { z } from 'zod';
import { bool, httpUrl, integer, optionalString, word } from './values.js';

/**
 * Storage settings (`storage` in the configuration), validated by src/config.ts, the one reader of
 * the environment, with the rest; src/storage takes the result (StorageConfig).
 *
 * Env (highest) > config file `storage: {...}` > defaults:
 *   SRS_STORAGE=local|s3 (default local)
 *   S3_BUCKET, S3_PREFIX, S3_REGION (default us-east-1), S3_ENDPOINT (S3-compatible stores),
 *   S3_FORCE_PATH_STYLE (default false), S3_CREDENTIALS_FILE (else the SDK's default chain:
 *   AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles),
 *   S3_OBJECT_LOCK_MODE=COMPLIANCE|GOVERNANCE with S3_OBJECT_LOCK_DAYS,
 *   S3_SSE=AES256|aws:kms with S3_SSE_KMS_KEY_ID, S3_PART_SIZE_MB (default 16), S3_MAX_ATTEMPTS (default 3).
 */

/** The storage settings read from the environment: key in `storage` -> variable. */
export const STORAGE_ENV = {
  backend: 'SRS_STORAGE',
  bucket: 'S3_BUCKET',
  prefix: 'S3_PREFIX',
  region: 'S3_REGION',
  endpoint: 'S3_ENDPOINT',
  forcePathStyle: 'S3_FORCE_PATH_STYLE',
  credentialsFile: 'S3_CREDENTIALS_FILE',
  'objectLock.mode': 'S3_OBJECT_LOCK_MODE',
  'objectLock.days': 'S3_OBJECT_LOCK_DAYS',
  sse: 'S3_SSE',
  sseKmsKeyId: 'S3_SSE_KMS_KEY_ID',
  partSizeMiB: 'S3_PART_SIZE_MB',
  maxAttempts: 'S3_MAX_ATTEMPTS',
} as const;

/** `a/b` -> `a/b/`; `/a/` -> `a/`; '' stays ''. Segments as in object keys. */
export const keyPrefix = z
  .string()
  .transform((p) => {
    const t = p.replace(/^\/+|\/+$/g, '');
    return t === '' ? '' : `${t}/`;
  })
  .refine((p) => p === '' || /^([A-Za-z0-9_-][A-Za-z0-9._-]*\/)+$/.test(p), {
    message: 'use path segments of [A-Za-z0-9._-] separated by /',
  });

export const LOCK_MODES = ['COMPLIANCE', 'GOVERNANCE'] as const;

/** A bucket name as S3 requires it. */
export const bucketName = (message: string) =>
  z
    .string({ message })
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      'a bucket name: 3-63 lower-case letters, digits, dots, hyphens',
    );

const s3Schema = z
  .object({
    backend: z.literal('s3'),
    bucket: bucketName('required when SRS_STORAGE=s3 (S3_BUCKET)'),
    prefix: keyPrefix,
    region: word,
    endpoint: optionalString.pipe(httpUrl.optional()),
    forcePathStyle: bool,
    credentialsFile: optionalString,
    objectLock: z
      .object({
        mode: z.enum(LOCK_MODES, { message: 'COMPLIANCE or GOVERNANCE (S3_OBJECT_LOCK_MODE)' }),
        days: integer(1, 36_500, 'a number of days (S3_OBJECT_LOCK_DAYS)'),
      })
      .optional(),
    sse: z.enum(['AES256', 'aws:kms']).optional(),
    sseKmsKeyId: optionalString,
    partSizeMiB: integer(5, 5120),
    maxAttempts: integer(1, 20),
  })
  .refine((s) => !s.sseKmsKeyId || s.sse === 'aws:kms', {
    message: 'S3_SSE_KMS_KEY_ID needs S3_SSE=aws:kms',
    path: ['sseKmsKeyId'],
  });

export const storageSchema = z.discriminatedUnion('backend', [
  z.object({ backend: z.literal('local') }),
  s3Schema,
]);

export type StorageConfig = z.infer<typeof storageSchema>;
export type S3StorageConfig = Extract<StorageConfig, { backend: 's3' }>;

type Env = Readonly<Record<string, string | undefined>>;
type FileSettings = Readonly<Record<string, unknown>> | undefined;

/** The raw `storage` settings from the environment and the config file, for storageSchema. */
export function storageSettings(env: Env, file: FileSettings): unknown {
  const f = file ?? {};
  const pick = (key: keyof typeof STORAGE_ENV, fv: unknown, dflt?: unknown): unknown => {
    const e = env[STORAGE_ENV[key]];
    return e !== undefined && e !== '' ? e : fv !== undefined ? fv : dflt;
  };
  const backend = pick('backend', f.backend, 'local');
  if (backend !== 's3') return { backend };
  const lockFile = (f.objectLock ?? {}) as Record<string, unknown>;
  const lockMode = pick('objectLock.mode', lockFile.mode);
  const lockDays = pick('objectLock.days', lockFile.days);
  return {
    backend,
    bucket: pick('bucket', f.bucket),
    prefix: pick('prefix', f.prefix, ''),
    region: pick('region', f.region, 'us-east-1'),
    endpoint: pick('endpoint', f.endpoint),
    forcePathStyle: pick('forcePathStyle', f.forcePathStyle, false),
    credentialsFile: pick('credentialsFile', f.credentialsFile),
    objectLock:
      lockMode !== undefined || lockDays !== undefined ? { mode: lockMode, days: lockDays } : undefined,
    sse: pick('sse', f.sse),
    sseKmsKeyId: pick('sseKmsKeyId', f.sseKmsKeyId),
    partSizeMiB: pick('partSizeMiB', f.partSizeMiB, 16),
    maxAttempts: pick('maxAttempts', f.maxAttempts, 3),
  };
}
