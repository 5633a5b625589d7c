import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/**
 * Adding to the end of an S3 object, which S3 cannot do in place, without sending its bytes again:
 * a multipart upload of the same key whose first part is the object itself, copied by the server
 * (UploadPartCopy, only while it is still the version measured: If-Match its ETag), and whose
 * second part is the new bytes. The export's day index uses it (src/delivery/export.ts): written
 * whole after every pass, a busy day's index cost the S3 export more with every recording (9.4
 * recordings a second at 500,000 rows, scripts/export-day-rate.ts with EXPORT_DAY_TARGET=s3).
 */

/** S3's smallest part but the last one: a smaller object cannot be the first part of another. */
export const MIN_COPY_PART = 5 * 1024 * 1024;

export interface AppendParams {
  Bucket: string;
  /** The object's full key (with the store's prefix). */
  Key: string;
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
}

/**
 * Appends `data` to the object, which must be `at` bytes long and at least MIN_COPY_PART; throws
 * otherwise (the caller then writes it whole) and when the object changed meanwhile (If-Match).
 * The new object carries no `sha256` metadata: its SHA-256 is not known without reading it.
 */
export async function appendByCopy(
  client: S3Client,
  p: AppendParams,
  data: Buffer,
  at: number,
): Promise<void> {
  const { Bucket, Key } = p;
  const head = await client.send(new HeadObjectCommand({ Bucket, Key }));
  const size = head.ContentLength ?? -1;
  if (size !== at) throw new Error(`s3 append ${Key}: the object is ${size} bytes, not ${at}`);
  if (size < MIN_COPY_PART)
    throw new Error(`s3 append ${Key}: ${size} bytes is under S3's smallest first part (5 MiB)`);
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: head.ContentType ?? 'application/octet-stream',
      ...(p.ServerSideEncryption ? { ServerSideEncryption: p.ServerSideEncryption as never } : {}),
      ...(p.SSEKMSKeyId ? { SSEKMSKeyId: p.SSEKMSKeyId } : {}),
    }),
  );
  if (!UploadId) throw new Error(`s3 append ${Key}: no upload id`);
  try {
    const source = `${Bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`;
    const copied = await client.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 1,
        CopySource: source,
        ...(head.ETag ? { CopySourceIfMatch: head.ETag } : {}),
      }),
    );
    const added = await client.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: data, ContentLength: data.length }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: copied.CopyPartResult?.ETag },
            { PartNumber: 2, ETag: added.ETag },
          ],
        },
      }),
    );
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
    throw err;
  }
  const after = await client.send(new HeadObjectCommand({ Bucket, Key }));
  if (after.ContentLength !== at + data.length)
    throw new Error(`s3 append ${Key}: ${after.ContentLength} bytes after, not ${at + data.length}`);
}
