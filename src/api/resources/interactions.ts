import { z } from 'zod';
import type { RecordingRow } from '../../store/types.js';
import { HttpError, notFound, sendJson } from '../http.js';
import { ulawWavHeader } from '../../media/wav.js';
import { parseRange, sendPlaintext, ulawWavData } from '../artifacts.js';
import { describe, type Kit } from '../kit.js';
import { RecentBuffers } from '../recent.js';
import { need, route, type Ctx, type RouteDef } from '../table.js';

/**
 * An interaction (the recordings of one SIPREC communication session group: a transfer, a
 * consultation) played as one file: the stored mono mixes of the parts the caller may see, oldest
 * first, joined with a short silence between them. The parts stay separate recordings; the joined
 * file is made on request (WAV: the u-law samples as stored; MP3: that WAV through the pipeline's
 * encoder) and kept a few minutes for a player's range requests. Every part is audited, as if
 * played or downloaded one by one, before a byte leaves.
 */

/** The longest joined file: 4 hours of audio (115 MB of u-law); longer interactions are downloaded part by part. */
export const INTERACTION_MAX_SECONDS = 4 * 3600;
const RATE = 8000;
const MAX_GAP_MS = 10_000;
const DEFAULT_GAP_MS = 1000;

const joinQuery = z.object({
  format: z.enum(['mp3', 'wav'], { error: 'mp3 or wav' }).optional().describe('mp3 (default) or wav'),
  gapMs: z
    .string()
    .transform((v, c) => {
      const n = Number(v);
      if (Number.isInteger(n) && n >= 0 && n <= MAX_GAP_MS) return n;
      c.addIssue({ code: 'custom', message: `must be an integer from 0 to ${MAX_GAP_MS}` });
      return z.NEVER;
    })
    .optional()
    .describe(`silence between the parts in ms (default ${DEFAULT_GAP_MS}, at most ${MAX_GAP_MS})`),
});

/**
 * Joins made at once: each holds up to INTERACTION_MAX_SECONDS of audio in memory (and MP3 encodes
 * it), so more requests wait their turn instead of taking the memory of the process.
 */
export class Turns {
  #busy = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly max = 2) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#busy < this.max) this.#busy++;
    else await new Promise<void>((r) => this.#waiting.push(r)); // handed the turn of one that ends
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    }
  }
}

export function interactionRoutes(k: Kit): RouteDef[] {
  const { d } = k;
  // Joined files by content (parts, their stored WAVs, gap, format): a few, for a few minutes.
  const cache = new RecentBuffers({ ttlMs: 5 * 60_000, maxBytes: 128 << 20 });
  const turns = new Turns();

  /** The interaction's recordings the caller may see, oldest first; 404 when there are none. */
  const partsOf = async (ctx: Ctx, id: string): Promise<RecordingRow[]> => {
    const found = await d.db.access.search(need(ctx, 'user'), { interaction: id, limit: 100 });
    const rows: RecordingRow[] = [];
    for (const item of found.items.reverse()) {
      const row = await d.db.recordings.get(item.id);
      if (row) rows.push(row);
    }
    if (rows.length === 0) throw notFound(`interaction ${id} not found`);
    return rows;
  };

  const serveJoined = async (ctx: Ctx, id: string, q: z.output<typeof joinQuery>, attachment: boolean) => {
    const format = q.format ?? 'mp3';
    const gapMs = q.gapMs ?? DEFAULT_GAP_MS;
    const parts = await partsOf(ctx, id);
    const purpose = attachment || format === 'wav' ? 'download' : 'playback';
    await k.access.check(need(ctx, 'user'), purpose);
    const ready = parts.filter(
      (p) => (p.state as string) !== 'purged' && p.files.some((f) => f.kind === 'wav'),
    );
    const waiting = parts.filter((p) => !ready.includes(p) && (p.state as string) !== 'purged');
    if (ready.length === 0)
      throw waiting.length
        ? new HttpError(
            409,
            `interaction ${id} has no stored recording yet (${waiting.length} not stored yet)`,
          )
        : new HttpError(410, `the recordings of interaction ${id} were deleted`);
    const seconds =
      ready.reduce((s, p) => s + wavFile(p).bytes / RATE, 0) + ((ready.length - 1) * gapMs) / 1000;
    if (seconds > INTERACTION_MAX_SECONDS)
      throw new HttpError(
        413,
        `interaction ${id} is ${Math.round(seconds / 60)} minutes long; one file holds at most ${INTERACTION_MAX_SECONDS / 3600} hours: play or download its recordings one by one`,
      );
    if (format === 'mp3' && !d.encodeMp3)
      throw new HttpError(503, 'this server has no MP3 encoder for joined audio; ask for format=wav');
    const key = `${format}:${gapMs}:${ready.map((p) => `${p.id}/${wavFile(p).sha256Cipher}`).join(',')}`;
    const plain =
      cache.hit(key) ??
      (await cache.fill(key, () =>
        turns.run(async () => {
          const pcm: Buffer[] = [];
          const gap = Buffer.alloc(Math.round((gapMs * RATE) / 1000), 0xff); // u-law 0xff: zero
          for (const [i, p] of ready.entries()) {
            if (i > 0 && gap.length) pcm.push(gap);
            pcm.push(ulawWavData(await d.artifacts.read(p.id, wavFile(p), { cache: false })));
          }
          const samples = pcm.reduce((s, b) => s + b.length, 0);
          const wav = Buffer.concat([ulawWavHeader(samples), ...pcm, Buffer.alloc(samples & 1)]);
          return format === 'wav' ? wav : (d.encodeMp3 as (w: Buffer) => Promise<Buffer>)(wav);
        }),
      ));
    const range = parseRange(ctx.req.headers.range, plain.length);
    const head = ctx.req.method === 'HEAD';
    if (!head)
      for (const p of ready)
        await k.grantAudio(ctx, p.id, purpose, {
          format,
          interaction: id,
          ...(attachment ? {} : { inline: true }),
          ...describe(p),
        });
    sendPlaintext(ctx.res, head, plain, range, {
      'content-type': format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
      // The recordings joined, in order, and those left out because they are not stored yet.
      'srs-interaction-parts': ready.map((p) => p.id).join(','),
      'srs-interaction-waiting': waiting.map((p) => p.id).join(','),
      ...(attachment
        ? { 'content-disposition': `attachment; filename="interaction-${ready[0]?.id}.${format}"` }
        : {}),
    });
  };

  return [
    route({
      method: 'GET',
      path: '/interactions/:id',
      summary:
        'An interaction (a SIPREC communication session group): its recordings the caller may see, oldest first, and their total length',
      role: 'user',
      async handler(ctx, { params }) {
        const id = params.id as string;
        const parts = await partsOf(ctx, id);
        sendJson(ctx.res, 200, {
          id,
          durationMs: parts.reduce((s, p) => s + (p.durationMs ?? 0), 0),
          parts: parts.map((p) => ({
            id: p.id,
            callId: p.callId,
            startedAt: p.startedAt.toISOString(),
            endedAt: p.endedAt ? p.endedAt.toISOString() : null,
            durationMs: p.durationMs,
            state: p.state,
          })),
        });
      },
    }),
    route({
      method: 'GET',
      path: '/interactions/:id/audio',
      summary:
        'The interaction as one file, for playback: the stored mono mixes of its recordings the caller may see, oldest first, with gapMs of silence between them; supports Range requests. Recordings not stored yet are left out (header srs-interaction-waiting). MP3 needs the listen permission (audited as playback of every part), WAV the download permission.',
      role: 'user',
      query: joinQuery,
      response: { audio: true },
      handler: (ctx, { params, query }) => serveJoined(ctx, params.id as string, query, false),
    }),
    route({
      method: 'GET',
      path: '/interactions/:id/download',
      summary:
        'The interaction as one file, as an attachment (roles per permissions.download; every part audited as download).',
      role: 'user',
      query: joinQuery,
      response: { audio: true },
      handler: (ctx, { params, query }) => serveJoined(ctx, params.id as string, query, true),
    }),
  ];
}

/** The recording's stored mono WAV (callers filter on its presence). */
function wavFile(p: RecordingRow) {
  const f = p.files.find((x) => x.kind === 'wav');
  if (!f) throw new Error(`recording ${p.id} has no WAV`);
  return f;
}
