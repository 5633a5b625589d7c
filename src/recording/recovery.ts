/**
 * Startup recovery: a recording still in state 'recording' when the server starts was live when the
 * previous process died (kill -9, OOM, power loss). Its audio is on disk in the per-leg spool,
 * appended every ~450 ms as it arrived, so it is finalized from there: the catalogue row is ended
 * where the spool ends, flagged interrupted, and handed to the post-call jobs like any other call.
 * When the engine's pending marker (spool-pending.json: audio was waiting for a slow disk) reaches
 * past a leg's file, the audio in between died with the process: that span is recorded as damaged
 * and the recording ends at the marker, not silently where the file stops.
 *
 * Runs before the SIP application connects, so no call of this process can be in that state yet.
 * A node sharing this data directory may hold such a call live, though: one in its live-call
 * registry while it heartbeats is left to it (`liveElsewhere`).
 * Then every other spool directory is sorted out (sweepSpools): stored ones wiped, ones with no
 * catalogue row catalogued as interrupted recordings or moved aside, never deleted.
 */
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import {
  readPendingMarker,
  SESSION_FILE,
  summarizeSpoolDir,
  type PendingMarker,
  type SessionFile,
} from '../media/index.js';
import type { RecordingsRepository } from '../store/recordings.js';
import type { StreamRecord } from '../store/types.js';
import type { FinalizeQueuePort } from './types.js';

export interface RecoveryOptions {
  store: Pick<
    RecordingsRepository,
    'listIdsByState' | 'get' | 'markInterrupted' | 'markFailed' | 'create' | 'addEvents'
  >;
  finalize: FinalizeQueuePort;
  dataDir: string;
  log: Logger;
  /** Overwrites and removes a directory of plaintext audio (the pipeline's wipeDir). */
  wipeDir: (dir: string) => Promise<void>;
  /**
   * A spool with no catalogue row whose files changed less than this long ago is left for the
   * next start (it may be a call another node is opening on shared storage). Default 30 s.
   */
  orphanMinAgeMs?: number;
  /**
   * Recording control: true when the recording's audio was not to be kept (an on-demand
   * call never started, a `never` call) and it has been discarded; it is then not finalized.
   */
  discardUnkept?: (recordingId: string) => Promise<boolean>;
  /**
   * The node, other than this one, that holds the recording as a live call and still heartbeats
   * (nodes sharing one data directory), or null. Its call is not touched.
   */
  liveElsewhere?: (recordingId: string) => Promise<string | null>;
}

export interface RecoveryOutcome {
  /** Ended as interrupted and queued for finalizing. */
  recovered: string[];
  /**
   * Left alone: no spool directory here (another node's call, or its spool was removed), or the
   * live call of another node sharing this data directory.
   */
  skipped: string[];
  /** Marked failed (the spool is unreadable). */
  failed: string[];
  /** Spools of recordings already stored (the wipe after storing was interrupted): wiped now. */
  wipedSpools: string[];
  /** Spools with audio but no catalogue row: catalogued as interrupted recordings and queued. */
  adopted: string[];
  /** Spools with no catalogue row and no usable audio: moved to `<dataDir>/spool-orphans/`. */
  movedAside: string[];
}

/** What an interrupted recording's catalogue row says about its media (the counters died with it). */
export interface InterruptedMediaStats {
  interrupted: true;
  legs: {
    legId: string;
    samples: number;
    endMs: number;
    truncatedSpool: boolean;
    /** Audio received but still waiting for the disk when the process died (pending marker). */
    spoolErrors?: number;
    spoolDamagedMs?: number;
    spoolDamagedSpansMs?: [number, number][];
  }[];
}

/**
 * The stats of a spool read back after a crash: what each leg holds and where it ends, and, from the
 * pending marker, the span after a leg's file that was received but never written (damaged).
 */
function interruptedStats(
  summary: Awaited<ReturnType<typeof summarizeSpoolDir>>,
  marker?: PendingMarker,
): InterruptedMediaStats {
  const legs: InterruptedMediaStats['legs'] = summary.legs.map((l) => ({
    legId: l.legId,
    samples: l.samples,
    endMs: (l.endSamples * 1000) / 8000,
    truncatedSpool: l.truncated,
  }));
  for (const [legId, m] of marker?.legs ?? []) {
    let leg = legs.find((l) => l.legId === legId);
    if (!leg) {
      // Its file was never created (the create failed until the crash).
      leg = { legId, samples: 0, endMs: 0, truncatedSpool: false };
      legs.push(leg);
    }
    const toMs = (m.pendingTo * 1000) / 8000;
    if (toMs <= leg.endMs) continue;
    leg.spoolErrors = 1;
    leg.spoolDamagedMs = toMs - leg.endMs;
    leg.spoolDamagedSpansMs = [[leg.endMs, toMs]];
  }
  return { interrupted: true, legs };
}

/** Where the recording ends: its spool's end, or the pending marker's furthest leg when later. */
function endOfStats(stats: InterruptedMediaStats): number {
  return stats.legs.reduce((m, l) => Math.max(m, l.endMs, l.spoolDamagedSpansMs?.[0]?.[1] ?? 0), 0);
}

async function readSessionFile(spoolDir: string): Promise<SessionFile | undefined> {
  try {
    return JSON.parse(await readFile(join(spoolDir, SESSION_FILE), 'utf8')) as SessionFile;
  } catch {
    return undefined;
  }
}

/**
 * A call that ended cleanly (markEnded recorded its end and measured duration) whose process died
 * before the finalize job was queued: it keeps its end and duration, is not flagged interrupted,
 * and is only queued. True when it was such a call.
 */
async function handOverEnded(
  o: RecoveryOptions,
  rec: { id: string; callId: string; endedAt: Date | null; durationMs: number | null },
): Promise<boolean> {
  if (rec.endedAt === null || rec.durationMs === null) return false;
  await o.finalize.enqueueFinalize(rec.id);
  o.log.warn(
    { recordingId: rec.id, callId: rec.callId, durationMs: rec.durationMs },
    'recording ended before the process died, its hand-off not finished: queued for finalizing',
  );
  return true;
}

export async function recoverInterruptedRecordings(o: RecoveryOptions): Promise<RecoveryOutcome> {
  const log = o.log.child({ part: 'recovery' });
  const out: RecoveryOutcome = {
    recovered: [],
    skipped: [],
    failed: [],
    wipedSpools: [],
    adopted: [],
    movedAside: [],
  };
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
    const owner = await o.liveElsewhere?.(id);
    if (owner) {
      log.info(
        { recordingId: id, node: owner },
        'live call of another node on this data directory; not touched',
      );
      out.skipped.push(id);
      continue;
    }
    try {
      if (await o.discardUnkept?.(id)) {
        log.warn(
          { recordingId: id, callId: rec.callId },
          'interrupted call whose audio was not to be kept: discarded',
        );
        out.recovered.push(id);
        continue;
      }
      if (await handOverEnded(o, rec)) {
        out.recovered.push(id);
        continue;
      }
      const summary = await summarizeSpoolDir(spoolDir);
      if (summary.legs.length === 0) throw new Error(`no .spool files in ${spoolDir}`);
      const session = await readSessionFile(spoolDir);
      const t0 = session?.t0 ?? rec.startedAt.getTime();
      const stats = interruptedStats(summary, await readPendingMarker(spoolDir));
      const durationMs = endOfStats(stats);
      await o.store.markInterrupted(id, new Date(t0 + durationMs), durationMs, stats);
      await o.finalize.enqueueFinalize(id);
      const lostMs = stats.legs.reduce((n, l) => n + (l.spoolDamagedMs ?? 0), 0);
      if (lostMs > 0)
        log.error(
          { recordingId: id, callId: rec.callId, lostMs: Math.round(lostMs), legs: stats.legs },
          'interrupted recording: audio still waiting for the disk when the process died is lost (marked damaged)',
        );
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
  await sweepSpools(o, log, out);
  const acted = ids.length + out.wipedSpools.length + out.adopted.length + out.movedAside.length;
  if (acted > 0) log.info({ ...out, found: ids.length }, 'startup recovery done');
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Latest modification time of a directory and the files in it (ms). */
async function lastChange(dir: string): Promise<number> {
  let latest = (await stat(dir)).mtimeMs;
  for (const name of await readdir(dir)) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st) latest = Math.max(latest, st.mtimeMs);
  }
  return latest;
}

/**
 * Every spool directory left after recovery: one whose recording is stored (finalize finished, the
 * wipe did not) is wiped; one with no catalogue row (the row could not be written, or the
 * catalogue was restored from an older backup) is never deleted: with audio it becomes an
 * interrupted recording like any other (catalogued, encrypted, flagged), without it is moved aside.
 * Spools of recordings in any other state belong to the pipeline (or to recovery above).
 */
async function sweepSpools(o: RecoveryOptions, log: Logger, out: RecoveryOutcome): Promise<void> {
  const root = join(o.dataDir, 'spool');
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names.sort()) {
    const dir = join(root, name);
    const isDir = await stat(dir).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir) continue;
    try {
      const rec = UUID.test(name) ? await o.store.get(name) : undefined;
      if (rec) {
        // Stored, or already purged by retention: the spool's plaintext must not outlive it.
        if (rec.state !== 'stored' && rec.state !== 'purged') continue;
        await o.wipeDir(dir);
        log.warn(
          { recordingId: name, spoolDir: dir },
          `spool of an already ${rec.state} recording was left behind (interrupted cleanup): wiped`,
        );
        out.wipedSpools.push(name);
        continue;
      }
      const age = Date.now() - (await lastChange(dir));
      if (age < (o.orphanMinAgeMs ?? 30_000)) {
        log.warn(
          { spoolDir: dir, ageMs: Math.round(age) },
          'spool with no catalogue row changed moments ago: left for the next start',
        );
        continue;
      }
      if (await adoptOrphan(o, name, dir, log)) out.adopted.push(name);
      else {
        await moveAside(o, name, dir, log);
        out.movedAside.push(name);
      }
    } catch (err) {
      log.error({ spoolDir: dir, err }, 'could not sort out a leftover spool directory; left as it is');
    }
  }
}

/**
 * The audio codec names a leg in session.json was opened with ("G729,PCMU"): each payload type is a
 * PayloadKind string (G.711 legs) or a PayloadSpec object (other codecs); events, CN and the static
 * PCMU/PCMA every leg maps are left out unless nothing else is there.
 */
export function codecsOfLeg(payloadTypes: Readonly<Record<string, unknown>> | undefined): string {
  const names: string[] = [];
  const g711: string[] = [];
  for (const v of Object.values(payloadTypes ?? {})) {
    const name =
      typeof v === 'string'
        ? v
        : typeof v === 'object' && v !== null
          ? (v as { codec?: unknown }).codec
          : null;
    if (typeof name !== 'string' || name === 'telephone-event' || name === 'CN') continue;
    const into = typeof v === 'string' ? g711 : names;
    if (!into.includes(name)) into.push(name);
  }
  return (names.length > 0 ? names : g711.slice(0, 1)).join(',');
}

/** Catalogues an orphan spool holding audio as an interrupted recording. False when it holds none. */
async function adoptOrphan(o: RecoveryOptions, id: string, dir: string, log: Logger): Promise<boolean> {
  if (!UUID.test(id)) return false;
  const summary = await summarizeSpoolDir(dir).catch(() => undefined);
  if (!summary || summary.endSamples === 0) return false;
  const session = await readSessionFile(dir);
  const durationMs = (summary.endSamples * 1000) / 8000;
  // Without session.json, the last write (about when the audio ended) dates it.
  const t0 = session?.t0 ?? (await lastChange(dir)) - durationMs;
  const streams: StreamRecord[] = summary.legs.map((l) => {
    const leg = session?.legs?.find((x) => x.legId === l.legId);
    const codec = codecsOfLeg(leg?.payloadTypes) || 'PCMU';
    return { label: l.legId, streamId: null, legId: l.legId, codec, port: leg?.port ?? 0 };
  });
  await o.store.create({
    id,
    sessionId: null,
    callId: `unknown (orphan spool ${id})`,
    srcAddress: 'unknown',
    startedAt: new Date(t0),
    participants: [],
    streams,
    metadataXml: null,
  });
  const stats = { ...interruptedStats(summary), orphanSpool: true as const };
  await o.store.markInterrupted(id, new Date(t0 + durationMs), durationMs, stats);
  await o.store.addEvents(id, [
    {
      at: new Date(),
      type: 'orphan-spool-recovered',
      detail: {
        reason: 'spool found at start with no catalogue row; call metadata unknown',
        spoolDir: dir,
        legs: stats.legs.length,
        durationMs,
      },
    },
  ]);
  await o.finalize.enqueueFinalize(id);
  log.error(
    { recordingId: id, spoolDir: dir, durationMs, legs: stats.legs },
    'spool with no catalogue row holds audio: catalogued as an interrupted recording (call metadata unknown) and queued for finalizing',
  );
  return true;
}

/** Moves an orphan spool without usable audio to `<dataDir>/spool-orphans/` (never deleted). */
async function moveAside(o: RecoveryOptions, name: string, dir: string, log: Logger): Promise<void> {
  const asideRoot = join(o.dataDir, 'spool-orphans');
  await mkdir(asideRoot, { recursive: true, mode: 0o700 });
  let dest = join(asideRoot, name);
  if (
    await stat(dest).then(
      () => true,
      () => false,
    )
  )
    dest = `${dest}.${Date.now()}`;
  await rename(dir, dest);
  log.error(
    { spoolDir: dir, movedTo: dest },
    'spool with no catalogue row and no usable audio: moved aside for an operator to inspect',
  );
}
