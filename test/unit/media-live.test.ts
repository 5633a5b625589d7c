// The native media engine over real UDP on loopback, on sessions while they are live (from issue
// 3's second round): a leg added on the session's timeline and one removed, the live tap for watched
// sessions only, a session ended off the event loop, and the packets of every session counted in one
// call. Stats, pause, RTCP and stereo files: media-features.test.ts.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { mixSpool, type LiveFrame } from '../../src/media/index.js';
import { decodeUlawWav, encodeUlaw, tone, toneLevelDb } from '../helpers/audio.js';
import { EngineSessions, HOST, PTS } from '../helpers/engine-sessions.js';
import { sendRtpStream } from '../helpers/rtp.js';

describe('media engine: live sessions (legs added and removed, live tap, counters, ending)', () => {
  // Ports 40000-49999: media-features.test.ts, which may run alongside, has 30000-39999.
  const bench = new EngineSessions('srs-media-live-', [40000, 49999]);
  before(() => bench.start());
  after(() => bench.stop());

  it('adds a leg to a live session on its timeline and removes one, keeping its audio', async () => {
    const { ports, spoolDir } = bench.open('grow', 1);
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
    const [taken, free] = bench.pool.allocate(2) as [number, number];
    await new Promise<void>((r) => blocker.bind(taken, HOST, () => r()));
    assert.throws(
      () => bench.engine.addLegs('grow', [{ legId: 'leg1', port: taken, payloadTypes: PTS }]),
      (err: Error) => err.name === 'PortInUseError' || /in use/.test(err.message),
    );
    blocker.close();
    assert.throws(
      () => bench.engine.addLegs('nope', [{ legId: 'leg1', port: free, payloadTypes: PTS }]),
      /no open/,
    );
    bench.engine.addLegs('grow', [{ legId: 'leg1', port: free, payloadTypes: PTS }]);
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
    bench.engine.removeLegs('grow', ['leg0']);
    // leg0's socket is gone: the port is ours to bind again.
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(ports[0] as number, HOST, () => resolve());
    });
    again.close();
    await bob;
    await sleep(100);
    const stats = bench.engine.closeSession('grow');
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
    const { ports } = bench.open('live', 1);
    const frames: LiveFrame[] = [];
    const batches: number[] = [];
    assert.ok(bench.engine.watch, 'the native engine offers a live tap');
    const stop = bench.engine.watch('live', (f) => {
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
    bench.engine.closeSession('live');
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
    const quick = bench.open('quick', 1);
    const ended = await bench.engine.endSession('quick');
    assert.equal(ended?.legs[0]?.packetsReceived, 0);
    const quickMeta = JSON.parse(await readFile(join(quick.spoolDir, 'session.json'), 'utf8')) as {
      legs: { legId: string }[];
    };
    assert.deepEqual(
      quickMeta.legs.map((l) => l.legId),
      ['leg0'],
    );
    assert.equal((await readFile(join(quick.spoolDir, 'leg0.spool'))).length, 16, 'header only');
    assert.equal(await bench.engine.endSession('quick'), undefined, 'ending twice is harmless');
    bench.pool.release(quick.ports);

    const before = bench.engine.mediaTotals();
    const { ports, spoolDir } = bench.open('ended', 1);
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
    const live = bench.engine.liveCounters().get('ended');
    assert.deepEqual(live, [
      { legId: 'leg0', packetsReceived: sent.packets, packetsLost: 0, packetsPaused: 0, packetsRejected: 0 },
    ]);
    assert.equal(bench.engine.mediaTotals().packetsReceived, before.packetsReceived + sent.packets);
    const stats = await bench.engine.endSession('ended');
    assert.equal(stats?.legs[0]?.packetsReceived, sent.packets);
    // Ended sessions stay in the totals; only open ones are listed live.
    assert.equal(bench.engine.mediaTotals().packetsReceived, before.packetsReceived + sent.packets);
    assert.equal(bench.engine.liveCounters().has('ended'), false);
    // Every record is on disk when the promise resolves: the whole second mixes.
    const wavPath = join(spoolDir, 'mix.wav');
    const r = await mixSpool({ spoolDir, wavPath });
    assert.ok(r.durationMs >= 990, `mixed ${r.durationMs} ms`);
    const pcm = decodeUlawWav(await readFile(wavPath));
    assert.ok(toneLevelDb(pcm, r.durationMs - 900, r.durationMs - 50, 440) > -1, 'the tone to its end');
    bench.pool.release(ports);
  });
});
