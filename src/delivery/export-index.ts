import type { ExportDestination, OffloadRepository } from '../store/offload.js';
import { indexCsv, indexLines } from './csv.js';
import type { ExportTarget } from './export-targets.js';

/**
 * The day's CSV index of an export destination (`YYYY/MM/DD/index.csv`): the files a pass placed,
 * waiting for their day's rows, and the one write per day per pass that adds those rows (an append
 * when the index is as the last pass left it, else the whole index again from the catalogue).
 */

/** `YYYY-MM-DD` (UTC) of the start and its `YYYY/MM/DD` folder. */
export function dayOf(d: Date): { day: string; dir: string } {
  const day = d.toISOString().slice(0, 10);
  return { day, dir: day.replaceAll('-', '/') };
}

/** A file placed at the destination in this pass, waiting for its day's index. */
export interface Placed {
  id: string;
  dir: string;
  attempts: number;
  row: Record<string, string>;
  bytes: number;
  sha256: string;
}

/**
 * Adds the pass's rows to the day's index: appended when the file is as the last pass left it
 * (its size, recorded after its rows counted as done); else (the day's first pass, a crash
 * between the write and that record, a file changed or removed at the destination, or on S3
 * an index under 5 MiB: S3 appends by a server-side copy, src/storage/s3-append.ts) the whole
 * index is written again from the catalogue with them. One
 * write per day per pass, of the new rows only: rewriting the whole index after every file
 * made a busy day's export slower with every recording (6 a second with 20,000 rows there).
 * Returns the index's size.
 */
export async function writeDayIndex(
  repo: OffloadRepository,
  target: ExportTarget,
  dest: ExportDestination,
  day: string,
  items: readonly Placed[],
): Promise<number> {
  const rel = `${(items[0] as Placed).dir}/index.csv`;
  const known = await repo.exportIndexBytes(dest, day);
  if (target.append && known !== undefined && (await target.size(rel)) === known) {
    const lines = Buffer.from(indexLines(items.map((i) => i.row)), 'utf8');
    await target.append(rel, lines, known);
    return known + lines.length;
  }
  const ids = new Set(items.map((i) => i.id));
  const earlier = (await repo.exportIndex(dest, day)).filter((r) => !ids.has(r['Recording ID'] ?? ''));
  const whole = Buffer.from(indexCsv([...earlier, ...items.map((i) => i.row)]), 'utf8');
  await target.replace(rel, whole);
  return whole.length;
}
