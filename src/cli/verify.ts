import { InvalidStateError, NotFoundError, SrsError } from '../errors.js';
import { LocalArtifactStore, StorageError, type ArtifactStore } from '../storage/index.js';
import type { Database } from '../store/db.js';
import { checkStoredFile } from '../storage/verify.js';

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
    let found: Awaited<ReturnType<typeof checkStoredFile>>;
    try {
      found = await checkStoredFile(db.chain, artifacts, f);
    } catch (e) {
      // The store itself failing (down, credentials) is not a finding about this file.
      if (e instanceof StorageError)
        throw new SrsError(
          'ERR_VERIFY_STORE',
          `the artifact store ${artifacts.location} ${e.retryable ? 'is unavailable' : 'cannot be read'}, nothing more can be verified: ${e.message}`,
        );
      throw e;
    }
    if (!found.ok) problems.push({ code: found.code, recordingId: f.recordingId, detail: found.detail });
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
