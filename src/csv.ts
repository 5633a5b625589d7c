/**
 * The one CSV writer (RFC 4180 cells, CRLF lines), for every CSV the server produces: the API's
 * search and archive exports, the MP3 export's day index and the carrier offload format; and the
 * one reader, for the CSV it takes in (the user import) and for checking what it wrote.
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

/** One record of a CSV read back, with the line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * Reads CSV (RFC 4180: quoted cells, doubled quotes, line breaks inside quotes; CRLF, LF or CR line
 * ends; a leading byte-order mark dropped) into records with the line each starts on. Throws on a
 * quote left open at the end, naming its line, rather than reading the rest of the file as one cell.
 * `delimiter` `;` reads what spreadsheets write in locales whose decimal mark is a comma.
 */
export function csvRecords(text: string, delimiter: ',' | ';' = ','): CsvRecord[] {
  const out: CsvRecord[] = [];
  const t = text.startsWith(CSV_BOM) ? text.slice(1) : text;
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let quoteLine = 0;
  let line = 1;
  let start = 1;
  const endRecord = () => {
    cells.push(cell);
    out.push({ line: start, cells });
    cells = [];
    cell = '';
    start = line;
  };
  for (let i = 0; i < t.length; i++) {
    const c = t[i] as string;
    const lineEnd = c === '\n' || (c === '\r' && t[i + 1] !== '\n');
    if (quoted) {
      if (c === '"' && t[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
      if (lineEnd) line++;
      continue;
    }
    if (c === '"') {
      quoted = true;
      quoteLine = line;
    } else if (c === delimiter) {
      cells.push(cell);
      cell = '';
    } else if (lineEnd) {
      line++;
      endRecord();
    } else if (c !== '\r') cell += c;
  }
  if (quoted) throw new Error(`line ${quoteLine}: a quoted cell is never closed`);
  if (cell !== '' || cells.length > 0) endRecord();
  return out;
}

/**
 * The delimiter of a CSV by its first line: `;` when that line has semicolons and no comma outside
 * quotes (a spreadsheet's export in a locale whose decimal mark is a comma), else `,`.
 */
export function csvDelimiter(text: string): ',' | ';' {
  const first = (text.split(/\r\n|\n|\r/, 1)[0] ?? '').replace(/"[^"]*"/g, '');
  return first.includes(';') && !first.includes(',') ? ';' : ',';
}

/** The cells of every record (csvRecords without the line numbers). */
export function parseCsv(text: string): string[][] {
  return csvRecords(text).map((r) => r.cells);
}
