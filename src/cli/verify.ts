import { InvalidStateError, NotFoundError, SrsError } from '../errors.js';
import {
  InvalidKeyError,
  LocalArtifactStore,
  ObjectNotFoundError,
  sha256Of,
  StorageError,
  type ArtifactStore,
} from '../storage/index.js';
import { keyOfPath, readError } from '../storage/read.js';
import type { Database } from '../store/db.js';

/**
 * `srs recordings verify`: the stored files read back from the artifact store and hashed, and the
 * day hash chains. Findings are reported; what stops the run (an unknown or unstored recording, a
 * store that fails) is thrown, which the CLI turns into exit code 1.
 */

export interface VerifyProblem {
  code: 'MISSING' | 'CHANGED' | 'SUBSTITUTED' | 'CHAIN';
  recordingId: string | null;
  detail: string;
}

export interface VerifyReport {
  recordings: number;
  files: number;
  chainDays: number;
  chainEntries: number;
  problems: VerifyProblem[];
}

/**
 * The work of `srs recordings verify`: every file read back from the artifact store and hashed
 * (its SHA-256 against the catalogue's), then the day chains. `store`: the artifact store, or
 * a data directory (its `local` store). A store that fails (down, refused credentials) stops the
 * run (exit 1): nothing could be checked, which is not a finding.
 */
export async function verifyRecordings(
  db: Database,
  store: ArtifactStore | string,
  id?: string,
): Promise<VerifyReport> {
  const artifacts = typeof store === 'string' ? new LocalArtifactStore(store) : store;
  const problems: VerifyProblem[] = [];
  let files = 0;
  const recs = new Set<string>();
  const check = async (f: Awaited<ReturnType<Database['chain']['files']>>[number]) => {
    files++;
    recs.add(f.recordingId);
    let h: string;
    try {
      ({ sha256: h } = await sha256Of(artifacts, keyOfPath(artifacts, f.path)));
    } catch (err) {
      const e = readError(err, f.path);
      const missing = e instanceof ObjectNotFoundError || e instanceof InvalidKeyError;
      // The store itself failing (down, credentials) is not a finding about this file.
      if (e instanceof StorageError && !missing)
        throw new SrsError(
          'ERR_VERIFY_STORE',
          `the artifact store ${artifacts.location} ${e.retryable ? 'is unavailable' : 'cannot be read'}, nothing more can be verified: ${e.message}`,
        );
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({
        code: 'MISSING',
        recordingId: f.recordingId,
        detail: `${f.kind} file ${f.path} ${missing ? 'is missing' : `cannot be read (${code ?? (e as Error).message})`}`,
      });
      return;
    }
    if (h === f.sha256Cipher) return;
    const other = await db.chain.fileByCipherHash(h);
    if (other)
      problems.push({
        code: 'SUBSTITUTED',
        recordingId: f.recordingId,
        detail: `${f.kind} file ${f.path} holds the ${other.kind} of recording ${other.recordingId}`,
      });
    else
      problems.push({
        code: 'CHANGED',
        recordingId: f.recordingId,
        detail: `${f.kind} file ${f.path}: SHA-256 ${h} does not match the catalogue's ${f.sha256Cipher}`,
      });
  };
  if (id) {
    const rec = await db.recordings.get(id);
    if (!rec) throw new NotFoundError(`recording ${id} not found`);
    if (rec.state !== 'stored')
      throw new InvalidStateError(`recording ${id} is not stored (state: ${rec.state})`);
    for (const f of await db.chain.files(id)) await check(f);
  } else {
    let after: string | undefined;
    for (;;) {
      const page = await db.chain.files(undefined, after, 500);
      if (page.length === 0) break;
      for (const f of page) await check(f);
      after = page[page.length - 1]?.recordingId;
    }
  }
  const day = id ? await db.chain.dayOf(id) : undefined;
  const chain = await db.chain.verifyChain(day ? [day] : undefined);
  for (const p of chain.problems)
    problems.push({
      code: 'CHAIN',
      recordingId: p.recordingId,
      detail: `${p.day}${p.seq === null ? '' : ` #${p.seq}`}: ${p.problem}`,
    });
  return { recordings: recs.size, files, chainDays: chain.days, chainEntries: chain.entries, problems };
}
