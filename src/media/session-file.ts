/**
 * session.json, the metadata the engine writes next to a session's spools (legs, t0, pauses), and
 * what the mix takes from it: the spans during which the whole recording was paused.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ParseError } from '../errors.js';
import type { LegSpec, PayloadKind, PayloadSpec } from './types.js';

/** The spool file of one leg inside a session's spool directory. */
export function spoolFilePath(spoolDir: string, legId: string): string {
  return join(spoolDir, `${legId}.spool`);
}

/** The metadata file written next to the spools when a session opens. */
export const SESSION_FILE = 'session.json';

/** Contents of `<spoolDir>/session.json`. */
export interface SessionFile {
  version: 1;
  recordingId: string;
  /** Epoch ms of the session's t0: spool offsets count 8 kHz samples from here. */
  t0: number;
  sampleRate: 8000;
  legs: {
    legId: string;
    port: number;
    /** What each payload type meant (never any SRTP parameter: keys stay out of session.json). */
    payloadTypes: Record<string, PayloadKind | PayloadSpec>;
    spool: string;
    /** Samples since t0 when the leg was added by a re-INVITE (absent: from the start). */
    addedAt?: number;
    /** Samples since t0 when the leg was removed by a re-INVITE (absent: to the end). */
    removedAt?: number;
  }[];
  /** Paused intervals of each leg in samples since t0 (`to` null: paused until the end). */
  pauses?: { legId: string; from: number; to: number | null }[];
}

/** A time later than any recording's end (samples), for intervals open to the end. */
export const OPEN_END = 2 ** 48;

/**
 * The timeline intervals `[from, to)` (samples since t0) during which the whole recording was
 * paused: every leg that existed then was paused (a SIPREC pause, or every stream re-offered
 * a=inactive). A leg alone on hold does not count: the other party is still recorded. Sorted,
 * merged; an interval still open at the end runs to 2^48. Pure; used for the pause "cut" mode.
 */
export function pausedSpans(meta: Pick<SessionFile, 'legs' | 'pauses'>): [number, number][] {
  const pauses = meta.pauses ?? [];
  const legs = meta.legs ?? [];
  const points = new Set<number>([0]);
  for (const l of legs) {
    if (l.addedAt !== undefined) points.add(l.addedAt);
    if (l.removedAt !== undefined) points.add(l.removedAt);
  }
  for (const p of pauses) {
    points.add(p.from);
    if (p.to !== null) points.add(p.to);
  }
  const sorted = [...points].sort((a, b) => a - b);
  const out: [number, number][] = [];
  sorted.forEach((t, i) => {
    const live = legs.filter((l) => (l.addedAt ?? 0) <= t && t < (l.removedAt ?? OPEN_END));
    const allPaused =
      live.length > 0 &&
      live.every((l) => pauses.some((p) => p.legId === l.legId && p.from <= t && t < (p.to ?? OPEN_END)));
    if (!allPaused) return;
    const end = sorted[i + 1] ?? OPEN_END;
    const last = out[out.length - 1];
    if (last && last[1] === t) last[1] = end;
    else out.push([t, end]);
  });
  return out;
}

/** `pausedSpans` of a spool directory's session.json (none when it has no session file). */
export async function readPausedSpans(spoolDir: string): Promise<[number, number][]> {
  let meta: SessionFile;
  try {
    meta = JSON.parse(await readFile(join(spoolDir, SESSION_FILE), 'utf8')) as SessionFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ParseError(`cannot read ${join(spoolDir, SESSION_FILE)}: ${(err as Error).message}`);
  }
  return pausedSpans(meta);
}

/** A leg's entry in session.json. */
export function legEntry(l: LegSpec): SessionFile['legs'][number] {
  // Deliberately field by field: l.srtp (the key) must never reach session.json.
  return { legId: l.legId, port: l.port, payloadTypes: { ...l.payloadTypes }, spool: `${l.legId}.spool` };
}

/** session.json's text for `meta`. */
export function sessionFileText(meta: SessionFile): string {
  return `${JSON.stringify(meta, null, 2)}\n`;
}
