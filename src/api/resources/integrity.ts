import { StorageError, type ArtifactStore } from '../../storage/index.js';
import { checkStoredFile, type FileFinding } from '../../storage/verify.js';
import type { CatalogueFile } from '../../store/chain.js';
import { chainIntegrity, type IntegrityCheck } from '../../store/chain-integrity.js';
import type { Database } from '../../store/db.js';
import { HttpError, sendJson } from '../http.js';
import { describe, recordingRoute, type Kit } from '../kit.js';
import type { RouteDef } from '../table.js';

/**
 * "Is this recording intact?" (GET /recordings/{id}/integrity): for whoever may see the recording
 * (404 otherwise), the checks of `srs recordings verify <id>` on that one recording, each named with
 * its outcome: its chain entry against the catalogue, the entry's links and anchors in the audit
 * trail, its day's chain (src/store/chain-integrity.ts), each file's ciphertext streamed from the
 * artifact store and hashed (src/storage/verify.ts, shared with `srs recordings verify`). Nothing is
 * decrypted. Every check is audited (`integrity.check`).
 */

/** The reply's checks (the console reads these types). */
export type { IntegrityCheck };

export interface IntegrityReport {
  recordingId: string;
  checkedAt: string;
  /** Every check made and passed (none left unmade). */
  intact: boolean;
  checks: IntegrityCheck[];
  /** What this check does not cover, and where it is covered. */
  notChecked: { name: string; detail: string }[];
}

export const NOT_CHECKED: IntegrityReport['notChecked'] = [
  {
    name: 'plaintext',
    detail:
      'the audio is not decrypted: its plaintext SHA-256 (sha256_plain) is checked as catalogued, through the chain entry, not recomputed',
  },
  {
    name: 'audit-trail',
    detail: "the audit trail's own hash chain, which holds the anchors: GET /api/v1/audit/verify (admins)",
  },
];

/**
 * A file's outcome as the API words it: neither the store's location nor another recording (one
 * the caller may not see) is named; `srs recordings verify` names them.
 */
function fileOutcome(f: CatalogueFile, r: FileFinding): Pick<IntegrityCheck, 'ok' | 'detail'> {
  const what = `the ${f.kind} file`;
  if (r.ok)
    return {
      ok: true,
      detail: `${what}: ${r.bytes} bytes read back from the artifact store, SHA-256 ${r.sha256} as catalogued`,
    };
  if (r.code === 'MISSING')
    return {
      ok: false,
      detail: `MISSING: ${what} ${r.unreadable === undefined ? 'is missing from the artifact store' : `cannot be read (${r.unreadable})`}`,
    };
  if (r.code === 'SUBSTITUTED')
    return {
      ok: false,
      detail: `SUBSTITUTED: ${what} is another recording's catalogued ${r.other.kind} file (srs recordings verify names it)`,
    };
  return {
    ok: false,
    detail: `CHANGED: ${what}'s SHA-256 ${r.sha256} does not match the catalogue's ${f.sha256Cipher}`,
  };
}

/**
 * Checks one stored recording: its chain entry against the catalogue, the entry's links and
 * anchors, its day's chain as verify checks it, then each file's ciphertext streamed from the
 * store. A store that cannot be read leaves the file checks unmade (`ok: null`), not failed.
 */
export async function verifyRecordingIntegrity(
  db: Pick<Database, 'pool' | 'chain'>,
  store: ArtifactStore,
  id: string,
): Promise<IntegrityReport> {
  const checks = await chainIntegrity(db, id);
  let unavailable: string | undefined;
  for (const f of await db.chain.files(id)) {
    const file = { name: 'file', kind: f.kind } as const;
    if (unavailable) {
      checks.push({ ...file, ok: null, detail: unavailable });
      continue;
    }
    try {
      checks.push({ ...file, ...fileOutcome(f, await checkStoredFile(db.chain, store, f)) });
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      unavailable = `not checked: the artifact store ${err.retryable ? 'is unavailable' : 'cannot be read'} (${err.name})`;
      checks.push({ ...file, ok: null, detail: unavailable });
    }
  }
  return {
    recordingId: id,
    checkedAt: new Date().toISOString(),
    intact: checks.every((x) => x.ok === true),
    checks,
    notChecked: NOT_CHECKED,
  };
}

export function integrityRoutes(k: Kit): RouteDef[] {
  const { d } = k;
  const db = d.db;
  const onRecording = recordingRoute(k);
  return [
    onRecording(
      'GET',
      '/recordings/:id/integrity',
      "Checks that a stored recording is intact, as `srs recordings verify <id>` does: its chain entry holds what the catalogue says now, the entry's hash and its link to the previous entry recomputed, its anchors in the audit trail, its day's chain, and each file's ciphertext read back from the artifact store (streamed) against its catalogued SHA-256. Nothing is decrypted. Reply {recordingId, checkedAt, intact, checks: [{name, kind?, ok (null: not checked), detail}], notChecked}. 409 when not stored, 410 when deleted. Audited as integrity.check.",
      async (ctx, rec) => {
        if ((rec.state as string) === 'purged') throw new HttpError(410, `recording ${rec.id} was deleted`);
        if (rec.state !== 'stored')
          throw new HttpError(409, `recording ${rec.id} is not stored yet (state: ${rec.state})`);
        const report = await verifyRecordingIntegrity(
          { pool: db.pool, chain: db.chain },
          d.artifacts.store,
          rec.id,
        );
        const named = (ok: boolean | null) =>
          report.checks.filter((c) => c.ok === ok).map((c) => (c.kind ? `file.${c.kind}` : c.name));
        await k.audit(ctx, 'integrity.check', 'recording', rec.id, {
          intact: report.intact,
          failed: named(false),
          notChecked: named(null),
          ...describe(rec),
        });
        sendJson(ctx.res, 200, report);
      },
    ),
  ];
}
