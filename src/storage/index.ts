import { createHash } from 'node:crypto';
import type { StorageConfig } from '../config/storage.js';
import { LocalArtifactStore } from './local.js';
import { S3ArtifactStore } from './s3.js';
import type { ArtifactStore } from './types.js';

/** The artifact store: one interface, `local` (default) or `s3`. */

export * from './errors.js';
export type * from './types.js';
export { LocalArtifactStore } from './local.js';
export { S3ArtifactStore } from './s3.js';
export type { StorageConfig, S3StorageConfig } from '../config/storage.js';

/** The store the configuration names; `local` keeps artifacts under the data directory. */
export function createArtifactStore(storage: StorageConfig, dataDir: string): ArtifactStore {
  return storage.backend === 's3' ? new S3ArtifactStore(storage) : new LocalArtifactStore(dataDir);
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

/** The first of these objects still under an Object Lock retention, if any (retention, deletion). */
export async function lockedObject(
  store: ArtifactStore,
  keys: readonly string[],
): Promise<{ key: string; mode: string | undefined; retainUntil: Date | undefined } | undefined> {
  for (const key of keys) {
    const o = await store.head(key);
    if (o?.retainUntil && o.retainUntil.getTime() > Date.now())
      return { key, mode: o.lockMode, retainUntil: o.retainUntil };
  }
  return undefined;
}
