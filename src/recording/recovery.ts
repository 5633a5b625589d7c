/**
 * Startup recovery: a recording still in state 'recording' when the server starts was live when the
 * previous process died (kill -9, OOM, power loss). Its audio is on disk in the per-leg spool,
 * appended every ~150 ms as it arrived, so it is finalized from there: the catalogue row is ended
 * where the spool ends, flagged interrupted, and handed to the post-call jobs like any other call.
 *
 * Runs before the SIP application connects, so no call of this process can be in that state yet.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { SESSION_FILE, summarizeSpoolDir, type SessionFile } from '../media/index.js';
import type { RecordingsRepository } from '../store/recordings.js';
import type { FinalizeQueuePort } from './types.js';

export interface RecoveryOptions {
  store: Pick<RecordingsRepository, 'listIdsByState' | 'get' | 'markInterrupted' | 'markFailed'>;
  finalize: FinalizeQueuePort;
  dataDir: string;
  log: Logger;
}

export interface RecoveryOutcome {
  /** Ended as interrupted and queued for finalizing. */
  recovered: string[];
  /** No spool directory here: left alone (another node's live call, or its spool was removed). */
  skipped: string[];
  /** Marked failed (the spool is unreadable). */
  failed: string[];
}

/** What an interrupted recording's catalogue row says about its media (the counters died with it). */
export interface InterruptedMediaStats {
  interrupted: true;
  legs: { legId: string; samples: number; endMs: number; truncatedSpool: boolean }[];
}

async function readSessionFile(spoolDir: string): Promise<SessionFile | undefined> {
  try {
    return JSON.parse(await readFile(join(spoolDir, SESSION_FILE), 'utf8')) as SessionFile;
  } catch {
    return undefined;
  }
}

export async function recoverInterruptedRecordings(o: RecoveryOptions): Promise<RecoveryOutcome> {
  const log = o.log.child({ part: 'recovery' });
  const out: RecoveryOutcome = { recovered: [], skipped: [], failed: [] };
  const ids = await o.store.listIdsByState('recording');
  for (const id of ids) {
    const rec = await o.store.get(id);
    if (!rec || rec.state !== 'recording') continue;
    const spoolDir = join(o.dataDir, 'spool', id);
    const isDir = await stat(spoolDir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) {
      log.warn(
        { recordingId: id, spoolDir },
        'recording left in state recording has no spool here; not touched',
      );
      out.skipped.push(id);
      continue;
    }
    try {
      const summary = await summarizeSpoolDir(spoolDir);
      if (summary.legs.length === 0) throw new Error(`no .spool files in ${spoolDir}`);
      const session = await readSessionFile(spoolDir);
      const t0 = session?.t0 ?? rec.startedAt.getTime();
      const durationMs = (summary.endSamples * 1000) / 8000;
      const stats: InterruptedMediaStats = {
        interrupted: true,
        legs: summary.legs.map((l) => ({
          legId: l.legId,
          samples: l.samples,
          endMs: (l.endSamples * 1000) / 8000,
          truncatedSpool: l.truncated,
        })),
      };
      await o.store.markInterrupted(id, new Date(t0 + durationMs), durationMs, stats);
      await o.finalize.enqueueFinalize(id);
      log.warn(
        { recordingId: id, callId: rec.callId, durationMs, legs: stats.legs },
        'interrupted recording recovered from its spool and queued for finalizing',
      );
      out.recovered.push(id);
    } catch (err) {
      const message = `interrupted recording could not be recovered: ${(err as Error).message}`;
      log.error({ recordingId: id, err }, message);
      await o.store.markFailed(id, message);
      out.failed.push(id);
    }
  }
  if (ids.length > 0) log.info({ ...out, found: ids.length }, 'startup recovery done');
  return out;
}
