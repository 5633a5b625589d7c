// Extra audio outputs (SRS_OUTPUTS: stereo, per-leg files) and the pause "cut" mode
// (SRS_PAUSE_MODE=cut), end to end below SIP: the real recording service and native engine receive
// two parties' tones over UDP on loopback, the real finalize job mixes, encrypts and catalogues the
// files in an embedded Postgres, gpg decrypts them and the test listens to what they hold.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { loadMediaEngine, mixSpool, pausedSpans, PortPool, type MediaEngine } from '../../src/media/index.js';
import { finalizeRecording, type FinalizeContext } from '../../src/pipeline/finalize.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { RecordingService } from '../../src/recording/service.js';
import type { StreamOffer } from '../../src/recording/types.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlaw, decodeUlawWav, parseWav, tone, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { sendRtpStream } from '../helpers/rtp.js';
import { seedDataDir } from '../helpers/pg-template.js';

const HOST = '127.0.0.1';
const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const A_HZ = 500;
const B_HZ = 1300;

const streams: StreamOffer[] = [
  { index: 0, label: '1', codec: 'PCMU', pt: 0, telephoneEventPt: null },
  { index: 1, label: '2', codec: 'PCMU', pt: 0, telephoneEventPt: null },
];
const participants = [
  { participantId: 'a', aor: 'sip:alice@example.com', name: 'Alice', sendsLabels: ['1'] },
  { participantId: 'b', aor: 'sip:bob@example.com', name: 'Bob', sendsLabels: ['2'] },
];

/** Splits an interleaved u-law data chunk into linear channels. */
function channelsOf(wav: Buffer): Int16Array[] {
  const { data, channels: n } = parseWav(wav);
  return Array.from({ length: n }, (_, c) => {
    const bytes = Buffer.alloc(data.length / n);
    for (let i = 0; i < bytes.length; i++) bytes[i] = data[i * n + c] as number;
    return decodeUlaw(bytes);
  });
}

/** The longest run of near-silent 10 ms windows inside [fromMs, toMs), in ms. */
function longestSilenceMs(pcm: Int16Array, fromMs: number, toMs: number): number {
  let run = 0;
  let longest = 0;
  for (let t = fromMs; t + 10 <= toMs; t += 10) {
    let energy = 0;
    for (let i = t * 8; i < (t + 10) * 8; i++) energy += (pcm[i] ?? 0) ** 2;
    run = energy / 80 < 100 * 100 ? run + 10 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe('audio outputs and pause modes through the real engine and finalize job', () => {
  let dataDir: string;
  let db: Database;
  let engine: MediaEngine;
  let service: RecordingService;
  let ctx: Omit<FinalizeContext, 'outputs' | 'pauseMode'>;
  let passphrase: string;
  const queued: string[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-outputs-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db });
    assert.ok(key.generatedPassphrase);
    passphrase = key.generatedPassphrase;
    engine = loadMediaEngine({ bindAddress: HOST });
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    service = new RecordingService({
      engine,
      ports: new PortPool(base, base + 99),
      store: db.recordings,
      finalize: { enqueueFinalize: async (id) => void queued.push(id) },
      dataDir,
      maxSessions: 10,
      log,
    });
    ctx = {
      recordings: db.recordings,
      mixer: engine,
      dataDir,
      log,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
      chain: db.chain,
    };
  });

  after(async () => {
    await service?.close();
    engine?.close();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const decrypt = (path: string) =>
    gpgDecrypt(join(dataDir, 'keys', 'private.asc'), passphrase, join(dataDir, path));

  /** Party A's tone on the first stream, party B's on the second, `ms` long, paced in real time. */
  const sendBoth = (ports: number[], ms: number) =>
    Promise.all([
      sendRtpStream({
        host: HOST,
        port: ports[0] as number,
        pt: 0,
        codec: 'PCMU',
        samples: tone(A_HZ, ms),
        ssrc: 0xa,
      }),
      sendRtpStream({
        host: HOST,
        port: ports[1] as number,
        pt: 0,
        codec: 'PCMU',
        samples: tone(B_HZ, ms),
        ssrc: 0xb,
      }),
    ]);

  it('SRS_OUTPUTS / media.outputs and SRS_PAUSE_MODE are validated', () => {
    const dflt = loadConfig({});
    assert.deepEqual(dflt.media.outputs, ['mono']);
    assert.equal(dflt.media.pauseMode, 'silence');
    const env = loadConfig({ SRS_OUTPUTS: 'mono, stereo,legs', SRS_PAUSE_MODE: 'cut' });
    assert.deepEqual(env.media.outputs, ['mono', 'stereo', 'legs']);
    assert.equal(env.media.pauseMode, 'cut');
    assert.deepEqual(loadConfig({}, { media: { outputs: ['mono', 'legs'] } }).media.outputs, [
      'mono',
      'legs',
    ]);
    assert.throws(() => loadConfig({ SRS_OUTPUTS: 'stereo' }), /media\.outputs: must include mono/);
    assert.throws(() => loadConfig({ SRS_OUTPUTS: 'mono,surround' }), /media\.outputs/);
    assert.throws(() => loadConfig({ SRS_PAUSE_MODE: 'skip' }), /media\.pauseMode/);
  });

  it('stereo has party A left and B right, each per-leg file one party; all encrypted and catalogued', async () => {
    const { recordingId: id, ports } = await service.start({
      callId: 'outputs@pbx',
      srcAddress: '127.0.0.1:5060',
      sessionId: null,
      participants,
      metadataXml: null,
      streams,
    });
    await sendBoth(ports, 1500);
    await sleep(200);
    await service.end(id, 'bye');
    assert.ok(queued.includes(id));
    assert.equal(await finalizeRecording({ ...ctx, outputs: ['mono', 'stereo', 'legs'] }, id), 'stored');

    const row = await db.recordings.get(id);
    assert.ok(row);
    assert.equal(row.state, 'stored');
    assert.deepEqual(row.files.map((f) => f.kind).sort(), ['leg0', 'leg1', 'mp3', 'stereo', 'wav']);
    const plain = new Map<string, Buffer>();
    for (const f of row.files) {
      const suffix = f.kind === 'wav' || f.kind === 'mp3' ? `${f.kind}.gpg` : `${f.kind}.wav.gpg`;
      assert.ok(f.path.endsWith(`${id}.${suffix}`), f.path);
      const cipher = await readFile(join(dataDir, f.path));
      assert.equal(cipher.length, f.bytes);
      assert.equal(sha(cipher), f.sha256Cipher);
      const p = await decrypt(f.path);
      assert.equal(sha(p), f.sha256Plain, `${f.kind}: plaintext hash`);
      plain.set(f.kind, p);
    }
    // No plaintext anywhere: the spool (with the mixes made there) is wiped.
    await assert.rejects(stat(join(dataDir, 'spool', id)), { code: 'ENOENT' });
    for (const e of await readdir(dataDir, { withFileTypes: true, recursive: true })) {
      const p = relative(dataDir, join(e.parentPath, e.name));
      if (!e.isFile() || /^(pg|keys)\//.test(p) || /^pg\.(json|owner|lock)$/.test(p)) continue;
      assert.match(p, /\.gpg$/, `plaintext left: ${p}`);
    }

    const mono = decodeUlawWav(plain.get('wav') as Buffer);
    const stereo = plain.get('stereo') as Buffer;
    assert.equal(parseWav(stereo).channels, 2);
    const [left, right] = channelsOf(stereo) as [Int16Array, Int16Array];
    assert.equal(left.length, mono.length, 'the files of one recording line up');
    const leg0 = channelsOf(plain.get('leg0') as Buffer);
    const leg1 = channelsOf(plain.get('leg1') as Buffer);
    assert.equal(leg0.length, 1);
    assert.equal(leg1.length, 1);
    // The middle of the call, away from the start and end of each stream.
    const [from, to] = [300, 1300];
    assert.ok(toneLevelDb(mono, from, to, A_HZ) > -6 && toneLevelDb(mono, from, to, B_HZ) > -6, 'mono: both');
    assert.ok(toneLevelDb(left, from, to, A_HZ) > -1, 'left channel: party A');
    assert.ok(toneLevelDb(left, from, to, B_HZ) < -30, 'left channel: not party B');
    assert.ok(toneLevelDb(right, from, to, B_HZ) > -1, 'right channel: party B');
    assert.ok(toneLevelDb(right, from, to, A_HZ) < -30, 'right channel: not party A');
    assert.ok(toneLevelDb(leg0[0] as Int16Array, from, to, A_HZ) > -1, 'leg0 file: party A');
    assert.ok(toneLevelDb(leg0[0] as Int16Array, from, to, B_HZ) < -30, 'leg0 file: only party A');
    assert.ok(toneLevelDb(leg1[0] as Int16Array, from, to, B_HZ) > -1, 'leg1 file: party B');
    assert.ok(toneLevelDb(leg1[0] as Int16Array, from, to, A_HZ) < -30, 'leg1 file: only party B');

    // srs recordings get --format stereo / leg1; an unknown format is a usage error.
    const script = `
      import { recordingsCommand } from ${JSON.stringify(resolve('src/cli/recordings.ts'))};
      import { loadConfig } from ${JSON.stringify(resolve('src/config.ts'))};
      const cmd = recordingsCommand(() => loadConfig(process.env));
      cmd.exitOverride();
      try { await cmd.parseAsync(process.argv.slice(1), { from: 'user' }); }
      catch (err) { process.stderr.write(String(err.message) + '\\n'); process.exitCode = 2; }
    `;
    const srs = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, ...args],
          { env: { ...process.env, SRS_DATA_DIR: dataDir, SRS_KEY_PASSPHRASE: passphrase } },
          (err, stdout, stderr) =>
            res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    for (const kind of ['stereo', 'leg1']) {
      const out = join(dataDir, `${kind}.out.wav`);
      const got = await srs(['get', id, '--format', kind, '--out', out]);
      assert.equal(got.code, 0, got.stderr);
      assert.ok((await readFile(out)).equals(plain.get(kind) as Buffer), `get --format ${kind}`);
      await rm(out);
    }
    // Catalogued like the mono WAV: `verify` checks all five files and the day's hash chain.
    const verify = await srs(['verify', id]);
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
    assert.match(verify.stdout, /verified 1 recording\(s\), 5 file\(s\).*all good/);
    const missing = await srs(['get', id, '--format', 'leg7', '--out', join(dataDir, 'x')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no leg7 artifact .*artifacts: leg0, leg1, mp3, stereo, wav/);
    const bad = await srs(['get', id, '--format', 'surround', '--out', join(dataDir, 'x')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /use mp3, wav, stereo or leg<N>/);
  });

  it('pause "cut": the paused time is left out of every file; the pause stays an event with its times', async () => {
    const { recordingId: id, ports } = await service.start({
      callId: 'cut@pbx',
      srcAddress: '127.0.0.1:5060',
      sessionId: null,
      participants,
      metadataXml: null,
      streams,
    });
    const sending = sendBoth(ports, 3000);
    await sleep(1000);
    // SIPREC pause: both streams re-offered a=inactive, then back.
    await service.updateStreams(id, { add: [], remove: [], pause: [0, 1] });
    await sleep(1000);
    await service.updateStreams(id, { add: [], remove: [], resume: [0, 1] });
    await sending;
    await sleep(200);
    await service.end(id, 'bye');

    const spoolDir = join(dataDir, 'spool', id);
    const meta = JSON.parse(await readFile(join(spoolDir, 'session.json'), 'utf8'));
    const spans = pausedSpans(meta);
    assert.equal(spans.length, 1, JSON.stringify(meta.pauses));
    const [cutFrom, cutTo] = spans[0] as [number, number];
    const pausedMs = (cutTo - cutFrom) / 8;
    assert.ok(pausedMs > 900 && pausedMs < 1400, `paused ${pausedMs} ms`);
    // For comparison, the same spool in "silence" mode keeps the paused second as silence.
    await mixSpool({ spoolDir, wavPath: join(dataDir, 'silence-mode.wav') });
    const silenceMode = decodeUlawWav(await readFile(join(dataDir, 'silence-mode.wav')));
    await rm(join(dataDir, 'silence-mode.wav'));
    assert.ok(
      longestSilenceMs(silenceMode, 0, silenceMode.length / 8) >= pausedMs - 60,
      'silence mode: a gap',
    );

    assert.equal(
      await finalizeRecording({ ...ctx, outputs: ['mono', 'stereo'], pauseMode: 'cut' }, id),
      'stored',
    );
    const row = await db.recordings.get(id);
    assert.ok(row);
    const wavFile = row.files.find((f) => f.kind === 'wav');
    const stereoFile = row.files.find((f) => f.kind === 'stereo');
    assert.ok(wavFile && stereoFile);
    const mono = decodeUlawWav(await decrypt(wavFile.path));
    const [left, right] = channelsOf(await decrypt(stereoFile.path)) as [Int16Array, Int16Array];
    const ms = mono.length / 8;
    assert.equal(left.length, mono.length);
    assert.ok(
      Math.abs(ms - (silenceMode.length / 8 - pausedMs)) <= 1,
      `cut file ${ms} ms = ${silenceMode.length / 8} ms - ${pausedMs} ms paused`,
    );
    assert.ok(ms > 1700 && ms < 2300, `about 2 s of the 3 s call are recorded: ${ms} ms`);
    // Continuous sound across the splice: at most one packet of silence where the pause was cut.
    const first = Math.min(
      ...(row.mediaStats as { legs: { firstPacketMs: number }[] }).legs.map((l) => l.firstPacketMs),
    );
    assert.ok(longestSilenceMs(mono, first + 40, ms - 60) <= 30, `no gap in the cut file`);
    const splice = cutFrom / 8;
    assert.ok(toneLevelDb(left, splice - 400, splice - 50, A_HZ) > -1, 'party A before the splice (left)');
    assert.ok(toneLevelDb(left, splice + 50, splice + 400, A_HZ) > -1, 'party A after the splice (left)');
    assert.ok(toneLevelDb(right, splice + 50, splice + 400, B_HZ) > -1, 'party B after the splice (right)');
    // The pause is still recorded, with its times.
    const evs = (row.events ?? []).filter((e) => e.type === 'stream-paused' || e.type === 'stream-resumed');
    assert.equal(evs.length, 4, JSON.stringify(row.events));
    const at = (type: string) => new Date(evs.find((e) => e.type === type)?.at as string | Date).getTime();
    const eventGap = at('stream-resumed') - at('stream-paused');
    assert.ok(Math.abs(eventGap - pausedMs) < 50, `events ${eventGap} ms apart, paused ${pausedMs} ms`);
  });

  it('pausedSpans: only time when every live leg is paused is cut', () => {
    const legs = (extra: object[] = []) => [
      { legId: 'leg0', port: 1, payloadTypes: {}, spool: 'leg0.spool' },
      { legId: 'leg1', port: 3, payloadTypes: {}, spool: 'leg1.spool' },
      ...(extra as never[]),
    ];
    // One party on hold: nothing is cut.
    assert.deepEqual(pausedSpans({ legs: legs(), pauses: [{ legId: 'leg0', from: 100, to: 900 }] }), []);
    // Overlap of both pauses only; a pause still open at the end runs to the end.
    assert.deepEqual(
      pausedSpans({
        legs: legs(),
        pauses: [
          { legId: 'leg0', from: 100, to: 900 },
          { legId: 'leg1', from: 300, to: 1200 },
          { legId: 'leg0', from: 2000, to: null },
          { legId: 'leg1', from: 2000, to: null },
        ],
      }),
      [
        [300, 900],
        [2000, 2 ** 48],
      ],
    );
    // A removed leg no longer holds the recording open; an added one does from when it came.
    assert.deepEqual(
      pausedSpans({
        legs: legs([{ legId: 'leg2', port: 5, payloadTypes: {}, spool: 'leg2.spool', addedAt: 700 }]).map(
          (l) => (l.legId === 'leg1' ? { ...l, removedAt: 400 } : l),
        ),
        pauses: [{ legId: 'leg0', from: 200, to: 1000 }],
      }),
      [[400, 700]],
    );
    assert.deepEqual(pausedSpans({ legs: legs() }), []);
  });

  it('a bad cut interval or a missing spool is a clear error, not a crash', async () => {
    const spoolDir = join(dataDir, 'empty-spool');
    await rm(spoolDir, { recursive: true, force: true });
    await assert.rejects(mixSpool({ spoolDir, wavPath: join(dataDir, 'x.wav'), cut: [[5, 1]] }), RangeError);
    await assert.rejects(mixSpool({ spoolDir, wavPath: join(dataDir, 'x.wav') }), /cannot mix/);
  });
});
