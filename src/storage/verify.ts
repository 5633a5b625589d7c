import { InvalidKeyError, ObjectNotFoundError, StorageError } from './errors.js';
import { sha256Of } from './index.js';
import { keyOfPath, readError } from './read.js';
import type { ArtifactStore } from './types.js';

/**
 * A stored file read back and hashed against the SHA-256 the catalogue holds for it: what `srs
 * recordings verify` and the API's integrity check (GET /recordings/{id}/integrity) share. Nothing
 * is decrypted. The catalogue is the caller's: it gives the file's row and a lookup by hash.
 */

/** The catalogue's row of a stored file, as far as the check reads it (src/store/chain.ts CatalogueFile). */
export interface CataloguedFile {
  kind: string;
  path: string;
  sha256Cipher: string;
}

/** Which recording's catalogued ciphertext has this hash (to name a substituted file). */
export interface CipherHashLookup {
  fileByCipherHash(sha256: string): Promise<{ recordingId: string; kind: string } | undefined>;
}

/**
 * A stored file read back: its ciphertext SHA-256 equal to the catalogue's, or the finding
 * (`detail` as the CLI prints it, naming the path and any other recording the file belongs to).
 */
export type FileFinding =
  | { ok: true; sha256: string; bytes: number }
  | { ok: false; code: 'MISSING'; detail: string; unreadable?: string }
  | { ok: false; code: 'CHANGED'; detail: string; sha256: string }
  | {
      ok: false;
      code: 'SUBSTITUTED';
      detail: string;
      sha256: string;
      other: { recordingId: string; kind: string };
    };

/**
 * Streams one catalogued file from the store through SHA-256 (never whole in memory) and compares
 * it with `sha256_cipher`; a hash that is another catalogued file's names that file. A store that
 * fails (down, refused credentials) throws its StorageError: that is no finding about the file.
 */
export async function checkStoredFile(
  chain: CipherHashLookup,
  store: ArtifactStore,
  f: CataloguedFile,
): Promise<FileFinding> {
  let got: { sha256: string; size: number };
  try {
    got = await sha256Of(store, keyOfPath(store, f.path));
  } catch (err) {
    const e = readError(err, f.path);
    const missing = e instanceof ObjectNotFoundError || e instanceof InvalidKeyError;
    if (e instanceof StorageError && !missing) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const unreadable = missing ? undefined : (code ?? (e as Error).message);
    const why = unreadable === undefined ? 'is missing' : `cannot be read (${unreadable})`;
    return {
      ok: false,
      code: 'MISSING',
      detail: `${f.kind} file ${f.path} ${why}`,
      ...(unreadable ? { unreadable } : {}),
    };
  }
  if (got.sha256 === f.sha256Cipher) return { ok: true, sha256: got.sha256, bytes: got.size };
  const other = await chain.fileByCipherHash(got.sha256);
  if (other)
    return {
      ok: false,
      code: 'SUBSTITUTED',
      detail: `${f.kind} file ${f.path} holds the ${other.kind} of recording ${other.recordingId}`,
      sha256: got.sha256,
      other,
    };
  return {
    ok: false,
    code: 'CHANGED',
    detail: `${f.kind} file ${f.path}: SHA-256 ${got.sha256} does not match the catalogue's ${f.sha256Cipher}`,
    sha256: got.sha256,
  };
}
