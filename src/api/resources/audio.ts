import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { RecordingFile, RecordingRow } from '../../store/types.js';
import { VerifyingStream } from '../../storage/read.js';
import { HttpError, notFound, sendJson } from '../http.js';
import { parseRange, sendPlaintext, waveformOf } from '../artifacts.js';
import { describe, type Kit } from '../kit.js';
import { qInt, route, type Ctx, type RouteDef } from '../table.js';

/**
 * A recording's audio, decrypted on the server: playback (with ranges), download, waveform. Each
 * goes through the one access path (kit.grantAudio): /audio in MP3 is playback (`listen`), /audio
 * in any other format and /download are downloads (`download`), the waveform is `listen`. Every
 * request is audited before a byte leaves, ranged or not (deduplicated per session and window).
 * /encrypted is the stored OpenPGP file itself (a download), streamed from the artifact store with
 * ranges asked of the store as ranges.
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

  /** The recording's file of `format`: 410 when deleted, 404 when it has none, 409 when not yet stored. */
  const fileOf = (rec: RecordingRow, format: string): RecordingFile => {
    if ((rec.state as string) === 'purged') throw new HttpError(410, `recording ${rec.id} was deleted`);
    const file = rec.files.find((f) => f.kind === format);
    if (!file)
      throw rec.state === 'stored'
        ? notFound(
            `recording ${rec.id} has no ${format} file (it has: ${rec.files.map((f) => f.kind).join(', ')})`,
          )
        : new HttpError(409, `recording ${rec.id} has no ${format} yet (state: ${rec.state})`);
    return file;
  };

  const serveAudio = async (ctx: Ctx, id: string, format: string, attachment: boolean): Promise<void> => {
    const rec = await k.visibleRecording(ctx, id);
    // The archive formats (the WAV mix, stereo, per-leg) are the files themselves: downloads.
    const purpose = attachment || format !== 'mp3' ? 'download' : 'playback';
    await k.access.check(ctx.who as NonNullable<Ctx['who']>, purpose);
    const file = fileOf(rec, format);
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
    sendPlaintext(ctx.res, ctx.req.method === 'HEAD', plain, range, {
      'content-type': format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
      ...(attachment
        ? {
            'content-disposition': `attachment; filename="${rec.id}${format === 'mp3' || format === 'wav' ? '' : `.${format}`}.${format === 'mp3' ? 'mp3' : 'wav'}"`,
          }
        : {}),
    });
  };

  /**
   * The encrypted file as stored: no decryption (no passphrase needed on this node). A range is
   * read from the store as that range; a whole file is hashed on its way out and the connection
   * cut before its end when it does not match the catalogue (a client never gets a complete
   * altered file).
   */
  const serveEncrypted = async (ctx: Ctx, id: string, format: string): Promise<void> => {
    const rec = await k.visibleRecording(ctx, id);
    await k.access.check(ctx.who as NonNullable<Ctx['who']>, 'download');
    const file = fileOf(rec, format);
    const rangeText = ctx.req.headers.range;
    const range = parseRange(rangeText, file.bytes);
    const head = ctx.req.method === 'HEAD';
    const g = await d.artifacts.openCipher(rec.id, file, range ?? undefined);
    try {
      if (!head)
        await k.grantAudio(ctx, rec.id, 'download', {
          format: `${format}.gpg`,
          encrypted: true,
          ...(range && rangeText ? { range: rangeText.slice(0, 100) } : {}),
          ...describe(rec),
        });
    } catch (err) {
      g.body.destroy();
      throw err;
    }
    const ext = format === 'mp3' || format === 'wav' ? format : `${format}.wav`;
    const headers: Record<string, string | number> = {
      'content-type': 'application/pgp-encrypted',
      'accept-ranges': 'bytes',
      'cache-control': 'private, no-store',
      etag: `"${file.sha256Cipher}"`,
      'content-disposition': `attachment; filename="${rec.id}.${ext}.gpg"`,
      'content-length': g.end - g.start + 1,
    };
    if (range) headers['content-range'] = `bytes ${g.start}-${g.end}/${g.size}`;
    ctx.res.writeHead(range ? 206 : 200, headers);
    if (head) {
      g.body.destroy();
      ctx.res.end();
      return;
    }
    const stages = range ? [g.body] : [g.body, new VerifyingStream(file.path, file.sha256Cipher, file.bytes)];
    try {
      await pipeline([...stages, ctx.res]);
    } catch (err) {
      // Headers are out: a store that broke off or content that does not match ends the
      // connection before the announced length (the client sees an incomplete transfer).
      ctx.res.destroy();
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE')
        k.log.error({ err, recordingId: rec.id, kind: file.kind }, 'encrypted download cut off');
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
      path: '/recordings/:id/encrypted',
      summary:
        'The stored OpenPGP-encrypted file itself (application/pgp-encrypted, <id>.<format>.gpg), streamed from the artifact store without decryption; supports Range requests (read from the store as ranges). ETag is the SHA-256 of the encrypted file. Roles per permissions.download; audited as download.',
      role: 'user',
      query: audioQuery,
      response: { produces: ['application/pgp-encrypted'] },
      handler: (ctx, { params, query }) => serveEncrypted(ctx, params.id as string, query.format ?? 'mp3'),
    }),
    route({
      method: 'GET',
      path: '/recordings/:id/waveform',
      summary:
        'Peak levels for a waveform, and the duration of the stored audio (durationMs, from its samples). Needs the listen permission; audited as waveform.',
      role: 'user',
      query: z.object({ points: qInt('buckets (default 600, max 5000)', 1, 5000) }),
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
