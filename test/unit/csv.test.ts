import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvCell, csvDelimiter, csvLine, csvRecords, looksLikeFormula } from '../../src/csv.js';
import { carrierField, indexCsv, indexRow, parseCsv } from '../../src/delivery/csv.js';
import type { DeliveryRecording } from '../../src/store/offload.js';

describe('the CSV writer (src/csv.ts)', () => {
  it('guards every cell a spreadsheet would run as a formula: = + - @ tab CR', () => {
    const cases: [string, string][] = [
      ['=1+1', "'=1+1"],
      ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
      ['+cmd|" /C calc"!A0', `"'+cmd|"" /C calc""!A0"`],
      ['-2+3', "'-2+3"],
      ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
      ['\t=1', "'\t=1"],
      ['\r=1', `"'\r=1"`],
    ];
    for (const [input, want] of cases) {
      assert.ok(looksLikeFormula(input), input);
      assert.equal(csvCell(input), want, JSON.stringify(input));
    }
  });

  it('leaves phone numbers, negative numbers and plain text alone', () => {
    for (const s of ['+4930123456', '+1 (555) 123-4567', '-12', '12567335223', 'Alice', 'a=b', 'x-y', '']) {
      assert.equal(looksLikeFormula(s), false, s);
      assert.equal(csvCell(s), s);
    }
  });

  it('quotes commas, quotes, line breaks and edge spaces (RFC 4180), CRLF lines', () => {
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell(' padded'), '" padded"');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(new Date('2026-01-02T03:04:05Z')), '2026-01-02T03:04:05.000Z');
    assert.equal(csvCell(['a', 'b']), 'a; b');
    assert.equal(csvLine(['=x', 'y,z', 3]), `'=x,"y,z",3\r\n`);
    assert.deepEqual(parseCsv(csvLine(['=x', 'y,z', 'q"'])), [["'=x", 'y,z', 'q"']]);
  });

  it('the reader gives each record the line it starts on, across quoted line breaks and any line end', () => {
    const text = '\uFEFFa,b\r\n"two\nlines",x\n\nc,"d ""q"""\re,\r\n';
    assert.deepEqual(csvRecords(text), [
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['two\nlines', 'x'] },
      { line: 4, cells: [''] },
      { line: 5, cells: ['c', 'd "q"'] },
      { line: 6, cells: ['e', ''] },
    ]);
    assert.throws(() => csvRecords('a\n"b\nc'), /line 2: a quoted cell is never closed/);
  });

  it('tells a semicolon-separated CSV by its first line, and reads it', () => {
    assert.equal(csvDelimiter('a;b;c\r\n1;2;3'), ';');
    assert.equal(csvDelimiter('a,b\n"x;y",z'), ',');
    assert.equal(csvDelimiter('"a,b";c\n'), ';', 'a comma inside quotes does not count');
    assert.equal(csvDelimiter('name\n'), ',');
    assert.deepEqual(csvRecords('a;"b;c";d\n', ';'), [{ line: 1, cells: ['a', 'b;c', 'd'] }]);
  });

  it('the carrier format keeps its own rules: all quoted, newline -> ", no guard', () => {
    assert.equal(carrierField('=1+1'), '"=1+1"');
    assert.equal(carrierField('a\r\nb"c'), '"a""b""c"');
    assert.equal(carrierField('+12567335223'), '"+12567335223"');
  });

  it("the MP3 export's index.csv guards a remote number and name from SIP", () => {
    const rec: DeliveryRecording = {
      id: '7dddacca-bf0d-493c-aa7c-1015a457a40e',
      state: 'stored',
      callId: '=cmd|"/C calc"!A0@pbx',
      sessionId: 's1',
      startedAt: new Date('2026-01-02T03:04:05.000Z'),
      durationMs: 3000,
      storedAt: new Date('2026-01-02T03:05:00.000Z'),
      direction: 'unknown',
      callerNumber: '1001',
      callerName: 'Agent',
      calleeNumber: '=1+2',
      calleeName: '@evil',
      user: {
        id: 'u1',
        username: 'agent',
        displayName: '-Agent+',
        group: 'sales',
        email: 'a@example.com',
        isCaller: true,
      },
      wav: null,
      mp3: null,
    };
    const rows = parseCsv(indexCsv([indexRow(rec, '2026/01/02/x.mp3')]));
    const header = rows[0] ?? [];
    const row = rows[1] ?? [];
    const cell = (name: string) => row[header.indexOf(name)];
    assert.equal(cell('Remote Number'), "'=1+2");
    assert.equal(cell('Agent'), "'-Agent+");
    assert.equal(cell('Call-ID'), `'=cmd|"/C calc"!A0@pbx`);
    assert.equal(cell('Extension'), '1001');
    for (const c of row) assert.equal(looksLikeFormula(c), false, c);
  });
});
