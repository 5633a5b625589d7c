// The native media engine over real UDP on loopback, for what came with issue 3's second round:
// per-leg stats (RFC 3550 jitter, DTMF kept out of the audio and listed), pause/resume recorded as
// silence with events, RTCP on port+1 drained and counted (bound only when asked), stereo and
// per-leg files, and the live tap for watched sessions only.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  loadMediaEngine,
  mixSpool,
  PortPool,
  type LiveFrame,
  type MediaEngine,
  type MediaEvent,
} from '../../src/media/index.js';
import { decodeUlaw, decodeUlawWav, encodeUlaw, parseWav, tone, toneLevelDb } from '../helpers/audio.js';
import { buildRtp, sendDatagrams, sendRtpStream } from '../helpers/rtp.js';

const HOST = '127.0.0.1';
const PTS = { 0: 'PCMU', 8: 'PCMA', 101: 'telephone-event' } as const;

describe('media engine: stats, pause, RTCP, stereo, live tap', () => {
  let dir: string;
  let engine: MediaEngine;
  let pool: PortPool;
  const events: MediaEvent[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-media-features-'));
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    pool = new PortPool(base, base + 199);
    engine = loadMediaEngine({ bindAddress: HOST });
    engine.onEvents((batch) => events.push(...batch));
  });

  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  function open(id: string, legs: number, rtcp = false): { ports: number[]; spoolDir: string } {
    const ports = pool.allocate(legs);
    const spoolDir = join(dir, id);
    engine.openSession({
      recordingId: id,
      spoolDir,
      legs: ports.map((port, i) => ({ legId: `leg${i}`, port, payloadTypes: PTS })),
      rtcp,
    });
    return { ports, spoolDir };
  }

  it('measures RFC 3550 jitter and lists DTMF in the stats, keeping it out of the audio', async () => {
    const { ports, spoolDir } = open('stats', 2);
    const [steady, jittery] = ports as [number, number];
    // leg0: paced at 20 ms; leg1: the same audio with every other packet 8 ms late.
    const samples = encodeUlaw(tone(440, 1000));
    const sock = createSocket('udp4');
    const seqBase = 1000;
    const tsBase = 50000;
    const start = performance.now();
    for (let i = 0; i < 50; i++) {
      const payload = samples.subarray(i * 160, (i + 1) * 160);
      const pkt = (ssrc: number) =>
        buildRtp({ pt: 0, seq: seqBase + i, ts: tsBase + i * 160, ssrc, payload });
      const due = start + i * 20;
      await sleep(Math.max(0, due - performance.now()));
      sock.send(pkt(1), steady, HOST);
      if (i % 2 === 0) sock.send(pkt(2), jittery, HOST);
      else setTimeout(() => sock.send(pkt(2), jittery, HOST), 8);
    }
    // Then DTMF "5" on leg0: three packets of one event (RFC 4733), the end packet three times.
    const dtmfTs = tsBase + 50 * 160;
    const dtmf = [0, 1, 2].flatMap((k) =>
      Array.from({ length: k === 2 ? 3 : 1 }, () =>
        buildRtp({
          pt: 101,
          seq: seqBase + 50 + k,
          ts: dtmfTs,
          ssrc: 1,
          payload: Buffer.from([5, (k === 2 ? 0x80 : 0) | 10, (160 * (k + 1)) >> 8, (160 * (k + 1)) & 0xff]),
        }),
      ),
    );
    await sendDatagrams(HOST, steady, dtmf, 20);
    await sleep(100);
    sock.close();
    const stats = engine.closeSession('stats');
    assert.ok(stats);
    const [s0, s1] = stats.legs;
    assert.ok(s0 && s1);
    assert.equal(s0.packetsReceived, 50 + 3, 'audio and DTMF packets counted (end repeats are duplicates)');
    assert.ok(s1.jitterMs !== undefined && s0.jitterMs !== undefined);
    assert.ok(s1.jitterMs > 2, `the jittery leg shows jitter (${s1.jitterMs} ms)`);
    assert.ok(s0.jitterMs < s1.jitterMs, `paced ${s0.jitterMs} ms < jittery ${s1.jitterMs} ms`);
    assert.equal(s0.dtmf?.length, 1);
    assert.equal(s0.dtmf?.[0]?.digit, '5');
    assert.equal(s0.dtmf?.[0]?.durationMs, 60);
    const at = s0.dtmf?.[0]?.atMs ?? 0;
    const first = s0.firstPacketMs ?? 0;
    assert.ok(Math.abs(at - first - 1000) < 40, `DTMF placed at ${at - first} ms after the first packet`);
    // The leg's own file holds the tone for 1 s, and nothing where the DTMF was.
    const legWav = join(spoolDir, 'leg0.wav');
    await mixSpool({ spoolDir, wavPath: legWav, channels: [['leg0']] });
    const pcm = decodeUlawWav(await readFile(legWav));
    assert.ok(toneLevelDb(pcm, first + 100, first + 900, 440) > -1, 'tone in leg0');
    assert.ok(pcm.length / 8 <= first + 1000 + 1, `file ends with the audio (${pcm.length / 8} ms)`);
  });

  it('records a paused interval as silence, with pause and resume events at their times', async () => {
    const { ports, spoolDir } = open('paused', 1);
    events.length = 0;
    const sending = sendRtpStream({
      host: HOST,
      port: ports[0] as number,
      pt: 0,
      codec: 'PCMU',
      samples: tone(440, 3000),
      ssrc: 0xabc,
    });
    await sleep(1000);
    const pausedAt = performance.now();
    assert.equal(engine.pause('paused'), true);
    assert.equal(engine.pause('paused'), true, 'pausing twice is harmless');
    assert.equal(engine.pause('paused', ['nope']), false, 'unknown leg');
    await sleep(1000);
    const resumedAt = performance.now();
    assert.equal(engine.resume('paused', ['leg0']), true);
    const sent = await sending;
    await sleep(200);
    const stats = engine.closeSession('paused');
    const leg = stats?.legs[0];
    assert.ok(leg);
    // Measured on this process's clock: timers run late on a loaded machine, the engine does not.
    const expectPaused = (resumedAt - pausedAt) / 20;
    assert.ok(
      Math.abs((leg.packetsPaused ?? 0) - expectPaused) <= 8,
      `about ${expectPaused.toFixed(0)} packets arrived while paused: ${leg.packetsPaused}`,
    );
    const pause = events.find((e) => e.type === 'pause' && e.recordingId === 'paused');
    const resume = events.find((e) => e.type === 'resume' && e.recordingId === 'paused');
    assert.ok(pause && resume, `pause and resume events: ${JSON.stringify(events)}`);
    const first = leg.firstPacketMs ?? 0;
    const wantPause = pausedAt - sent.firstSendAt;
    const wantResume = resumedAt - sent.firstSendAt;
    assert.ok(
      Math.abs(pause.atMs - first - wantPause) < 40,
      `pause at ${pause.atMs - first} ms (${wantPause})`,
    );
    assert.ok(
      Math.abs(resume.atMs - first - wantResume) < 40,
      `resume at ${resume.atMs - first} ms (${wantResume})`,
    );

    const wavPath = join(spoolDir, 'mix.wav');
    await mixSpool({ spoolDir, wavPath });
    const pcm = decodeUlawWav(await readFile(wavPath));
    const p = pause.atMs;
    const r = resume.atMs;
    assert.ok(toneLevelDb(pcm, first + 100, p - 50, 440) > -1, 'tone before the pause');
    assert.equal(toneLevelDb(pcm, p + 30, r - 10, 440), -Infinity, 'silence while paused');
    assert.ok(toneLevelDb(pcm, r + 60, first + 2900, 440) > -1, 'tone after the resume');
    assert.ok(Math.abs(pcm.length / 8 - (first + 3000)) < 100, `time kept: file ${pcm.length / 8} ms`);
  });

  it('drains and counts RTCP on port+1 only when asked, binding nothing there otherwise', async () => {
    const withRtcp = open('rtcp', 1, true);
    const without = open('no-rtcp', 1, false);
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1]); // an empty receiver report
    await sendDatagrams(HOST, (withRtcp.ports[0] as number) + 1, [rr, rr, rr, rr, rr]);
    // Without RTCP the engine holds no socket on port+1: we can bind it ourselves.
    const probe = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind((without.ports[0] as number) + 1, HOST, () => resolve());
    });
    probe.close();
    const probe2 = createSocket('udp4');
    const inUse = await new Promise<boolean>((resolve) => {
      probe2.once('error', () => resolve(true));
      probe2.bind((withRtcp.ports[0] as number) + 1, HOST, () => resolve(false));
    });
    probe2.close();
    assert.equal(inUse, true, 'port+1 is bound when RTCP is on');
    await sleep(250);
    const s = engine.closeSession('rtcp');
    assert.equal(s?.legs[0]?.rtcpPackets, 5);
    assert.equal(s?.legs[0]?.packetsIgnored, 0, 'RTCP does not reach the RTP receiver');
    assert.equal(engine.closeSession('no-rtcp')?.legs[0]?.rtcpPackets, 0);
  });

  it('writes a stereo file with one party per channel, and per-leg files of the same length', async () => {
    const { ports, spoolDir } = open('stereo', 2);
    await Promise.all([
      sendRtpStream({
        host: HOST,
        port: ports[0] as number,
        pt: 0,
        codec: 'PCMU',
        samples: tone(440, 1000),
        ssrc: 1,
      }),
      sleep(300).then(() =>
        sendRtpStream({
          host: HOST,
          port: ports[1] as number,
          pt: 8,
          codec: 'PCMA',
          samples: tone(1000, 1000),
          ssrc: 2,
        }),
      ),
    ]);
    await sleep(100);
    engine.closeSession('stereo');
    const stereoPath = join(spoolDir, 'stereo.wav');
    const r = await mixSpool({ spoolDir, wavPath: stereoPath, channels: [['leg0'], ['leg1']] });
    const info = parseWav(await readFile(stereoPath));
    assert.equal(info.formatTag, 7);
    assert.equal(info.channels, 2);
    assert.equal(info.blockAlign, 2);
    assert.equal(info.byteRate, 16000);
    assert.equal(info.factSamples, r.samples);
    assert.equal(info.data.length, 2 * r.samples);
    const all = decodeUlaw(info.data);
    const left = all.filter((_, i) => i % 2 === 0);
    const right = all.filter((_, i) => i % 2 === 1);
    assert.ok(toneLevelDb(left, 400, 900, 440) > -1, 'alice on the left');
    assert.ok(toneLevelDb(left, 400, 900, 1000) < -30, 'no bob on the left');
    assert.ok(toneLevelDb(right, 500, 1200, 1000) > -1, 'bob on the right');
    assert.ok(toneLevelDb(right, 500, 1200, 440) < -30, 'no alice on the right');
    const leg1Path = join(spoolDir, 'leg1.wav');
    const l1 = await mixSpool({ spoolDir, wavPath: leg1Path, channels: [['leg1']] });
    assert.equal(l1.samples, r.samples, 'per-leg files line up with the mix');
    const leg1 = decodeUlawWav(await readFile(leg1Path));
    assert.ok(toneLevelDb(leg1, 500, 1200, 1000) > -1);
    assert.equal(toneLevelDb(leg1, 0, 250, 1000), -Infinity, 'bob silent before he started');
    await assert.rejects(
      mixSpool({ spoolDir, wavPath: join(spoolDir, 'x.wav'), channels: [['leg7']] }),
      /no spool for leg/,
    );
  });

  it('adds a leg to a live session on its timeline and removes one, keeping its audio', async () => {
    const { ports, spoolDir } = open('grow', 1);
    const alice = sendRtpStream({
      host: HOST,
      port: ports[0] as number,
      pt: 0,
      codec: 'PCMU',
      samples: tone(440, 1000),
      ssrc: 1,
    });
    await sleep(500);
    // A taken port: PortInUseError, and the session is unchanged.
    const blocker = createSocket('udp4');
    const [taken, free] = pool.allocate(2) as [number, number];
    await new Promise<void>((r) => blocker.bind(taken, HOST, () => r()));
    assert.throws(
      () => engine.addLegs('grow', [{ legId: 'leg1', port: taken, payloadTypes: PTS }]),
      (err: Error) => err.name === 'PortInUseError' || /in use/.test(err.message),
    );
    blocker.close();
    assert.throws(
      () => engine.addLegs('nope', [{ legId: 'leg1', port: free, payloadTypes: PTS }]),
      /no open/,
    );
    engine.addLegs('grow', [{ legId: 'leg1', port: free, payloadTypes: PTS }]);
    const bob = sendRtpStream({
      host: HOST,
      port: free,
      pt: 8,
      codec: 'PCMA',
      samples: tone(1000, 1000),
      ssrc: 2,
    });
    await alice;
    await sleep(100);
    engine.removeLegs('grow', ['leg0']);
    // leg0's socket is gone: the port is ours to bind again.
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(ports[0] as number, HOST, () => resolve());
    });
    again.close();
    await bob;
    await sleep(100);
    const stats = engine.closeSession('grow');
    assert.deepEqual(
      stats?.legs.map((l) => [l.legId, l.packetsReceived]),
      [
        ['leg0', 50],
        ['leg1', 50],
      ],
    );
    const meta = JSON.parse(await readFile(join(spoolDir, 'session.json'), 'utf8')) as {
      legs: { legId: string }[];
    };
    assert.deepEqual(
      meta.legs.map((l) => l.legId),
      ['leg0', 'leg1'],
    );
    const wavPath = join(spoolDir, 'mix.wav');
    await mixSpool({ spoolDir, wavPath });
    const pcm = decodeUlawWav(await readFile(wavPath));
    const first = stats?.legs[0]?.firstPacketMs ?? 0;
    const second = stats?.legs[1]?.firstPacketMs ?? 0;
    assert.ok(second - first > 450 && second - first < 650, `bob joined ${second - first} ms after alice`);
    assert.ok(toneLevelDb(pcm, first + 100, first + 400, 440) > -1, 'alice alone first');
    assert.ok(toneLevelDb(pcm, second + 600, second + 900, 1000) > -1, 'bob alone at the end');
    assert.ok(toneLevelDb(pcm, second + 100, first + 900, 1000) > -7, 'both in the overlap (bob)');
    assert.ok(toneLevelDb(pcm, second + 100, first + 900, 440) > -7, 'both in the overlap (alice)');
  });

  it('hands live frames over for watched sessions only, every ~150 ms', async () => {
    const { ports } = open('live', 1);
    const frames: LiveFrame[] = [];
    const batches: number[] = [];
    assert.ok(engine.watch, 'the native engine offers a live tap');
    const stop = engine.watch('live', (f) => {
      frames.push(...f);
      batches.push(performance.now());
    });
    const audio = tone(440, 1000);
    await sendRtpStream({
      host: HOST,
      port: ports[0] as number,
      pt: 0,
      codec: 'PCMU',
      samples: audio,
      ssrc: 9,
    });
    await sleep(300);
    stop();
    const got = frames.length;
    await sendRtpStream({
      host: HOST,
      port: ports[0] as number,
      pt: 0,
      codec: 'PCMU',
      samples: tone(440, 300),
      ssrc: 9,
    });
    await sleep(300);
    engine.closeSession('live');
    assert.equal(frames.length, got, 'nothing after the watcher left');
    assert.ok(batches.length >= 4 && batches.length <= 20, `${batches.length} batches in ~1.3 s`);
    const samples = frames.reduce((n, f) => n + f.ulaw.length, 0);
    assert.equal(samples, 8000, 'every sample of the watched second');
    assert.ok(frames.every((f) => f.legId === 'leg0'));
    // Frames are in timeline order and contiguous.
    for (let i = 1; i < frames.length; i++) {
      const prev = frames[i - 1] as LiveFrame;
      assert.equal((frames[i] as LiveFrame).offset, prev.offset + prev.ulaw.length);
    }
    assert.deepEqual(
      Buffer.concat(frames.map((f) => f.ulaw)),
      encodeUlaw(audio),
      'the live audio is the audio sent',
    );
  });

  it('ends a session off the event loop, and counts packets of every session in one call', async () => {
    // Closed before the worker's first pass: its spool file and session.json are still made.
    const quick = open('quick', 1);
    const ended = await engine.endSession('quick');
    assert.equal(ended?.legs[0]?.packetsReceived, 0);
    const quickMeta = JSON.parse(await readFile(join(quick.spoolDir, 'session.json'), 'utf8')) as {
      legs: { legId: string }[];
    };
    assert.deepEqual(
      quickMeta.legs.map((l) => l.legId),
      ['leg0'],
    );
    assert.equal((await readFile(join(quick.spoolDir, 'leg0.spool'))).length, 16, 'header only');
    assert.equal(await engine.endSession('quick'), undefined, 'ending twice is harmless');
    pool.release(quick.ports);

    const before = engine.mediaTotals();
    const { ports, spoolDir } = open('ended', 1);
    const [port] = ports as [number];
    const sent = await sendRtpStream({
      host: HOST,
      port,
      pt: 0,
      codec: 'PCMU',
      samples: tone(440, 1000),
      ssrc: 7,
    });
    await sleep(100);
    const live = engine.liveCounters().get('ended');
    assert.deepEqual(live, [
      { legId: 'leg0', packetsReceived: sent.packets, packetsLost: 0, packetsPaused: 0, packetsRejected: 0 },
    ]);
    assert.equal(engine.mediaTotals().packetsReceived, before.packetsReceived + sent.packets);
    const stats = await engine.endSession('ended');
    assert.equal(stats?.legs[0]?.packetsReceived, sent.packets);
    // Ended sessions stay in the totals; only open ones are listed live.
    assert.equal(engine.mediaTotals().packetsReceived, before.packetsReceived + sent.packets);
    assert.equal(engine.liveCounters().has('ended'), false);
    // Every record is on disk when the promise resolves: the whole second mixes.
    const wavPath = join(spoolDir, 'mix.wav');
    const r = await mixSpool({ spoolDir, wavPath });
    assert.ok(r.durationMs >= 990, `mixed ${r.durationMs} ms`);
    const pcm = decodeUlawWav(await readFile(wavPath));
    assert.ok(toneLevelDb(pcm, r.durationMs - 900, r.durationMs - 50, 440) > -1, 'the tone to its end');
    pool.release(ports);
  });
});
