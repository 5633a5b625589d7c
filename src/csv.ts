/**
 * The one CSV writer (RFC 4180 cells, CRLF lines), for every CSV the server produces: the API's
 * search and archive exports, the MP3 export's day index and the carrier offload format.
 *
 * Formula guard: a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR as a
 * formula, and names and numbers here come from SIP (a caller chooses its display name). Such a
 * cell gets a leading apostrophe, which spreadsheets show as text; a phone number (`+4930...`,
 * `-1`) is left as it is. The carrier format turns the guard off: its escaping is fixed by the
 * archive's document, and the archive ingests the values rather than evaluating them.
 *
 * No imports: every module may use it.
 */

export interface CsvCellOptions {
  /** Quote every cell (default: only cells that need it). */
  quoteAll?: boolean;
  /** Replace CR, LF and CRLF with this before quoting (default: keep line breaks, quoted). */
  newline?: string;
  /** Prefix formula-like cells with an apostrophe (default true). */
  formulaGuard?: boolean;
}

const NUMBER_LIKE = /^[+-]\d[\d ().-]*$/;

/** True when a spreadsheet would evaluate the text as a formula. */
export function looksLikeFormula(s: string): boolean {
  return /^[=@\t\r]/.test(s) || (/^[+-]/.test(s) && !NUMBER_LIKE.test(s));
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.join('; ');
  return String(v);
}

/** One cell: quoted when it holds a comma, quote, line break or edge whitespace (or always). */
export function csvCell(v: unknown, o: CsvCellOptions = {}): string {
  let s = text(v);
  if (o.newline !== undefined) s = s.replace(/\r\n|\r|\n/g, o.newline);
  if ((o.formulaGuard ?? true) && looksLikeFormula(s)) s = `'${s}`;
  const quote = o.quoteAll || /[",\r\n]/.test(s) || s !== s.trim();
  return quote ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One line of cells, CRLF-terminated. */
export function csvLine(cells: readonly unknown[], o?: CsvCellOptions): string {
  return `${cells.map((c) => csvCell(c, o)).join(',')}\r\n`;
}

/** The byte-order mark that makes spreadsheets read a CSV as UTF-8. */
export const CSV_BOM = '\uFEFF';
