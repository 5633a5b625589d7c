import { z } from 'zod';
import { bucketName, keyPrefix } from './storage.js';
import { httpUrl, integer, optionalString, word } from './values.js';

/**
 * The `s3` delivery destination (offload `audio` / `metadata`, export `primary` / `secondary`): a
 * bucket (and prefix, region, endpoint, path style, credentials file, SSE) plus an optional
 * `secondary` location (another bucket, possibly at another endpoint, in another region, with
 * other credentials) that receives the same objects. Part of the configuration (src/config.ts),
 * next to the artifact store's S3 settings whose rules (bucket, prefix) it shares (storage.ts); the
 * delivery side is src/delivery/s3.ts.
 *
 * Credentials as the artifact store takes them (src/storage): `credentialsFile` (JSON or the AWS
 * shared-credentials format, re-read every 5 minutes), else the SDK's default chain
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles).
 */

const locationShape = {
  bucket: bucketName('required (the bucket objects go to)'),
  /** Key prefix: `a/b` and `/a/b/` both mean objects `a/b/<name>`. */
  prefix: keyPrefix.default(''),
  region: word.default('us-east-1'),
  /** An S3-compatible store (MinIO, Ceph radosgw...); absent: AWS. */
  endpoint: optionalString.pipe(httpUrl.optional()),
  forcePathStyle: z.boolean().default(false),
  credentialsFile: optionalString,
  sse: z.enum(['AES256', 'aws:kms']).optional(),
  sseKmsKeyId: optionalString,
};

const kmsNeedsSse = (l: { sse?: string | undefined; sseKmsKeyId?: string | undefined }) =>
  !l.sseKmsKeyId || l.sse === 'aws:kms';
const kmsMessage = { message: 'sseKmsKeyId needs sse "aws:kms"', path: ['sseKmsKeyId'] };

export const s3LocationSchema = z.strictObject(locationShape).refine(kmsNeedsSse, kmsMessage);

export const s3DestinationSchema = z
  .strictObject({
    type: z.literal('s3'),
    ...locationShape,
    /** A second location that receives the same objects; the delivery counts once both have them. */
    secondary: s3LocationSchema.optional(),
    /** Objects above this go in a multipart upload of parts this size (MiB). */
    partSizeMiB: integer(5, 5120).default(16),
    /** Tries of one request inside the SDK; the delivery's own retry (backoff) comes on top. */
    maxAttempts: integer(1, 20).default(3),
  })
  .refine(kmsNeedsSse, kmsMessage);

export type S3Location = z.infer<typeof s3LocationSchema>;
export type S3Destination = z.infer<typeof s3DestinationSchema>;
