/**
 * Reading spool files from TypeScript (the native engine writes them; see native/src/spool.h for the
 * format). Used by startup recovery to learn how much audio an interrupted recording holds, by the
 * engine's live chunks and the listen-in spool tail (scanSpoolRecords), and by the reference
 * implementation's tests.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SPOOL_MAGIC = 'SRSPOOL1';
export const SPOOL_HEADER_SIZE = 16;
export const SPOOL_RECORD_HEADER_SIZE = 6;

export interface SpoolRecord {
  /** Sample offset (8 kHz) from the session's t0. */
  offset: number;
  /** The u-law bytes (a view into the file contents). */
  data: Uint8Array;
}

export interface ParsedSpool {
  records: SpoolRecord[];
  /** A trailing partial record (the process died mid-write) was ignored. */
  truncated: boolean;
}

/**
 * The one reader of spool records (a record: u32 LE sample offset from t0, u16 LE byte count, that
 * many u-law bytes), for whole files, tailed files and the engine's live chunks alike. Calls
 * `onRecord` for each complete record of `buf` from byte `from` on, and returns where the first
 * incomplete record starts (`buf.length` when there is none): a tail keeps those bytes for later.
 */
export function scanSpoolRecords(
  buf: Uint8Array,
  from: number,
  onRecord: (offset: number, data: Uint8Array) => void,
): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = from;
  while (pos + SPOOL_RECORD_HEADER_SIZE <= buf.length) {
    const count = view.getUint16(pos + 4, true);
    const start = pos + SPOOL_RECORD_HEADER_SIZE;
    if (start + count > buf.length) break;
    onRecord(view.getUint32(pos, true), buf.subarray(start, start + count));
    pos = start + count;
  }
  return pos;
}

/** Parses one spool file's contents. Throws on a bad header; a partial last record is ignored. */
export function parseSpool(buf: Uint8Array): ParsedSpool {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < SPOOL_HEADER_SIZE || Buffer.from(buf.subarray(0, 8)).toString('latin1') !== SPOOL_MAGIC) {
    throw new Error('not a spool file (bad or missing SRSPOOL1 header)');
  }
  if (view.getUint32(8, true) !== 8000) throw new Error('unsupported spool sample rate');
  const records: SpoolRecord[] = [];
  const end = scanSpoolRecords(buf, SPOOL_HEADER_SIZE, (offset, data) => {
    if (data.length > 0) records.push({ offset, data });
  });
  return { records, truncated: end < buf.length };
}

export interface SpoolLegSummary {
  legId: string;
  /** Samples of audio held (silence gaps excluded). */
  samples: number;
  /** Sample offset just after the last audio of this leg (0 when it holds none). */
  endSamples: number;
  records: number;
  truncated: boolean;
}

export interface SpoolDirSummary {
  legs: SpoolLegSummary[];
  /** End of the latest audio of any leg, in samples from t0: the length of the mix. */
  endSamples: number;
}

/** Summarizes every `<legId>.spool` of a spool directory (reads whole files; fine for recovery). */
export async function summarizeSpoolDir(spoolDir: string): Promise<SpoolDirSummary> {
  const names = (await readdir(spoolDir)).filter((n) => n.endsWith('.spool')).sort();
  const legs: SpoolLegSummary[] = [];
  for (const name of names) {
    const parsed = parseSpool(await readFile(join(spoolDir, name)));
    let samples = 0;
    let end = 0;
    for (const r of parsed.records) {
      samples += r.data.length;
      end = Math.max(end, r.offset + r.data.length);
    }
    legs.push({
      legId: name.slice(0, -'.spool'.length),
      samples,
      endSamples: end,
      records: parsed.records.length,
      truncated: parsed.truncated,
    });
  }
  return { legs, endSamples: legs.reduce((m, l) => Math.max(m, l.endSamples), 0) };
}

/**
 * The engine's marker (native/src/engine.h), written in a spool directory while more than a second
 * of its audio waited in the spool writer's queue (a slow or stalled disk): per leg, up to where
 * audio had been handed to the writer (`pendingTo`) and where the writes had got to (`writtenTo`),
 * in samples from t0.
 */
export const PENDING_MARKER_FILE = 'spool-pending.json';

export interface PendingMarker {
  /** When it was written (epoch ms). */
  atMs: number;
  legs: Map<string, { writtenTo: number; pendingTo: number }>;
}

/** The spool directory's pending marker, or undefined when there is none (or it is unreadable). */
export async function readPendingMarker(spoolDir: string): Promise<PendingMarker | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(spoolDir, PENDING_MARKER_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const o = parsed as { atMs?: unknown; legs?: Record<string, { writtenTo?: unknown; pendingTo?: unknown }> };
  if (typeof o !== 'object' || o === null || typeof o.legs !== 'object' || o.legs === null) return undefined;
  const legs = new Map<string, { writtenTo: number; pendingTo: number }>();
  for (const [legId, l] of Object.entries(o.legs)) {
    if (typeof l?.pendingTo !== 'number' || !Number.isFinite(l.pendingTo)) continue;
    legs.set(legId, {
      pendingTo: l.pendingTo,
      writtenTo: typeof l.writtenTo === 'number' ? l.writtenTo : 0,
    });
  }
  return { atMs: typeof o.atMs === 'number' ? o.atMs : 0, legs };
}
