// The native media engine over real UDP on loopback, for what came with issue 3's second round:
// per-leg stats (RFC 3550 jitter, DTMF kept out of the audio and listed), pause/resume recorded as
// silence with events, RTCP on port+1 drained and counted (bound only when asked), stereo and
// per-leg files. Live sessions (legs added and removed, the live tap, counters, ending off the event
// loop): media-live.test.ts.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { mixSpool } from '../../src/media/index.js';
import { decodeUlaw, decodeUlawWav, encodeUlaw, parseWav, tone, toneLevelDb } from '../helpers/audio.js';
import { EngineSessions, HOST } from '../helpers/engine-sessions.js';
import { buildRtp, sendDatagrams, sendRtpStream } from '../helpers/rtp.js';

describe('media engine: stats, pause, RTCP, stereo', () => {
  // Ports 30000-39999: media-live.test.ts, which may run alongside, has 40000-49999.
  const bench = new EngineSessions('srs-media-features-', [30000, 39999]);
  before(() => bench.start());
  after(() => bench.stop());

  it('measures RFC 3550 jitter and lists DTMF in the stats, keeping it out of the audio', async () => {
    const { ports, spoolDir } = bench.open('stats', 2);
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
    const stats = bench.engine.closeSession('stats');
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
    // Every file of a recording spans the whole call (so that they line up): it ends where the later
    // leg's second of audio ends (leg1's first packet can arrive a little after leg0's), never with
    // the DTMF's 60 ms as audio after it.
    const lastStart = Math.max(first, s1.firstPacketMs ?? 0);
    assert.ok(pcm.length / 8 <= lastStart + 1000 + 1, `file ends with the audio (${pcm.length / 8} ms)`);
  });

  it('records a paused interval as silence, with pause and resume events at their times', async () => {
    const { ports, spoolDir } = bench.open('paused', 1);
    bench.events.length = 0;
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
    assert.equal(bench.engine.pause('paused'), true);
    assert.equal(bench.engine.pause('paused'), true, 'pausing twice is harmless');
    assert.equal(bench.engine.pause('paused', ['nope']), false, 'unknown leg');
    await sleep(1000);
    const resumedAt = performance.now();
    assert.equal(bench.engine.resume('paused', ['leg0']), true);
    const sent = await sending;
    await sleep(200);
    const stats = bench.engine.closeSession('paused');
    const leg = stats?.legs[0];
    assert.ok(leg);
    // Measured on this process's clock: timers run late on a loaded machine, the engine does not.
    const expectPaused = (resumedAt - pausedAt) / 20;
    assert.ok(
      Math.abs((leg.packetsPaused ?? 0) - expectPaused) <= 8,
      `about ${expectPaused.toFixed(0)} packets arrived while paused: ${leg.packetsPaused}`,
    );
    const pause = bench.events.find((e) => e.type === 'pause' && e.recordingId === 'paused');
    const resume = bench.events.find((e) => e.type === 'resume' && e.recordingId === 'paused');
    assert.ok(pause && resume, `pause and resume events: ${JSON.stringify(bench.events)}`);
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
    const withRtcp = bench.open('rtcp', 1, true);
    const without = bench.open('no-rtcp', 1, false);
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
    const s = bench.engine.closeSession('rtcp');
    assert.equal(s?.legs[0]?.rtcpPackets, 5);
    assert.equal(s?.legs[0]?.packetsIgnored, 0, 'RTCP does not reach the RTP receiver');
    assert.equal(bench.engine.closeSession('no-rtcp')?.legs[0]?.rtcpPackets, 0);
  });

  it('writes a stereo file with one party per channel, and per-leg files of the same length', async () => {
    const { ports, spoolDir } = bench.open('stereo', 2);
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
    bench.engine.closeSession('stereo');
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
});
