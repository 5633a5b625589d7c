/**
 * `node --import tsx bench/export.ts`: the compliance export (GET /api/v1/recordings/export) over a
 * real HTTP server and a real embedded Postgres, in this process.
 *
 *   1. BENCH_RECORDINGS stored recordings, each a BENCH_SECONDS u-law WAV encrypted with OpenPGP;
 *   2. CSV export of all of them: time and size;
 *   3. the tar export of their decrypted WAVs read by a slow client (64 KiB every 50 ms for 2 s,
 *      then closed): the server's memory must not grow with what the client does not read;
 *   4. the same export read as fast as possible: time, MB/s, and the growth of the process's
 *      resident memory over its start (sampled every 20 ms).
 * Prints figures; asserts nothing. Env: BENCH_RECORDINGS=200 BENCH_SECONDS=60
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventEmitter } from 'node:events';
import * as openpgp from 'openpgp';
import { buildConsoleApi } from '../src/api/index.js';
import { startHttpServer } from '../src/api/server.js';
import { createLogger } from '../src/log.js';
import { ensureKeyPair, loadPrivateKey } from '../src/pipeline/keys.js';
import { openDatabase } from '../src/store/db.js';
import { encodeUlaw, tone } from '../test/helpers/audio.js';
import { ulawWavHeader } from '../src/media/wav.js';

const N = Number(process.env.BENCH_RECORDINGS ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const PASS = 'bench-export-passphrase';
const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const mb = (n: number) => (n / 1048576).toFixed(1);

function ulawWav(data: Buffer): Buffer {
  return Buffer.concat([ulawWavHeader(data.length), data]);
}

/** Peak resident memory above `base` while `fn` runs. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ out: T; peakMb: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const out = await fn();
    return { out, peakMb: (peak - base) / 1048576 };
  } finally {
    clearInterval(t);
  }
}

const dataDir = await mkdtemp(join(tmpdir(), 'srs-bench-export-'));
const db = await openDatabase({ dataDir, log });
try {
  const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase: PASS, log, db });
  const pub = await openpgp.readKey({ armoredKey: key.publicKeyArmored });
  const t0 = Date.parse('2026-03-01T08:00:00Z');
  const tSetup = performance.now();
  await mkdir(join(dataDir, 'recordings/2026/03/01'), { recursive: true });
  for (let i = 0; i < N; i++) {
    const id = randomUUID();
    await db.recordings.create({
      id,
      sessionId: `s-${i}`,
      callId: `bench-${i}@pbx`,
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date(t0 + i * 60_000),
      participants: [
        { participantId: 'a', aor: `sip:${1000 + i}@example.com`, name: `Agent ${i}`, sendsLabels: ['1'] },
        { participantId: 'b', aor: 'sip:+4930123456@example.com', name: 'Customer', sendsLabels: ['2'] },
      ],
      streams: [],
      metadataXml: null,
    });
    await db.recordings.markEnded(id, new Date(t0 + i * 60_000 + SECONDS * 1000), SECONDS * 1000, null);
    await db.recordings.markStored(id);
    const wav = ulawWav(encodeUlaw(tone(300 + (i % 50) * 20, SECONDS * 1000, 8000)));
    const enc = (await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: wav }),
      encryptionKeys: pub,
      format: 'binary',
    })) as Uint8Array;
    const rel = `recordings/2026/03/01/${id}.wav.gpg`;
    await writeFile(join(dataDir, rel), enc);
    await db.recordings.addFile(id, {
      kind: 'wav',
      path: rel,
      bytes: enc.length,
      sha256Plain: sha(wav),
      sha256Cipher: sha(enc),
      keyFingerprint: key.fingerprint,
    });
  }
  process.stdout.write(
    `setup: ${N} recordings of ${SECONDS} s (u-law WAV, OpenPGP) in ${((performance.now() - tSetup) / 1000).toFixed(1)} s\n`,
  );

  const stack = await buildConsoleApi({
    db,
    live: Object.assign(new EventEmitter(), { activeCount: 0, activeCalls: () => [] }),
    stats: () => undefined,
    dataDir,
    adminToken: 'bench-admin-token',
    adminPassword: 'bench-admin-password',
    sessionTtlMinutes: 60,
    loadKey: (fp) => loadPrivateKey(join(dataDir, 'keys'), fp, PASS),
    log,
  });
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    log,
    health: async () => ({ ok: true, details: {} }),
    api: stack.api,
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  /** GETs `path`, reading `chunkBytes` every `everyMs` (0: as fast as possible) until `stopAfterMs`. */
  const get = (path: string, everyMs = 0, stopAfterMs = Infinity) =>
    new Promise<{ status: number; bytes: number; ms: number }>((resolve, reject) => {
      const t = performance.now();
      const req = request(
        { host: '127.0.0.1', port, path, headers: { authorization: 'Bearer bench-admin-token' } },
        (res) => {
          let bytes = 0;
          const done = () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - t });
          if (everyMs === 0) {
            res.on('data', (c: Buffer) => (bytes += c.length));
            res.on('end', done);
            return;
          }
          res.pause();
          void (async () => {
            while (performance.now() - t < stopAfterMs && !res.readableEnded) {
              const c = res.read(64 * 1024) as Buffer | null;
              if (c) bytes += c.length;
              await sleep(everyMs);
            }
            req.destroy();
            done();
          })();
        },
      );
      req.on('error', reject);
      req.end();
    });

  const csv = await get('/api/v1/recordings/export?format=csv');
  process.stdout.write(
    `csv: ${N} rows, ${mb(csv.bytes)} MB in ${csv.ms.toFixed(0)} ms (status ${csv.status})\n`,
  );
  const slow = await peakRss(() => get('/api/v1/recordings/export?format=tar&audio=wav', 50, 2000));
  await sleep(300);
  process.stdout.write(
    `tar (slow client, 64 KiB / 50 ms for 2 s, then closed): read ${mb(slow.out.bytes)} MB; peak RSS growth ${slow.peakMb.toFixed(1)} MB; ` +
      `server alive: ${(await get('/api/v1/recordings/export?format=csv')).status === 200}\n`,
  );
  const fast = await peakRss(() => get('/api/v1/recordings/export?format=tar&audio=wav'));
  const r = fast.out;
  process.stdout.write(
    `tar (fast client): ${mb(r.bytes)} MB in ${(r.ms / 1000).toFixed(2)} s = ${(r.bytes / 1048576 / (r.ms / 1000)).toFixed(1)} MB/s, ` +
      `${((N * 1000) / r.ms).toFixed(1)} recordings/s (decrypt + hash check + stream); peak RSS growth ${fast.peakMb.toFixed(1)} MB (status ${r.status})\n`,
  );
  stack.ops.close();
  await new Promise((res) => server.close(res));
} finally {
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
}
