import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ObjectLockedError } from './errors.js';
import { httpStatusOf, mapS3Error } from './s3-client.js';
import type { DeleteOptions, VersionLock } from './types.js';

/**
 * Deleting from the `s3` backend: every version and delete marker of a key (a plain DeleteObject
 * in a versioned bucket only hides the object behind a delete marker). A version under retention
 * or legal hold is refused by the server, and that refusal is reported as ObjectLockedError.
 */

/** Every version and delete marker of exactly `Key`, newest first. */
async function keyVersions(
  client: S3Client,
  Bucket: string,
  Key: string,
): Promise<{ versionId: string; marker: boolean }[]> {
  const out: { versionId: string; marker: boolean }[] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    let r;
    try {
      r = await client.send(
        new ListObjectVersionsCommand({ Bucket, Prefix: Key, KeyMarker, VersionIdMarker }),
      );
    } catch (err) {
      throw mapS3Error(err, 'ListObjectVersions', Key);
    }
    for (const v of r.Versions ?? [])
      if (v.Key === Key) out.push({ versionId: v.VersionId ?? 'null', marker: false });
    for (const d of r.DeleteMarkers ?? [])
      if (d.Key === Key) out.push({ versionId: d.VersionId ?? 'null', marker: true });
    if (!r.IsTruncated) return out;
    KeyMarker = r.NextKeyMarker;
    VersionIdMarker = r.NextVersionIdMarker;
  }
}

/**
 * Deletes every version of `Key` (the object `key` with the store's prefix); true if there was a
 * version (not only delete markers).
 */
export async function deleteAllVersions(
  client: S3Client,
  Bucket: string,
  Key: string,
  key: string,
  opts: DeleteOptions,
): Promise<boolean> {
  const versions = await keyVersions(client, Bucket, Key);
  for (const v of versions) {
    try {
      await client.send(
        new DeleteObjectCommand({
          Bucket,
          Key,
          VersionId: v.versionId,
          ...(opts.bypassGovernance ? { BypassGovernanceRetention: true } : {}),
        }),
      );
    } catch (err) {
      if (httpStatusOf(err) === 403 && !v.marker) {
        // Denied: by a retention (what was asked for is then refused and reported) or by the policy.
        const h = await client
          .send(new HeadObjectCommand({ Bucket, Key, VersionId: v.versionId }))
          .catch(() => undefined);
        const until = h?.ObjectLockRetainUntilDate;
        const held = h?.ObjectLockLegalHoldStatus === 'ON';
        const retained = until && until.getTime() > Date.now();
        if (retained || held)
          throw new ObjectLockedError(
            key,
            retained ? h?.ObjectLockMode : undefined,
            retained ? until : undefined,
            {
              cause: err,
              legalHold: held,
            },
          );
      }
      throw mapS3Error(err, 'DeleteObject', Key);
    }
  }
  return versions.some((v) => !v.marker);
}

/**
 * The Object Lock of every version of `Key` (not only the latest: a locked or held older version
 * refuses its deletion as well): its retention and its legal hold, as HeadObject of that version
 * reports them.
 */
export async function versionLocks(client: S3Client, Bucket: string, Key: string): Promise<VersionLock[]> {
  const out: VersionLock[] = [];
  for (const v of await keyVersions(client, Bucket, Key)) {
    if (v.marker) continue;
    let h;
    try {
      h = await client.send(new HeadObjectCommand({ Bucket, Key, VersionId: v.versionId }));
    } catch (err) {
      if (httpStatusOf(err) === 404) continue;
      throw mapS3Error(err, 'HeadObject', Key);
    }
    out.push({
      versionId: v.versionId,
      ...(h.ObjectLockMode ? { mode: h.ObjectLockMode as VersionLock['mode'] } : {}),
      ...(h.ObjectLockRetainUntilDate ? { retainUntil: h.ObjectLockRetainUntilDate } : {}),
      legalHold: h.ObjectLockLegalHoldStatus === 'ON',
    });
  }
  return out;
}
