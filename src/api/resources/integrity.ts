import { verifyRecordingIntegrity } from '../../store/verify-recording.js';
import { HttpError, sendJson } from '../http.js';
import { describe, recordingRoute, type Kit } from '../kit.js';
import type { RouteDef } from '../table.js';

/**
 * "Is this recording intact?" (GET /recordings/{id}/integrity): for whoever may see the recording
 * (404 otherwise), the checks of `srs recordings verify <id>` on that one recording, each named with
 * its outcome (src/store/verify-recording.ts): its chain entry against the catalogue, the entry's
 * links and anchors in the audit trail, its day's chain, each file's ciphertext streamed from the
 * artifact store and hashed. Nothing is decrypted. Every check is audited (`integrity.check`).
 */

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
