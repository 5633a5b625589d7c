/**
 * A recording too long for memory, end to end through the real pipeline: real Postgres, pg-boss,
 * the native mixer, libmp3lame in the addon and gpg. With a small `inMemoryMaxBytes` the mix goes
 * to a file in the spool, the MP3 is encoded from that file into a file beside it (never a Buffer
 * of the whole recording), both are encrypted from their files, and the spool is wiped. The stored
 * MP3, decrypted by gpg and decoded by ffmpeg, holds the call's tone for the call's length.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeUlawWav, toneLevelDb } from '../helpers/audio.js';
import { endedCallWithTone } from '../helpers/ended-call.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { filesUnder } from '../helpers/pipeline-probes.js';
import { createLogger } from '../../src/log.js';
import { mixSpool } from '../../src/media/index.js';
import { startPipeline } from '../../src/pipeline/index.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { seedDataDir } from '../helpers/pg-template.js';

const run = promisify(execFile);
const log = createLogger('silent');
const FFMPEG = process.env.SRS_TEST_FFMPEG ?? '/usr/bin/ffmpeg';

/** An MP3 decoded by ffmpeg to 8 kHz mono 16-bit samples. */
async function decodeMp3(file: string): Promise<Int16Array> {
  const { stdout } = await run(
    FFMPEG,
    ['-nostdin', '-loglevel', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '8000', '-'],
    { encoding: 'buffer', maxBuffer: 64 << 20 },
  );
  return new Int16Array(stdout.buffer, stdout.byteOffset, stdout.length >> 1);
}

describe('pipeline: a recording too long for memory is mixed, encoded and encrypted through files', () => {
  let dataDir: string;
  let db: Database;
  let passphrase: string;
  let key: { fingerprint: string; publicKeyArmored: string };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-long-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db });
    assert.ok(k.generatedPassphrase);
    passphrase = k.generatedPassphrase;
    key = { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored };
  });

  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('stores an MP3 made from the mix file into a file: the tone for the call length, no plaintext left', async () => {
    const ms = 20_000;
    const id = await endedCallWithTone(db, dataDir, {
      prefix: 'long',
      startedAt: new Date('2026-06-01T08:00:00Z'),
      hz: 500,
      ms,
    });
    const spool = join(dataDir, 'spool', id);
    let mixedToFile = 0;
    let mp3File: { name: string; size: number } | undefined;
    const pipeline = await startPipeline({
      db,
      mixer: {
        mix: (o) => {
          if (o.wavPath) mixedToFile++;
          return mixSpool(o);
        },
      },
      dataDir,
      log,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key,
      concurrency: 1,
      retryLimit: 0,
      pollingIntervalSeconds: 0.5,
      // 160 kB of audio against 64 kB: the long path.
      inMemoryMaxBytes: 64 << 10,
      afterStep: async (s, recordingId) => {
        if (s !== 'mp3' || recordingId !== id) return;
        const name = (await readdir(spool)).find((n) => n.endsWith('.mix.mp3'));
        if (name) mp3File = { name, size: (await stat(join(spool, name))).size };
      },
    });
    try {
      await pipeline.enqueueFinalize(id);
      await pipeline.idle();
    } finally {
      await pipeline.stop();
    }
    const row = await db.recordings.get(id);
    assert.equal(row?.state, 'stored', `state ${row?.state} (${row?.error ?? ''})`);
    assert.equal(mixedToFile, 1, 'the mono mix went to a file in the spool');
    assert.ok(mp3File, 'the MP3 was encoded into a file in the spool');
    // 20 s at 32 kbit/s: 80,000 bytes and a frame or two.
    assert.ok(Math.abs(mp3File.size - 80_000) < 2_000, `MP3 file of ${mp3File.size} bytes`);
    const mp3 = row.files.find((f) => f.kind === 'mp3');
    const wav = row.files.find((f) => f.kind === 'wav');
    assert.ok(mp3 && wav);

    const keyFile = join(dataDir, 'keys', 'private.asc');
    const plainMp3 = await gpgDecrypt(keyFile, passphrase, join(dataDir, mp3.path));
    assert.equal(plainMp3.length, mp3File.size, 'the stored MP3 is the file that was encoded');
    const decoded = join(dataDir, 'decoded.mp3');
    await writeFile(decoded, plainMp3);
    const pcm = await decodeMp3(decoded);
    await rm(decoded);
    // The Info frame written back at the file's start lets the decoder trim LAME's delay and padding.
    assert.ok(Math.abs(pcm.length / 8000 - ms / 1000) <= 0.1, `MP3 of ${pcm.length / 8000} s, expected 20`);
    assert.ok(toneLevelDb(pcm, 500, ms - 500, 500) > -3, 'the 500 Hz tone throughout');
    const mixed = decodeUlawWav(await gpgDecrypt(keyFile, passphrase, join(dataDir, wav.path)));
    assert.equal(mixed.length, (ms * 8000) / 1000, 'the WAV holds the call');

    await assert.rejects(stat(spool), { code: 'ENOENT' }, 'spool wiped');
    for (const f of await filesUnder(dataDir)) assert.match(f, /\.gpg$/, `plaintext left: ${f}`);
  });
});
