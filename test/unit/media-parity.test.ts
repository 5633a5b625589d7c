/**
 * Randomized parity: the native engine's leg logic (addon simulateLeg: the same LegReceiver and
 * spool writer the worker uses, fed deterministically) and the TypeScript reference
 * (src/media/reference) get the same packet sequences, with loss, reordering, duplicates, jitter,
 * SSRC changes, late starts, gaps (with and without timestamp jumps), senders whose clock runs
 * fast, quiet packets, paused legs (SIPREC pause /
 * a=inactive) that resume, sequence wrap, DTMF, comfort noise, unknown payload types, malformed
 * datagrams and header extensions, for sessions of one to three legs. The spools, counters (jitter
 * and DTMF included), events and the mixed WAVs (mono, stereo, per leg; native mixer vs reference
 * mixer) must be byte-identical.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mixSpool } from '../../src/media/index.js';
import { simulateLegNative } from '../../src/media/engine.js';
import type { PayloadKind } from '../../src/media/types.js';
import { mixSpoolsToWav, simulateLegRef, type LegOp } from '../../src/media/reference/index.js';
import { buildRtp } from '../helpers/rtp.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const PAYLOAD_TYPES: Record<number, PayloadKind> = { 0: 'PCMU', 8: 'PCMA', 13: 'CN', 101: 'telephone-event' };
const TICK = 1200; // the worker's 150 ms tick, in samples

interface Sent {
  at: number;
  data: Buffer;
}

/** One leg's datagrams with their arrival times, impaired as the case's random draws say. */
function legPackets(rnd: () => number): Sent[] {
  const int = (n: number): number => Math.floor(rnd() * n);
  const chance = (p: number): boolean => rnd() < p;
  const pt = chance(0.5) ? 0 : 8;
  const ptime = chance(0.8) ? 160 : 80 + int(160);
  const lossP = chance(0.5) ? rnd() * 0.15 : 0;
  const dupP = chance(0.4) ? rnd() * 0.1 : 0;
  const jitter = chance(0.6) ? int(800) : 0;
  // A sender whose clock runs 5 % fast, and quiet packets (G.711 zero) it may be pulled back by.
  const fast = chance(0.3);
  const quietP = chance(0.3) ? 0.25 : 0;
  const out: Sent[] = [];
  let ssrc = (rnd() * 0x100000000) >>> 0;
  let seq = chance(0.3) ? 65535 - int(40) : int(65536); // sometimes wrap soon
  let ts = (rnd() * 0x100000000) >>> 0;
  let when = chance(0.5) ? int(16000) : 0; // late start, up to 2 s
  const segments = 1 + int(3);
  for (let s = 0; s < segments; s++) {
    if (s > 0) {
      const what = int(4);
      const gap = 800 + int(24000); // pause of 0.1-3 s
      when += gap;
      if (what === 0) {
        // New SSRC (transfer, hold/resume through another device): new seq and timestamp bases.
        ssrc = (rnd() * 0x100000000) >>> 0;
        seq = int(65536);
        ts = (rnd() * 0x100000000) >>> 0;
      } else if (what === 1) {
        ts = (ts + gap) >>> 0; // pause with the RTP clock running on
        seq = (seq + 1) & 0xffff;
      } else if (what === 2) {
        ts = (ts + int(0x7fffffff)) >>> 0; // timestamp jump
      } else {
        seq = (seq + 1 + int(5000)) & 0xffff; // a large sequence jump (probation)
      }
    }
    const n = 20 + int(150);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.03) {
        // DTMF: a few packets of one event at one timestamp, the end packet sent three times.
        const ev = int(16);
        for (let k = 0; k < 3; k++) {
          const end = k === 2;
          const payload = Buffer.from([
            ev,
            (end ? 0x80 : 0) | 10,
            ((k + 1) * 160) >> 8,
            ((k + 1) * 160) & 0xff,
          ]);
          for (let rep = 0; rep < (end ? 3 : 1); rep++) {
            out.push({
              at: when + k * 160 + int(jitter + 1),
              data: buildRtp({ pt: 101, seq, ts, ssrc, payload }),
            });
          }
          seq = (seq + 1) & 0xffff;
        }
        when += 480;
        ts = (ts + 480) >>> 0;
        continue;
      }
      if (r < 0.04) {
        out.push({ at: when, data: Buffer.from([0x12, 0x34, int(256)]) }); // not RTP
        continue;
      }
      const payload = Buffer.alloc(ptime);
      if (chance(quietP)) payload.fill(pt === 0 ? 0xff : 0xd5);
      else for (let k = 0; k < ptime; k++) payload[k] = int(256);
      const kind = rnd();
      const usePt = kind < 0.02 ? 13 : kind < 0.04 ? 99 : pt; // CN, unknown
      const header =
        kind > 0.95
          ? { csrcs: [1, 2], extension: { profile: 0xbede, data: Buffer.alloc(8, 7) }, padding: 4 }
          : {};
      const data = buildRtp({
        pt: usePt,
        seq,
        ts,
        ssrc,
        marker: i === 0,
        payload: usePt === 13 ? payload.subarray(0, 1) : payload,
        ...header,
      });
      if (!chance(lossP)) {
        out.push({ at: when + int(jitter + 1), data });
        if (chance(dupP)) out.push({ at: when + int(jitter + 1) + int(400), data });
      }
      seq = (seq + 1) & 0xffff;
      ts = (ts + ptime) >>> 0;
      when += fast ? ptime - Math.floor(ptime / 20) : ptime;
    }
  }
  // Arrival order: by arrival time (stable), which turns jitter into reordering.
  out.sort((a, b) => a.at - b.at);
  return out;
}

/**
 * Interleaves worker ticks every 150 ms with the datagrams, and sometimes a pause (SIPREC pause or
 * a=inactive while the sender goes on sending) and its resume.
 */
function withTicks(packets: Sent[], rnd: () => number): LegOp[] {
  const ops: LegOp[] = [];
  let nextTick = TICK;
  const last = packets.at(-1)?.at ?? 0;
  let pauseAt = rnd() < 0.4 ? Math.floor(rnd() * last) : Infinity;
  let resumeAt = pauseAt + 800 + Math.floor(rnd() * 16000);
  for (const p of packets) {
    while (p.at >= nextTick) {
      ops.push({ at: nextTick });
      nextTick += TICK;
    }
    if (p.at >= pauseAt) {
      ops.push({ at: pauseAt, pause: true });
      pauseAt = Infinity;
    }
    if (p.at >= resumeAt) {
      ops.push({ at: resumeAt, resume: true });
      resumeAt = Infinity;
    }
    ops.push({ at: p.at, data: p.data });
  }
  ops.push({ at: nextTick });
  return ops;
}

describe('native engine and TypeScript reference agree byte for byte', () => {
  const CASES = 200;
  it(`${CASES} random sessions (1-3 legs): identical spools, counters, events and mixed WAV`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'srs-parity-'));
    try {
      let packets = 0;
      let lost = 0;
      let late = 0;
      let dup = 0;
      let ssrcChanges = 0;
      let reanchors = 0;
      let paused = 0;
      let dtmf = 0;
      let jittered = 0;
      let cutCases = 0;
      for (let c = 0; c < CASES; c++) {
        const seed = 0x5eed0000 + c;
        const rnd = prng(seed);
        const legs = 1 + Math.floor(rnd() * 3);
        const spoolDir = join(dir, `case${c}`);
        await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
        const refSpools: Buffer[] = [];
        for (let l = 0; l < legs; l++) {
          const ops = withTicks(legPackets(rnd), rnd);
          const path = join(spoolDir, `leg${l}.spool`);
          const native = simulateLegNative(path, PAYLOAD_TYPES, ops);
          const ref = simulateLegRef(PAYLOAD_TYPES, ops);
          const where = `case ${c} (seed ${seed.toString(16)}) leg ${l}`;
          const { events: nativeEvents, ...nativeCounters } = native;
          assert.deepEqual(ref.counters, nativeCounters, `${where}: counters`);
          assert.deepEqual(ref.events, nativeEvents, `${where}: events`);
          assert.ok((await readFile(path)).equals(ref.spool), `${where}: spool bytes differ`);
          refSpools.push(ref.spool);
          packets += native.packetsReceived;
          lost += native.packetsLost;
          late += native.packetsLate;
          dup += native.packetsDuplicate;
          ssrcChanges += native.ssrcs.length - 1;
          reanchors += native.reanchors;
          paused += native.packetsPaused;
          dtmf += native.dtmf.length;
          if (native.jitterQ4 > 0) jittered++;
        }
        const wavPath = join(spoolDir, 'mix.wav');
        await mixSpool({ spoolDir, wavPath });
        const nativeWav = await readFile(wavPath);
        const refWav = mixSpoolsToWav(refSpools);
        assert.equal(refWav.length, nativeWav.length, `case ${c}: WAV length`);
        assert.ok(refWav.equals(nativeWav), `case ${c} (seed ${seed.toString(16)}): WAV bytes differ`);
        // Stereo (legs alternating between the channels) and each leg's own file.
        const stereo = [0, 1].map((ch) => refSpools.map((_, i) => i).filter((i) => i % 2 === ch));
        if (stereo[1]?.length === 0) stereo.pop();
        const stereoPath = join(spoolDir, 'stereo.wav');
        await mixSpool({
          spoolDir,
          wavPath: stereoPath,
          channels: stereo.map((ch) => ch.map((i) => `leg${i}`)),
        });
        assert.ok(
          mixSpoolsToWav(refSpools, stereo).equals(await readFile(stereoPath)),
          `case ${c}: stereo WAV bytes differ`,
        );
        // Pause "cut" mode: random timeline intervals (overlapping, unsorted, past the end) left out.
        const total = nativeWav.readUInt32LE(46); // fact chunk: samples
        const cuts: [number, number][] = [];
        for (let k = Math.floor(rnd() * 4); k > 0; k--) {
          const from = Math.floor(rnd() * (total + 400));
          cuts.push([from, from + Math.floor(rnd() * 4000)]);
        }
        const cutPath = join(spoolDir, 'cut.wav');
        await mixSpool({
          spoolDir,
          wavPath: cutPath,
          channels: stereo.map((ch) => ch.map((i) => `leg${i}`)),
          cut: cuts,
        });
        const refCut = mixSpoolsToWav(refSpools, stereo, cuts);
        assert.ok(
          refCut.equals(await readFile(cutPath)),
          `case ${c} (cuts ${JSON.stringify(cuts)}): cut WAV bytes differ`,
        );
        if (cuts.length > 0) cutCases++;
        const lastLeg = legs - 1;
        const legPath = join(spoolDir, 'one-leg.wav');
        await mixSpool({ spoolDir, wavPath: legPath, channels: [[`leg${lastLeg}`]] });
        assert.ok(
          mixSpoolsToWav(refSpools, [[lastLeg]]).equals(await readFile(legPath)),
          `case ${c}: per-leg WAV bytes differ`,
        );
      }
      // The generator really produced the impairments it is meant to cover.
      assert.ok(packets > 5000, `packets ${packets}`);
      assert.ok(cutCases > 50, `cases with cuts ${cutCases}`);
      assert.ok(lost > 0 && late > 0 && dup > 0, `lost ${lost} late ${late} duplicates ${dup}`);
      assert.ok(ssrcChanges > 0 && reanchors > 0, `ssrc changes ${ssrcChanges} reanchors ${reanchors}`);
      assert.ok(
        paused > 0 && dtmf > 0 && jittered > 0,
        `paused ${paused} dtmf ${dtmf} jittered legs ${jittered}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
