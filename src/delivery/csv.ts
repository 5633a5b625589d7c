import type { DeliveryRecording } from '../store/offload.js';
import { CSV_BOM, csvCell, csvLine } from '../csv.js';
import { callFacts, hms } from './facts.js';

/**
 * The carrier archive format for voice offload (reference seeds 000 and 001, "Digital Safe File
 * Formats"). Pure functions: the batch's CSV is rendered once, when the batch is cut, and stored,
 * so a resumed transfer sends the same bytes.
 *
 *   monitored_call_archive_audio_YYYYMMDD_HHMMSS__<uuid>.csv
 *   #COUNT:<n>
 *   "SID","Name",...,"SMS Unique ID"          (the quoted header line)
 *   "",...,"r_<uuid>.wav",...                 (one row per recording; Body = media file name)
 *
 * Every field is quoted (as in the document's samples). "All phone numbers in these files are
 * prepended with a '+'." "All texts have the newline character ('\n') replaced with ". All double
 * quotes ... will be preceded with an additional double quote." We follow that literally: a
 * newline (CR, LF or CRLF) becomes one `"`, then every `"` is doubled, so each row stays one
 * physical line and reads back (RFC 4180) with a `"` where the newline was.
 */

export const CARRIER_HEADER = [
  'SID',
  'Name',
  'Email Address',
  'Type of Message',
  'To (Number)',
  'To (Name)',
  'To (SID)',
  'To (Email)',
  'From (Number)',
  'From (Name)',
  'From (SID)',
  'From (Email)',
  'Body',
  'Message Time (UTC)',
  'SMS Unique ID',
] as const;

const p2 = (n: number) => String(n).padStart(2, '0');

/** `monitored_call_archive_audio_YYYYMMDD_HHMMSS__<uuid>.csv`, the time in UTC. */
export function carrierCsvName(cutAt: Date, batchId: string): string {
  const d = cutAt;
  const date = `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}`;
  const time = `${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}`;
  return `monitored_call_archive_audio_${date}_${time}__${batchId}.csv`;
}

/** `r_<uuid>.wav`: the media file name, also the Body column. */
export function mediaName(recordingId: string): string {
  return `r_${recordingId}.wav`;
}

/** A phone number with the '+' the format requires; names and SIP user parts are left alone. */
export function plusNumber(n: string): string {
  const t = n.trim();
  if (t === '' || t.startsWith('+')) return t;
  const digits = t.replace(/[\s().-]/g, '');
  return /^[0-9]+$/.test(digits) ? `+${digits}` : t;
}

/** One quoted field, escaped as the document says (see the module comment). */
export function carrierField(v: string): string {
  return csvCell(v, { quoteAll: true, newline: '"', formulaGuard: false });
}

/** `2018-10-05 15:03:55.120` (UTC), as in the sample. */
export function carrierTime(d: Date): string {
  const ms = String(d.getUTCMilliseconds()).padStart(3, '0');
  return (
    `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${ms}`
  );
}

/** The 15 fields of one recording. The monitored party is the recorded user (else the caller). */
export function carrierRow(rec: DeliveryRecording): string[] {
  const f = callFacts(rec);
  const email = rec.user?.email ?? '';
  const userIsCaller = f.userIsCaller;
  const type = f.direction === 'IN' ? 'Incoming' : 'Outgoing';
  return [
    '',
    f.agent || rec.callerName || '',
    email,
    type,
    plusNumber(rec.calleeNumber),
    rec.calleeName,
    '',
    userIsCaller === false ? email : '',
    plusNumber(rec.callerNumber),
    rec.callerName,
    '',
    userIsCaller === true ? email : '',
    mediaName(rec.id),
    carrierTime(rec.startedAt),
    rec.id,
  ];
}

/** The whole CSV: `#COUNT:n`, the header, one line per recording (LF line ends). */
export function carrierCsv(recs: readonly DeliveryRecording[]): string {
  const lines = [`#COUNT:${recs.length}`, CARRIER_HEADER.map(carrierField).join(',')];
  for (const r of recs) lines.push(carrierRow(r).map(carrierField).join(','));
  return `${lines.join('\n')}\n`;
}

/** Reads a CSV back (src/csv.ts); for tests and for checking what we wrote. */
export { parseCsv } from '../csv.js';

/** The export's per-day index columns (UTF-8). */
export const INDEX_HEADER = [
  'Recording ID',
  'Agent',
  'Extension',
  'Remote Number',
  'Start (UTC)',
  'Duration',
  'Group',
  'Direction',
  'Call-ID',
  'File',
] as const;

export function indexRow(rec: DeliveryRecording, file: string): Record<string, string> {
  const f = callFacts(rec);
  return {
    'Recording ID': rec.id,
    Agent: f.agent,
    Extension: f.extension,
    'Remote Number': f.remoteNumber,
    'Start (UTC)': rec.startedAt.toISOString(),
    Duration: hms(f.durationMs),
    Group: f.group,
    Direction: f.direction,
    'Call-ID': rec.callId,
    File: file,
  };
}

/**
 * A day's index: UTF-8 with a BOM (so spreadsheets read it as UTF-8), CRLF line ends, RFC 4180
 * cells with the formula guard (a remote number or name from SIP such as `=cmd|...` reads as text).
 */
export function indexCsv(rows: readonly Record<string, string>[]): string {
  return CSV_BOM + csvLine(INDEX_HEADER) + indexLines(rows);
}

/** Rows of a day's index without its BOM and header: what a pass appends to it. */
export function indexLines(rows: readonly Record<string, string>[]): string {
  let out = '';
  for (const r of rows) out += csvLine(INDEX_HEADER.map((h) => r[h] ?? ''));
  return out;
}
