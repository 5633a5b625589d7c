// The native media engine over real UDP on loopback: timeline placement, codecs, RTP header
// variants, sequence handling, DTMF. Errors and a killed process: media-engine-lifecycle.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { loadMediaEngine, PortPool, type MediaEngine, type MediaEvent } from '../../src/media/index.js';
import {
  alawToLinear,
  decodeUlawWav,
  encodeAlaw,
  encodeUlaw,
  linearToUlaw,
  onset,
  parseWav,
  readSpool,
  rmsDbfs,
  tone,
  toneLevelDb,
} from '../helpers/audio.js';
import { buildRtp, sendDatagrams, sendRtpStream } from '../helpers/rtp.js';

const HOST = '127.0.0.1';

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return;
    await sleep(20);
  }
}

describe('media engine', () => {
  let dir: string;
  let engine: MediaEngine;
  let pool: PortPool;
  const events: MediaEvent[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-media-'));
    // A random slice of the ephemeral-free range, so parallel test files do not collide.
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    pool = new PortPool(base, base + 399);
    engine = loadMediaEngine({ bindAddress: HOST });
    engine.onEvents((batch) => events.push(...batch));
  });

  after(async () => {
    engine.close();
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('places each leg on the session timeline and mixes them (PCMU + PCMA)', async () => {
    const [p0, p1] = pool.allocate(2) as [number, number];
    const spoolDir = join(dir, 'tones');
    const before = performance.now();
    engine.openSession({
      recordingId: 'tones',
      spoolDir,
      legs: [
        { legId: 'leg0', port: p0, payloadTypes: { 0: 'PCMU' } },
        { legId: 'leg1', port: p1, payloadTypes: { 8: 'PCMA', 101: 'telephone-event' } },
      ],
    });
    const t0 = (before + performance.now()) / 2;
    assert.equal(engine.activeSessions, 1);
    // The engine's worker makes the directory, the spool files and session.json in its next pass
    // (openSession itself does no file work): within a tick (150 ms).
    const made = performance.now();
    while (performance.now() - made < 2000) {
      const there = await Promise.all(
        ['session.json', 'leg0.spool', 'leg1.spool'].map((f) =>
          stat(join(spoolDir, f)).then(
            () => true,
            () => false,
          ),
        ),
      );
      if (there.every(Boolean)) break;
      await sleep(10);
    }
    assert.ok(performance.now() - made < 1000, 'session files written within a second');
    const session = JSON.parse(await readFile(join(spoolDir, 'session.json'), 'utf8')) as {
      t0: number;
      legs: unknown[];
    };
    assert.ok(Math.abs(session.t0 - Date.now()) < 5000);
    assert.equal(session.legs.length, 2);

    const [s0, s1] = await Promise.all([
      sendRtpStream({ host: HOST, port: p0, pt: 0, codec: 'PCMU', samples: tone(440, 1000), ssrc: 0x1111 }),
      sleep(1500).then(() =>
        sendRtpStream({
          host: HOST,
          port: p1,
          pt: 8,
          codec: 'PCMA',
          samples: tone(1000, 1000),
          ssrc: 0x2222,
        }),
      ),
    ]);
    const stats = engine.closeSession('tones');
    assert.ok(stats);
    assert.equal(engine.closeSession('tones'), undefined, 'closeSession is safe twice');
    assert.equal(engine.activeSessions, 0);
    const [l0, l1] = stats.legs as [(typeof stats.legs)[0], (typeof stats.legs)[0]];
    assert.deepEqual(
      [l0.packetsReceived, l0.packetsLost, l0.packetsDuplicate, l0.packetsIgnored, l0.ssrcs],
      [50, 0, 0, 0, [0x1111]],
    );
    assert.deepEqual(
      [l1.packetsReceived, l1.packetsLost, l1.packetsDuplicate, l1.packetsIgnored, l1.ssrcs],
      [50, 0, 0, 0, [0x2222]],
    );
    const expected0 = s0.firstSendAt - t0;
    const expected1 = s1.firstSendAt - t0;
    assert.ok(
      Math.abs(l0.firstPacketMs! - expected0) < 20,
      `leg0 first packet ${l0.firstPacketMs} vs ${expected0}`,
    );
    assert.ok(
      Math.abs(l1.firstPacketMs! - expected1) < 20,
      `leg1 first packet ${l1.firstPacketMs} vs ${expected1}`,
    );

    const wavPath = join(dir, 'tones.wav');
    const mixed = await engine.mix({ spoolDir, wavPath });
    const wav = await readFile(wavPath);
    const info = parseWav(wav);
    assert.equal(info.formatTag, 7);
    assert.equal(info.channels, 1);
    assert.equal(info.sampleRate, 8000);
    assert.equal(info.bitsPerSample, 8);
    assert.equal(info.factSamples, info.data.length);
    assert.equal(mixed.samples, info.data.length);
    assert.equal(mixed.legs, 2);
    assert.ok(Math.abs(mixed.durationMs - (expected1 + 1000)) < 25, `length ${mixed.durationMs} ms`);

    const pcm = decodeUlawWav(wav);
    const on0 = onset(pcm, 0) / 8;
    // After the 1 s of 440 Hz, wherever the sender (paced by this busy process's timers) began it.
    const on1 = onset(pcm, Math.round((on0 + 1010) * 8)) / 8;
    assert.ok(Math.abs(on0 - expected0) <= 20, `440 Hz starts at ${on0} ms, sent at ${expected0} ms`);
    assert.ok(Math.abs(on1 - expected1) <= 20, `1000 Hz starts at ${on1} ms, sent at ${expected1} ms`);
    assert.ok(toneLevelDb(pcm, 100, 900, 440) > -1, '440 Hz in 0.1-0.9 s');
    assert.ok(toneLevelDb(pcm, 1600, 2400, 440) < -25, 'no 440 Hz in 1.6-2.4 s');
    assert.ok(toneLevelDb(pcm, 1600, 2400, 1000) > -1, '1000 Hz in 1.6-2.4 s');
    assert.equal(rmsDbfs(pcm, on0 + 1010, on1 - 10), -Infinity, 'silence between the tones');

    await waitFor(() => events.filter((e) => e.recordingId === 'tones').length >= 2);
    const firsts = events.filter((e) => e.recordingId === 'tones' && e.type === 'first-packet');
    assert.deepEqual(firsts.map((e) => e.legId).sort(), ['leg0', 'leg1']);
    pool.release([p0, p1]);
  });

  it('decodes packets with CSRCs, header extension and padding like plain ones', async () => {
    const [pa, pb, pc, pd] = pool.allocate(4) as [number, number, number, number];
    const spoolDir = join(dir, 'headers');
    engine.openSession({
      recordingId: 'headers',
      spoolDir,
      legs: [
        { legId: 'plain', port: pa, payloadTypes: { 0: 'PCMU' } },
        { legId: 'fancy', port: pb, payloadTypes: { 0: 'PCMU' } },
        { legId: 'alaw', port: pc, payloadTypes: { 8: 'PCMA' } },
        { legId: 'alltable', port: pd, payloadTypes: { 8: 'PCMA' } },
      ],
    });
    const samples = tone(700, 400, 12000);
    const header = {
      csrcs: [1, 2, 3],
      extension: { profile: 0xbede, data: Buffer.from([0x12, 0x34, 0x56, 0x00, 0x21, 0x00, 0x00, 0x00]) },
      padding: 7,
    };
    const common = { host: HOST, samples, realtime: false, startSeq: 65500, startTs: 0xffffff00 };
    await Promise.all([
      sendRtpStream({ ...common, port: pa, pt: 0, codec: 'PCMU', ssrc: 1 }),
      sendRtpStream({ ...common, port: pb, pt: 0, codec: 'PCMU', ssrc: 2, header }),
      sendRtpStream({ ...common, port: pc, pt: 8, codec: 'PCMA', ssrc: 3, header }),
      // Every A-law code word once, to check the A-law -> u-law table against the reference.
      sendDatagrams(HOST, pd, [
        buildRtp({
          pt: 8,
          seq: 1,
          ts: 0,
          ssrc: 4,
          payload: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        }),
      ]),
    ]);
    const stats = engine.closeSession('headers');
    assert.deepEqual(
      stats?.legs.map((l) => [l.packetsReceived, l.packetsIgnored, l.packetsLost]),
      [
        [20, 0, 0],
        [20, 0, 0],
        [20, 0, 0],
        [1, 0, 0],
      ],
    );
    const audio = async (leg: string): Promise<Buffer> => {
      const recs = await readSpool(join(spoolDir, `${leg}.spool`));
      for (let i = 1; i < recs.length; i++) {
        assert.equal(
          recs[i]!.offset,
          recs[i - 1]!.offset + recs[i - 1]!.bytes.length,
          'contiguous despite ts wrap',
        );
      }
      return Buffer.concat(recs.map((r) => r.bytes));
    };
    const plain = await audio('plain');
    assert.deepEqual(plain, encodeUlaw(samples));
    assert.deepEqual(await audio('fancy'), plain);
    const viaAlaw = Buffer.from(Array.from(encodeAlaw(samples), (a) => linearToUlaw(alawToLinear(a))));
    assert.deepEqual(await audio('alaw'), viaAlaw);
    const table = Buffer.from(Array.from({ length: 256 }, (_, a) => linearToUlaw(alawToLinear(a))));
    assert.deepEqual(await audio('alltable'), table);
    pool.release([pa, pb, pc, pd]);
  });

  it('counts duplicates, reordering, loss and late packets; DTMF is an event, not audio', async () => {
    const [port] = pool.allocate(1) as [number];
    const spoolDir = join(dir, 'seq');
    engine.openSession({
      recordingId: 'seq',
      spoolDir,
      legs: [{ legId: 'leg0', port, payloadTypes: { 0: 'PCMU', 101: 'telephone-event', 13: 'CN' } }],
    });
    const A = 0xaaaa0001;
    const B = 0xbbbb0002;
    const payload = encodeUlaw(tone(500, 20));
    const seq0 = 65530; // wraps after 6 packets
    const ts0 = 0xfffffe00;
    const audio = (i: number, ssrc = A, ts = ts0 + 160 * i): Buffer =>
      buildRtp({ pt: 0, seq: seq0 + i, ts, ssrc, payload });
    const order: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 3 || i === 15) continue; // 3 comes late (after 25), 15 is lost
      if (i === 5) continue; // 5 comes after 6
      order.push(audio(i));
      if (i === 6) order.push(audio(5));
      if (i === 10) order.push(audio(10)); // duplicate
      if (i === 25) order.push(audio(3)); // beyond the reorder window: late
    }
    // RFC 4733: digit 5, three updates then the end packet three times, one timestamp.
    const evTs = ts0 + 160 * 30;
    const dtmf = (k: number, end: boolean, duration: number): Buffer =>
      buildRtp({
        pt: 101,
        seq: seq0 + 30 + k,
        ts: evTs,
        ssrc: A,
        marker: k === 0,
        payload: Buffer.from([5, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]),
      });
    order.push(
      dtmf(0, false, 160),
      dtmf(1, false, 320),
      dtmf(2, true, 480),
      dtmf(3, true, 480),
      dtmf(4, true, 480),
    );
    for (let i = 35; i < 40; i++) order.push(audio(i, A, evTs + 480 + 160 * (i - 35)));
    order.push(buildRtp({ pt: 96, seq: seq0 + 40, ts: evTs + 1280, ssrc: A, payload })); // unknown PT
    order.push(buildRtp({ pt: 13, seq: seq0 + 41, ts: evTs + 1440, ssrc: A, payload: Buffer.from([40]) })); // CN
    order.push(Buffer.from([0x12, 0x34, 0x56])); // not RTP
    for (let i = 0; i < 5; i++) order.push(audio(i, B, 1000 + 160 * i)); // a new SSRC
    await sendDatagrams(HOST, port, order, 10);

    await sleep(400); // more than a flush interval: the spool is written while the call goes on
    assert.ok((await stat(join(spoolDir, 'leg0.spool'))).size > 16 + 6 * 160, 'spool written before close');
    const live = engine.sessionStats('seq');
    assert.equal(live?.legs[0]?.packetsDuplicate, 1);

    const leg = engine.closeSession('seq')!.legs[0]!;
    assert.equal(leg.packetsDuplicate, 1, 'duplicates');
    assert.equal(leg.packetsLost, 1, 'lost (15; 3 came late)');
    assert.equal(leg.packetsLate, 1, 'late');
    assert.equal(leg.packetsIgnored, 2, 'unknown PT and the non-RTP datagram');
    // 29 audio (30 - lost) + 5 DTMF + 5 audio + unknown PT + CN + 5 of SSRC B
    assert.equal(leg.packetsReceived, 29 + 5 + 5 + 1 + 1 + 5);
    assert.deepEqual(leg.ssrcs, [A, B]);

    const recs = await readSpool(join(spoolDir, 'leg0.spool'));
    const samples = recs.reduce((n, r) => n + r.bytes.length, 0);
    assert.equal(samples, (29 + 5 + 5) * 160, 'audio only: no DTMF, CN or unknown payloads');
    const first = recs.reduce((m, r) => Math.min(m, r.offset), Infinity);
    const byOffset = new Map(recs.map((r) => [r.offset - first, r]));
    assert.ok(!byOffset.has(15 * 160), 'the lost packet is a gap');

    await waitFor(() => events.some((e) => e.recordingId === 'seq' && e.type === 'dtmf'));
    const mine = events.filter((e) => e.recordingId === 'seq');
    const digits = mine.filter((e) => e.type === 'dtmf');
    assert.equal(digits.length, 1, 'one event for the three end packets');
    const d = digits[0]!;
    assert.ok(d.type === 'dtmf');
    assert.equal(d.digit, '5');
    assert.equal(d.durationMs, 60);
    assert.ok(Math.abs(d.atMs - (leg.firstPacketMs! + 600)) < 2, `digit at ${d.atMs} ms`);
    const change = mine.find((e) => e.type === 'ssrc-change');
    assert.ok(change && change.type === 'ssrc-change' && change.ssrc === B);
    assert.equal(mine.filter((e) => e.type === 'first-packet').length, 1);
    pool.release([port]);
  });
});
