/**
 * The RFC 3550 jitter statistic across a 32-bit RTP timestamp wrap, on the native leg logic
 * (addon simulateLeg: the LegReceiver the worker runs, fed datagrams at given arrival times). A
 * 48 kHz (Opus) or 16 kHz (AMR-WB) clock wraps every 24.8 h or 74.6 h of RTP time, and a stream
 * starts at a random timestamp, so a call may cross the wrap at any time. Before the fix the raw
 * timestamp was scaled to 8 kHz, which jumps at the wrap: the stored jitterMs read hours (8,805 ms
 * in the review's probe). Now the same packets give the same jitter whether they wrap or not.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { simulateLegNative } from '../../src/media/engine.js';
import type { PayloadSpec } from '../../src/media/index.js';
import { buildRtp } from '../helpers/rtp.js';

interface Clock {
  name: string;
  spec: PayloadSpec;
  /** RTP clock ticks per 20 ms packet. */
  frame: number;
  /** One 20 ms frame's payload (its content does not matter to the statistic). */
  payload: Buffer;
}

const CLOCKS: Clock[] = [
  // Opus TOC only (config 31, 20 ms, code 0): an empty frame, which the decoder conceals.
  {
    name: 'Opus 48 kHz',
    spec: { codec: 'opus', clockRate: 48000, channels: 2 },
    frame: 960,
    payload: Buffer.from([0xf8]),
  },
  // AMR-WB bandwidth-efficient, CMR 15, one NO_DATA frame.
  {
    name: 'AMR-WB 16 kHz',
    spec: { codec: 'AMR-WB', clockRate: 16000 },
    frame: 320,
    payload: Buffer.from([0xf7, 0xc0]),
  },
  {
    name: 'PCMU 8 kHz',
    spec: { codec: 'PCMU', clockRate: 8000 },
    frame: 160,
    payload: Buffer.alloc(160, 0xff),
  },
];
const PACKETS = 200;

describe('RFC 3550 jitter across an RTP timestamp wrap (native leg logic)', () => {
  let dir = '';
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-jitter-wrap-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** jitterQ4 of PACKETS 20 ms packets from `ts0`, arriving every 20 ms plus `late(i)` samples. */
  function jitterQ4(c: Clock, ts0: number, late: (i: number) => number): number {
    const ops = Array.from({ length: PACKETS }, (_, i) => ({
      at: 8000 + i * 160 + late(i),
      data: buildRtp({
        pt: 96,
        seq: 1000 + i,
        ts: (ts0 + i * c.frame) >>> 0,
        ssrc: 0x5eed,
        payload: c.payload,
      }),
    }));
    const r = simulateLegNative(join(dir, `leg-${++n}.spool`), { 96: c.spec }, ops);
    assert.equal(r.packetsReceived, PACKETS, `${c.name}: every packet received`);
    return r.jitterQ4;
  }

  for (const c of CLOCKS) {
    it(`${c.name}: the same jitter whether the timestamp wraps or not`, () => {
      const wrapping = 2 ** 32 - 50 * c.frame; // wraps at the 51st packet
      const low = 1000;
      // Paced exactly: no jitter at all, across the wrap too.
      const paced = jitterQ4(c, wrapping, () => 0);
      assert.equal(
        paced,
        0,
        `${c.name}: paced packets across the wrap, jitterQ4 ${paced} (${paced / 128} ms)`,
      );
      // Every other packet 1 ms (8 samples) late: the wrap changes nothing.
      const jittery = (i: number): number => (i % 2) * 8;
      const wrapped = jitterQ4(c, wrapping, jittery);
      const plain = jitterQ4(c, low, jittery);
      assert.ok(plain > 0, `${c.name}: the late packets show as jitter (${plain})`);
      assert.equal(wrapped, plain, `${c.name}: jitterQ4 ${wrapped} across the wrap, ${plain} without`);
    });
  }
});
