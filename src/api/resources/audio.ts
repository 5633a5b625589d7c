import { z } from 'zod';
import { HttpError, notFound, sendJson } from '../http.js';
import { parseRange, waveformOf } from '../artifacts.js';
import { describe, type Kit } from '../kit.js';
import { qInt, route, type Ctx, type RouteDef } from '../table.js';

/**
 * A recording's audio, decrypted on the server: playback (with ranges), download, waveform. Each
 * goes through the one access path (kit.grantAudio): /audio in MP3 is playback (`listen`), /audio
 * in any other format and /download are downloads (`download`), the waveform is `listen`. Every
 * request is audited before a byte leaves, ranged or not (deduplicated per session and window).
 */

const audioQuery = z.object({
  format: z
    .string()
    .regex(/^(mp3|wav|stereo|leg\d{1,3})$/, 'mp3, wav, stereo or legN (N = stream index)')
    .optional()
    .describe('mp3 (default), wav (the mono mix), stereo or legN (extra outputs, SRS_OUTPUTS)'),
});

export function audioRoutes(k: Kit): RouteDef[] {
  const { d } = k;

  const serveAudio = async (ctx: Ctx, id: string, format: string, attachment: boolean): Promise<void> => {
    const rec = await k.visibleRecording(ctx, id);
    // The archive formats (the WAV mix, stereo, per-leg) are the files themselves: downloads.
    const purpose = attachment || format !== 'mp3' ? 'download' : 'playback';
    await k.access.check(ctx.who as NonNullable<Ctx['who']>, purpose);
    if ((rec.state as string) === 'purged') throw new HttpError(410, `recording ${id} was deleted`);
    const file = rec.files.find((f) => f.kind === format);
    if (!file)
      throw rec.state === 'stored'
        ? notFound(
            `recording ${id} has no ${format} file (it has: ${rec.files.map((f) => f.kind).join(', ')})`,
          )
        : new HttpError(409, `recording ${id} has no ${format} yet (state: ${rec.state})`);
    const plain = await d.artifacts.read(rec.id, file);
    const range = parseRange(ctx.req.headers.range, plain.length);
    const rangeText = ctx.req.headers.range;
    if (ctx.req.method !== 'HEAD')
      await k.grantAudio(ctx, rec.id, purpose, {
        format,
        ...(range && rangeText ? { range: rangeText.slice(0, 100) } : {}),
        ...(attachment ? {} : { inline: true }),
        ...describe(rec),
      });
    const headers: Record<string, string | number> = {
      'content-type': format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
      'accept-ranges': 'bytes',
      'cache-control': 'private, no-store',
    };
    if (attachment)
      headers['content-disposition'] =
        `attachment; filename="${rec.id}${format === 'mp3' || format === 'wav' ? '' : `.${format}`}.${format === 'mp3' ? 'mp3' : 'wav'}"`;
    const head = ctx.req.method === 'HEAD';
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${plain.length}`;
      headers['content-length'] = range.end - range.start + 1;
      ctx.res.writeHead(206, headers);
      ctx.res.end(head ? undefined : plain.subarray(range.start, range.end + 1));
    } else {
      headers['content-length'] = plain.length;
      ctx.res.writeHead(200, headers);
      ctx.res.end(head ? undefined : plain);
    }
  };

  const audioRoute = (name: 'audio' | 'download', summary: string) =>
    route({
      method: 'GET',
      path: `/recordings/:id/${name}`,
      summary,
      role: 'user',
      query: audioQuery,
      response: { audio: true },
      handler: (ctx, { params, query }) =>
        serveAudio(ctx, params.id as string, query.format ?? 'mp3', name === 'download'),
    });

  return [
    audioRoute(
      'audio',
      'Audio decrypted on the server, for playback; supports Range requests. MP3 needs the listen permission (audited as playback), other formats the download permission (audited as download); every request is audited, ranged or not (one entry per session, recording and purpose per 10 minutes).',
    ),
    audioRoute('download', 'Audio as an attachment (roles per permissions.download). Audited as download.'),
    route({
      method: 'GET',
      path: '/recordings/:id/waveform',
      summary:
        'Peak levels for a waveform, and the duration of the stored audio (durationMs, from its samples). Needs the listen permission; audited as waveform.',
      role: 'user',
      query: z.object({ points: qInt('buckets (default 600)', 1) }),
      async handler(ctx, { params, query }) {
        const rec = await k.visibleRecording(ctx, params.id as string);
        if ((rec.state as string) === 'purged') throw new HttpError(410, `recording ${rec.id} was deleted`);
        const file = rec.files.find((f) => f.kind === 'wav');
        if (!file) throw new HttpError(409, `recording ${rec.id} has no WAV yet (state: ${rec.state})`);
        await k.grantAudio(ctx, rec.id, 'waveform', describe(rec));
        sendJson(ctx.res, 200, waveformOf(await d.artifacts.read(rec.id, file), query.points ?? 600));
      },
    }),
  ];
}
