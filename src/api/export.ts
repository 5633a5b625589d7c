import type { Writable } from 'node:stream';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import type { RecordingFile } from '../store/types.js';
import type { RecordingSearch, RecordingSummary } from '../store/users-access.js';
import type { Principal } from '../store/users.js';
import type { ArtifactReader } from './artifacts.js';
import { z } from 'zod';
import { csvLine } from '../csv.js';
import { HttpError, badRequest } from './http.js';
import { qEnum, qStr, route, type Ctx, type RouteDef } from './table.js';

/**
 * Exports for compliance teams: `GET /api/v1/recordings/export` with the search filters (or
 * `ids`) gives the catalogue rows as CSV (`format=csv`), or the decrypted audio of the selected
 * recordings in a tar archive (`format=tar`, `audio=mp3|wav`) with an index.csv (hashes, status).
 * The archive is streamed: each recording is decrypted in memory, written, and dropped; no
 * plaintext ever reaches the disk. One audit entry ('export') names every exported id.
 */

/** At most this many catalogue rows in one CSV export. */
export const MAX_CSV_ROWS = 10_000;
/** At most this many recordings in one audio archive. */
export const MAX_ARCHIVE_RECORDINGS = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// CSV cells with the formula guard: the one writer in src/csv.ts.
export { csvCell, csvLine } from '../csv.js';

// --- ustar ------------------------------------------------------------------------------------

function octal(b: Buffer, off: number, len: number, n: number): void {
  const s = Math.floor(n).toString(8);
  if (s.length > len - 1) throw new RangeError(`tar: ${n} does not fit in ${len - 1} octal digits`);
  b.write(`${s.padStart(len - 1, '0')}\0`, off, len, 'latin1');
}

/** A POSIX ustar header for a regular file (names up to 255 bytes, split into prefix/name). */
export function ustarHeader(path: string, size: number, mtime: Date, mode = 0o644): Buffer {
  const h = Buffer.alloc(512);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf('/', path.length - 1);
    for (let i = cut; i > 0; i = path.lastIndexOf('/', i - 1)) {
      if (Buffer.byteLength(path.slice(i + 1)) <= 100 && Buffer.byteLength(path.slice(0, i)) <= 155) {
        prefix = path.slice(0, i);
        name = path.slice(i + 1);
        break;
      }
    }
    if (!prefix) throw new RangeError(`tar: path too long: ${path}`);
  }
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime.getTime() / 1000);
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h.write('0', 156, 1, 'latin1'); // regular file
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write('srs', 265, 32, 'latin1');
  h.write('srs', 297, 32, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const x of h) sum += x;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** Writes to a stream, waiting for 'drain' when its buffer is full (a slow client never grows memory). */
export async function writeChunk(out: Writable, chunk: Buffer | string): Promise<void> {
  if (out.destroyed || out.writableEnded) throw new ClientGone();
  if (out.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
  if (out.destroyed) throw new ClientGone();
}

/** A streaming tar (ustar) writer: file(), file(), ..., end(). */
export class TarWriter {
  constructor(readonly out: Writable) {}

  async file(path: string, data: Buffer, mtime = new Date()): Promise<void> {
    await writeChunk(this.out, ustarHeader(path, data.length, mtime));
    await writeChunk(this.out, data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) await writeChunk(this.out, Buffer.alloc(pad));
  }

  /** Two zero blocks end the archive. */
  async end(): Promise<void> {
    await writeChunk(this.out, Buffer.alloc(1024));
  }
}

// --- the endpoint -----------------------------------------------------------------------------

export interface ExportDeps {
  db: Pick<Database, 'access' | 'recordings' | 'fields'>;
  artifacts: ArtifactReader;
  /** The principal when it may export (a user or higher allowed by permissions.download); throws otherwise. */
  allowed(ctx: Ctx): Promise<Principal>;
  /** The recordings search filters of a query string (as GET /recordings reads them). */
  filters(url: URL): RecordingSearch;
  /** Their schema (documented and checked by the route table). */
  query: z.ZodObject;
  audit(
    ctx: Ctx,
    action: string,
    resource: string,
    resourceId: string,
    details: Record<string, unknown>,
  ): Promise<void>;
  /** The audio access path: one 'export.audio' audit entry per recording whose audio is exported. */
  grantAudio?(ctx: Ctx, recordingId: string, details: Record<string, unknown>): Promise<void>;
  log: Logger;
}

const CSV_HEADER = [
  'id',
  'started_at',
  'ended_at',
  'duration_s',
  'state',
  'call_id',
  'session_id',
  'participants',
  'names',
  'groups',
  'categories',
  'preserved',
];

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
const seconds = (ms: number | null) => (ms === null ? '' : (ms / 1000).toFixed(1));

function summaryRow(r: RecordingSummary, fields: string[]): unknown[] {
  return [
    r.id,
    r.startedAt,
    r.endedAt,
    seconds(r.durationMs),
    r.state,
    r.callId,
    r.sessionId,
    r.participants.map((p) => p.aor ?? ''),
    r.participants.map((p) => p.name ?? ''),
    r.groups,
    r.categories,
    r.preserved ? 'yes' : 'no',
    ...fields.map((f) => r.fields[f] ?? ''),
  ];
}

/** `ids=a,b` or `ids=a&ids=b`; each a UUID (400 otherwise). */
function idsParam(url: URL): string[] | undefined {
  if (url.searchParams.has('ids') && url.searchParams.getAll('ids').every((v) => v.trim() === ''))
    throw badRequest('ids: empty');
  const raw = url.searchParams.getAll('ids').flatMap((v) => v.split(','));
  const ids = [...new Set(raw.map((s) => s.trim()).filter(Boolean))];
  if (ids.length === 0) return undefined;
  const bad = ids.find((x) => !UUID.test(x));
  if (bad !== undefined) throw badRequest(`ids: not a recording id: ${bad.slice(0, 60)}`);
  return ids;
}

/** Starts an export's attachment; false for a HEAD request (headers only, ended here). */
function attachment(ctx: Ctx, type: string, filename: string, count: number): boolean {
  ctx.res.writeHead(200, {
    'content-type': type,
    'content-disposition': `attachment; filename="${filename}"`,
    'cache-control': 'private, no-store',
    'x-export-count': String(count),
  });
  if (ctx.req.method !== 'HEAD') return true;
  ctx.res.end();
  return false;
}

export function exportRoutes(d: ExportDeps): RouteDef[] {
  const log = d.log.child({ part: 'export' });

  /** Everything the filters (or ids) select, at most `max` (400 beyond: narrow the search). */
  const select = async (who: Principal, url: URL, max: number): Promise<RecordingSummary[]> => {
    const ids = idsParam(url);
    const filters: RecordingSearch = { ...d.filters(url), ids };
    if (ids && ids.length > max) throw badRequest(`ids: at most ${max} recordings in one export`);
    const items: RecordingSummary[] = [];
    for (let offset = 0; ; offset += 1000) {
      // Counted only past the most one export takes (not through a whole large catalogue).
      const page = await d.db.access.search(who, { ...filters, limit: 1000, offset, countUpTo: max + 1 });
      if (page.total > max)
        throw badRequest(
          `${page.totalExact ? page.total : `more than ${max + 1}`} recordings match; one export takes at most ${max}: narrow the search`,
        );
      items.push(...page.items);
      if (page.items.length < 1000 || items.length >= page.total) break;
    }
    if (ids) {
      const found = new Set(items.map((i) => i.id));
      const missing = ids.find((x) => !found.has(x));
      // Not visible, deleted or unknown: 404 either way (do not reveal what exists).
      if (missing) throw new HttpError(404, `recording ${missing} not found`);
    }
    return items;
  };

  const query = d.query.extend({
    format: qEnum(['csv', 'tar'], 'csv (default) or tar'),
    audio: qEnum(['mp3', 'wav'], 'for tar: mp3 (default) or wav; a recording without it gets the other'),
    ids: qStr('recording ids, comma-separated or repeated (instead of or with the filters)'),
  });
  const idsMessage = 'an array of recording ids';
  const body = z.object({
    ids: z
      .array(z.unknown(), { error: idsMessage })
      .min(1, 'empty')
      .refine((a) => a.every((x) => typeof x === 'string'), idsMessage)
      .optional()
      .meta({ items: { type: 'string', format: 'uuid' } }),
    format: z.enum(['csv', 'tar'], { error: 'csv or tar' }).optional(),
    audio: z.enum(['mp3', 'wav'], { error: 'mp3 or wav' }).optional(),
  });
  const produces = ['text/csv', 'application/x-tar'];
  return [
    route({
      method: 'GET',
      path: '/recordings/export',
      summary:
        'Export for compliance: the catalogue rows matching the search filters (or ids) as CSV (format=csv, UTF-8, up to 10000 rows), or their decrypted audio in a tar archive (format=tar, up to 500 recordings; one file per recording plus index.csv with size, SHA-256 and status), streamed, never written to disk in plaintext. Roles per the permissions.download setting; one audit entry "export" lists the ids. 400 when more match than one export takes.',
      role: 'user',
      query,
      response: { produces },
      handler: (ctx) => exportHandler(ctx),
    }),
    // POST: the same with a JSON body {ids, format, audio}, for more ids than a URL holds.
    route({
      method: 'POST',
      path: '/recordings/export',
      summary:
        'The same export with the ids (and format, audio) in a JSON body, for more ids than a URL holds; the search filters may still be given in the query string',
      role: 'user',
      query: d.query,
      body,
      bodyLimit: 1024 * 1024,
      response: { status: 200, produces },
      async handler(ctx, { body: b }) {
        await d.allowed(ctx);
        const url = new URL(ctx.url.href);
        if (b.format) url.searchParams.set('format', b.format);
        if (b.audio) url.searchParams.set('audio', b.audio);
        if (b.ids) url.searchParams.set('ids', b.ids.join(','));
        await exportHandler({ ...ctx, url });
      },
    }),
  ];

  async function exportHandler(ctx: Ctx): Promise<void> {
    const who = await d.allowed(ctx);
    const format = ctx.url.searchParams.get('format') ?? 'csv';
    if (format !== 'csv' && format !== 'tar') throw badRequest('format: csv or tar');
    const audio = ctx.url.searchParams.get('audio') ?? 'mp3';
    if (audio !== 'mp3' && audio !== 'wav') throw badRequest('audio: mp3 or wav');
    if (format === 'tar' && !d.artifacts.loadKey)
      throw new HttpError(
        503,
        'the recording key passphrase is not available to the server (set SRS_KEY_PASSPHRASE)',
      );
    const items = await select(who, ctx.url, format === 'csv' ? MAX_CSV_ROWS : MAX_ARCHIVE_RECORDINGS);
    const query = Object.fromEntries(
      [...ctx.url.searchParams].filter(([k]) => k !== 'ids' && k !== 'format' && k !== 'audio'),
    );
    // A HEAD request delivers nothing: no audit entry.
    if (ctx.req.method !== 'HEAD')
      await d.audit(ctx, 'export', 'recording', items.length === 1 ? (items[0]?.id ?? '') : '', {
        format,
        ...(format === 'tar' ? { audio } : {}),
        count: items.length,
        filters: query,
        ids: items.map((i) => i.id),
      });
    const now = new Date();
    const res = ctx.res;
    if (format === 'csv') {
      if (!attachment(ctx, 'text/csv; charset=utf-8', `recordings-${stamp(now)}.csv`, items.length)) return;
      // Then one column per custom field, `field:<name>`.
      const fields = (await d.db.fields.list()).map((f) => f.name);
      let chunk = `\uFEFF${csvLine([...CSV_HEADER, ...fields.map((f) => `field:${f}`)])}`;
      try {
        for (const r of items) {
          chunk += csvLine(summaryRow(r, fields));
          if (chunk.length > 64 * 1024) {
            await writeChunk(res, chunk);
            chunk = '';
          }
        }
        await writeChunk(res, chunk);
      } catch (err) {
        if (err instanceof ClientGone)
          return log.info({ count: items.length }, 'CSV export aborted by the client');
        throw err;
      }
      res.end();
      return;
    }

    const dir = `srs-export-${stamp(now)}`;
    if (!attachment(ctx, 'application/x-tar', `${dir}.tar`, items.length)) return;
    const tar = new TarWriter(res);
    let index = `\uFEFF${csvLine(['id', 'file', 'started_at', 'duration_s', 'participants', 'call_id', 'bytes', 'sha256', 'status'])}`;
    let ok = 0;
    try {
      for (const s of items) {
        const rec = await d.db.recordings.get(s.id);
        const file: RecordingFile | undefined =
          rec?.files.find((f) => f.kind === audio) ??
          rec?.files.find((f) => f.kind === (audio === 'mp3' ? 'wav' : 'mp3'));
        const name = `${stamp(s.startedAt)}_${s.id}.${file?.kind ?? audio}`;
        const row = [
          s.id,
          '',
          s.startedAt,
          seconds(s.durationMs),
          s.participants.map((p) => p.aor ?? ''),
          s.callId,
        ];
        if (!rec || !file || s.state === 'purged') {
          index += csvLine([
            ...row,
            '',
            '',
            s.state === 'purged' ? 'deleted' : `no audio (state ${s.state})`,
          ]);
          continue;
        }
        let plain: Buffer;
        try {
          await d.grantAudio?.(ctx, rec.id, { format: file.kind, export: true });
          plain = await d.artifacts.read(rec.id, file, { cache: false });
        } catch (err) {
          const msg = err instanceof HttpError ? err.message : 'could not decrypt';
          if (!(err instanceof HttpError))
            log.error({ err, recordingId: rec.id }, 'export: decryption failed');
          index += csvLine([...row, '', '', `error: ${msg}`]);
          continue;
        }
        await tar.file(`${dir}/${name}`, plain, s.startedAt);
        index += csvLine([
          ...row.slice(0, 1),
          name,
          ...row.slice(2),
          plain.length,
          file.sha256Plain,
          file.kind === audio ? 'ok' : `ok (${file.kind}: no ${audio})`,
        ]);
        ok++;
      }
      await tar.file(`${dir}/index.csv`, Buffer.from(index, 'utf8'), now);
      await tar.end();
    } catch (err) {
      if (err instanceof ClientGone)
        return log.info({ written: ok, count: items.length }, 'audio export aborted by the client');
      throw err;
    }
    res.end();
    log.info({ count: items.length, written: ok, audio }, 'audio export sent');
  }
}
