import { createHash } from 'node:crypto';
import type { StorageConfig } from '../config/storage.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import { LocalArtifactStore } from './local.js';
import { S3ArtifactStore } from './s3.js';
import { ObjectLockedError } from './errors.js';
import type { ArtifactStore, VersionLock } from './types.js';

/** The artifact store: one interface, `local` (default) or `s3`. */

export * from './errors.js';
export type * from './types.js';
export { LocalArtifactStore } from './local.js';
export { S3ArtifactStore } from './s3.js';
export type { StorageConfig, S3StorageConfig } from '../config/storage.js';

/**
 * The store the configuration names; `local` keeps artifacts under the data directory. `tls`: the
 * TLS policy of an https S3 endpoint (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS; default: their defaults).
 */
export function createArtifactStore(storage: StorageConfig, dataDir: string, tls?: TlsPolicy): ArtifactStore {
  return storage.backend === 's3'
    ? new S3ArtifactStore({ ...storage, tlsPolicy: tls })
    : new LocalArtifactStore(dataDir);
}

/** Reads an object back and hashes it (verify, migration). */
export async function sha256Of(store: ArtifactStore, key: string): Promise<{ sha256: string; size: number }> {
  const { body } = await store.get(key);
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** What holds an object against deletion: an unexpired Object Lock retention, a legal hold, or both. */
export interface ObjectHold {
  key: string;
  mode: string | undefined;
  retainUntil: Date | undefined;
  legalHold: boolean;
}

/**
 * The first of these objects that the store would refuse to delete, if any (retention, deletion):
 * any version under an unexpired Object Lock retention (the latest end of them) or under a legal
 * hold. A versioned bucket keeps older versions, and deleting an object deletes them all, so the
 * latest version alone does not say whether the deletion can succeed. A store without `locks`
 * (local) holds nothing.
 */
export async function lockedObject(
  store: ArtifactStore,
  keys: readonly string[],
): Promise<ObjectHold | undefined> {
  for (const key of keys) {
    const versions = store.locks ? await store.locks(key) : await headLock(store, key);
    let hold: ObjectHold | undefined;
    for (const v of versions) {
      const retained = v.retainUntil && v.retainUntil.getTime() > Date.now() ? v.retainUntil : undefined;
      if (!retained && !v.legalHold) continue;
      hold ??= { key, mode: undefined, retainUntil: undefined, legalHold: false };
      if (v.legalHold) hold.legalHold = true;
      if (retained && (!hold.retainUntil || retained > hold.retainUntil)) {
        hold.retainUntil = retained;
        hold.mode = v.mode;
      }
    }
    if (hold) return hold;
  }
  return undefined;
}

/** The latest version's lock, for a store that cannot list versions. */
async function headLock(store: ArtifactStore, key: string): Promise<VersionLock[]> {
  const o = await store.head(key);
  if (!o) return [];
  return [
    {
      versionId: o.versionId ?? 'null',
      ...(o.lockMode ? { mode: o.lockMode } : {}),
      ...(o.retainUntil ? { retainUntil: o.retainUntil } : {}),
      legalHold: false,
    },
  ];
}

/** Why the store refused a removal, as pending_deletions records it (src/store/pending-deletions.ts). */
export function refusalOf(err: unknown): {
  reason: 'object-lock' | 'legal-hold' | 'error';
  retainUntil: Date | undefined;
  error: string;
} {
  const error = err instanceof Error ? err.message : String(err);
  if (err instanceof ObjectLockedError) {
    const retained = err.retainUntil && err.retainUntil.getTime() > Date.now();
    if (err.legalHold && !retained) return { reason: 'legal-hold', retainUntil: undefined, error };
    return { reason: 'object-lock', retainUntil: err.retainUntil, error };
  }
  return { reason: 'error', retainUntil: undefined, error };
}
