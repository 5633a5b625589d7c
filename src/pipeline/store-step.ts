import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import type { Logger } from '../log.js';
import type { ArtifactStore, LockMode } from '../storage/index.js';
import type { RecordingFile } from '../store/types.js';
import { encryptToBuffer, encryptToFile, type EncryptResult, type Plaintext } from './pgp.js';

/**
 * The store step of finalize with an object store (`s3`): each artifact is encrypted (into memory,
 * or for a very long recording into a file in its spool), then `put` with its ciphertext SHA-256
 * (multipart for a long one inside `put`), its Object Lock retention, and metadata naming the
 * recording, the kind, the plaintext SHA-256 and the key. `put` returns only once the store
 * confirms the object; the catalogue is committed after every artifact is in.
 *
 * A retry (a crash or an error between an upload and the commit) first looks for each key: an
 * object this recording's job wrote (its metadata) is taken as is, with the hashes and key its
 * metadata gives, instead of encrypting again (a new encryption has a new session key, so other
 * bytes: the store would refuse them as other content under the same key). So there is one object
 * per artifact whatever the number of attempts.
 *
 * With the `local` backend none of this runs: finalize encrypts straight to the final file name,
 * as it always has.
 */

/** User metadata keys of a stored artifact (S3: `x-amz-meta-<key>`). */
export const ARTIFACT_META = {
  plain: 'sha256-plain',
  key: 'key-fingerprint',
  recording: 'recording-id',
  kind: 'kind',
} as const;

/** The metadata stored with an artifact (the pipeline's uploads and `srs storage migrate`). */
export function artifactMetadata(recordingId: string, f: RecordingFile): Record<string, string> {
  return {
    [ARTIFACT_META.plain]: f.sha256Plain,
    [ARTIFACT_META.key]: f.keyFingerprint,
    [ARTIFACT_META.recording]: recordingId,
    [ARTIFACT_META.kind]: f.kind,
  };
}

/** An Object Lock retention for one object. */
export interface ObjectRetention {
  mode: LockMode;
  until: Date;
}

/**
 * The artifact of `kind` a previous attempt of this recording's job put in the store, as its
 * catalogue entry, or undefined (none: it is to be made). An object of this recording that lacks
 * the retention asked for (a crash between a multipart upload and its PutObjectRetention) is not
 * under any lock, so it is removed and made again, locked.
 */
export async function storedArtifact(
  store: ArtifactStore,
  recordingId: string,
  kind: RecordingFile['kind'],
  key: string,
  lock: ObjectRetention | undefined,
  log: Logger,
): Promise<RecordingFile | undefined> {
  const o = await store.head(key);
  if (!o) return undefined;
  const m = o.metadata ?? {};
  const plain = m[ARTIFACT_META.plain];
  const fingerprint = m[ARTIFACT_META.key];
  if (m[ARTIFACT_META.recording] !== recordingId || m[ARTIFACT_META.kind] !== kind || !o.sha256) {
    // Not this job's: left alone; the put below refuses to replace it (ObjectExistsError).
    log.warn({ key }, 'the store holds an object under this artifact key that this recording did not write');
    return undefined;
  }
  if (lock && !o.lockMode) {
    log.warn({ key }, 'artifact uploaded by an earlier attempt without its Object Lock: uploading it again');
    await store.delete(key);
    return undefined;
  }
  if (!plain || !fingerprint) return undefined;
  return {
    kind,
    path: key,
    bytes: o.size,
    sha256Plain: plain,
    sha256Cipher: o.sha256,
    keyFingerprint: fingerprint,
  };
}

/** Encrypts one artifact and puts it in the store; resolves once the store has confirmed it. */
export async function putArtifact(o: {
  store: ArtifactStore;
  recordingId: string;
  kind: RecordingFile['kind'];
  key: string;
  plain: Plaintext;
  /** The literal packet's file name. */
  name: string;
  publicKey: openpgp.PublicKey;
  fingerprint: string;
  lock: ObjectRetention | undefined;
  /** Where a plaintext file's ciphertext is written before the upload (the recording's spool). */
  tempDir: string;
}): Promise<RecordingFile> {
  const retention = o.lock ? { retention: { mode: o.lock.mode, until: o.lock.until } } : {};
  /** Puts the ciphertext (in memory or a file) with its hash, size, metadata and lock. */
  const put = async (r: EncryptResult, body: Buffer | { path: string }): Promise<RecordingFile> => {
    const file: RecordingFile = {
      kind: o.kind,
      path: o.key,
      bytes: r.bytes,
      sha256Plain: r.sha256Plain,
      sha256Cipher: r.sha256Cipher,
      keyFingerprint: o.fingerprint,
    };
    await o.store.put(o.key, body, {
      sha256: r.sha256Cipher,
      size: r.bytes,
      metadata: artifactMetadata(o.recordingId, file),
      ...retention,
    });
    return file;
  };
  if (Buffer.isBuffer(o.plain)) {
    const r = await encryptToBuffer(o.plain, o.publicKey, o.name);
    return put(r, r.cipher);
  }
  // A long recording mixed into a file: its ciphertext goes through a file too (no 2 x 4 GiB in memory).
  const tmp = join(o.tempDir, `${o.kind}.upload.gpg`);
  try {
    return await put(await encryptToFile(o.plain, tmp, o.publicKey, o.name, { syncDir: false }), {
      path: tmp,
    });
  } finally {
    await rm(tmp, { force: true });
  }
}
