// The engine decodes the field codecs over real UDP on loopback: G.722, Opus (20 and 60 ms,
// stereo), AMR and AMR-WB (octet-aligned and bandwidth-efficient), G.726-32 and G.729 with Annex B
// SID frames. Independent senders (the shipped ffmpeg, bcg729) encode a known signal; the mixed
// WAV must hold each tone at its time and level, and silence where the signal is silent. Then loss,
// reordering, SSRC change and pause for Opus and G.729, a payload-type switch between clock rates,
// and telephone-events on a 48 kHz clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PayloadSpec } from '../../src/media/index.js';
import {
  amrOctetToBandwidthEfficient,
  ffmpegRtp,
  g729Frames,
  g729Packets,
  rtpFields,
  sendPaced,
  signalPcm8k,
  timesOf,
} from '../helpers/codec-rtp.js';
import {
  assertSignal as assertSignalChecks,
  LoopbackEngine,
  type Recorded,
} from '../helpers/engine-loopback.js';
import { buildRtp } from '../helpers/rtp.js';

/** Rewrites a datagram's SSRC, sequence number and timestamp (a copy). */
function rewrite(p: Buffer, f: { ssrc?: number; seqAdd?: number; tsAdd?: number; pt?: number }): Buffer {
  const q = Buffer.from(p);
  if (f.ssrc !== undefined) q.writeUInt32BE(f.ssrc >>> 0, 8);
  if (f.seqAdd !== undefined) q.writeUInt16BE((q.readUInt16BE(2) + f.seqAdd) & 0xffff, 2);
  if (f.tsAdd !== undefined) q.writeUInt32BE((q.readUInt32BE(4) + f.tsAdd) >>> 0, 4);
  if (f.pt !== undefined) q[1] = (q[1]! & 0x80) | f.pt;
  return q;
}

/**
 * Splits the payloads of a sample-based codec of 2 samples a byte (G.726-32) into `bytes`-long
 * packets (RFC 3551 lets a packet end at any octet), with consecutive sequence numbers.
 */
function splitSamplePackets(packets: readonly Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  const f0 = rtpFields(packets[0]!);
  for (const p of packets) {
    const f = rtpFields(p);
    for (let pos = f.headerLength; pos < p.length; pos += bytes) {
      const payload = p.subarray(pos, Math.min(p.length, pos + bytes));
      const ts = (f.ts + (pos - f.headerLength) * 2) >>> 0;
      out.push(buildRtp({ pt: f.pt, seq: (f0.seq + out.length) & 0xffff, ts, ssrc: f.ssrc, payload }));
    }
  }
  return out;
}

/** The test signal's checks (engine-loopback.ts) at the codecs' level tolerance. */
function assertSignal(r: Recorded, label: string, opts: { skipFirstTone?: boolean } = {}): void {
  assertSignalChecks(r, label, { levelDb: [-18, -10], quietFromMs: 1150, secondToneLevel: true, ...opts });
}

describe('media engine codecs', { concurrency: 1 }, () => {
  const bench = new LoopbackEngine('srs-codecs-', 'codec');
  before(() => bench.start());
  after(() => bench.stop());

  /** Opens a one-leg session, runs `send(port)`, closes it and mixes it. */
  const record = (
    payloadTypes: Record<number, PayloadSpec>,
    send: (port: number, id: string) => Promise<void>,
  ): Promise<Recorded> => bench.record({ payloadTypes }, send);

  const ffmpegCases: {
    name: string;
    args: string[];
    pt: number;
    spec: PayloadSpec;
    codec: string;
    transform?: (payloadOf: Buffer) => Buffer;
    /** Bytes per 20 ms when ffmpeg's packets are larger (G.726: its encoder's fixed 256 ms frames). */
    split?: number;
  }[] = [
    {
      name: 'G.722 (16 kHz audio on the 8000 RTP clock)',
      args: ['-af', 'aresample=16000,asetnsamples=n=320', '-ac', '1', '-c:a', 'g722'],
      pt: 9,
      spec: { codec: 'G722', clockRate: 8000 },
      codec: 'G722',
    },
    {
      name: 'Opus stereo, 20 ms',
      args: ['-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111'],
      pt: 111,
      spec: { codec: 'opus', clockRate: 48000, channels: 2 },
      codec: 'opus',
    },
    {
      name: 'Opus mono, 60 ms',
      args: ['-ac', '1', '-c:a', 'libopus', '-b:a', '24k', '-frame_duration', '60', '-payload_type', '111'],
      pt: 111,
      spec: { codec: 'opus', clockRate: 48000, channels: 2 },
      codec: 'opus',
    },
    {
      name: 'AMR octet-aligned, 2 frames a packet',
      args: [
        '-af',
        'aresample=8000',
        '-ac',
        '1',
        '-c:a',
        'libopencore_amrnb',
        '-b:a',
        '12.2k',
        '-max_delay',
        '40000',
      ],
      pt: 97,
      spec: { codec: 'AMR', clockRate: 8000, fmtp: 'octet-align=1' },
      codec: 'AMR',
    },
    {
      name: 'AMR bandwidth-efficient',
      args: [
        '-af',
        'aresample=8000',
        '-ac',
        '1',
        '-c:a',
        'libopencore_amrnb',
        '-b:a',
        '7.95k',
        '-max_delay',
        '40000',
      ],
      pt: 97,
      spec: { codec: 'AMR', clockRate: 8000 },
      codec: 'AMR',
      transform: (p) => amrOctetToBandwidthEfficient(p, false),
    },
    {
      name: 'AMR-WB octet-aligned',
      args: [
        '-af',
        'aresample=16000',
        '-ac',
        '1',
        '-c:a',
        'libvo_amrwbenc',
        '-b:a',
        '23.85k',
        '-max_delay',
        '20000',
      ],
      pt: 97,
      spec: { codec: 'AMR-WB', clockRate: 16000, fmtp: 'octet-align=1' },
      codec: 'AMR-WB',
    },
    {
      name: 'AMR-WB bandwidth-efficient',
      args: [
        '-af',
        'aresample=16000',
        '-ac',
        '1',
        '-c:a',
        'libvo_amrwbenc',
        '-b:a',
        '12.65k',
        '-max_delay',
        '40000',
      ],
      pt: 97,
      spec: { codec: 'AMR-WB', clockRate: 16000, fmtp: 'mode-change-capability=2' },
      codec: 'AMR-WB',
      transform: (p) => amrOctetToBandwidthEfficient(p, true),
    },
    {
      name: 'G.726-32',
      args: ['-af', 'aresample=8000,asetnsamples=n=160', '-ac', '1', '-c:a', 'g726le', '-b:a', '32k'],
      pt: 97,
      spec: { codec: 'G726-32', clockRate: 8000 },
      codec: 'G726-32',
      split: 80,
    },
  ];

  for (const c of ffmpegCases) {
    it(`${c.name}: tones at their times and levels, silence between`, async () => {
      const cap = await ffmpegRtp(c.args);
      const rtp = c.split ? splitSamplePackets(cap.rtp, c.split) : cap.rtp;
      assert.ok(rtp.length > 20, 'ffmpeg sent RTP');
      const packets = rtp.map((p) => {
        if (!c.transform) return p;
        const hl = rtpFields(p).headerLength;
        return Buffer.concat([p.subarray(0, hl), c.transform(p.subarray(hl))]);
      });
      const at = timesOf(packets, c.spec.clockRate);
      const r = await record({ [c.pt]: c.spec }, (port) => sendPaced(port, packets, 20, at));
      assert.equal(r.stats.packetsReceived, packets.length);
      assert.equal(r.stats.packetsUndecodable, 0, 'every payload decoded');
      assert.deepEqual(r.stats.codecs, [c.codec]);
      assertSignal(r, c.name);
    });
  }

  it('G.729 with Annex B (bcg729, VAD on): tones, SID frames as silence, nothing undecodable', async () => {
    const frames = await g729Frames(await signalPcm8k(), true);
    const sids = frames.filter((f) => f.length === 2).length;
    assert.ok(sids > 0, 'the encoder sent SID frames in the silence');
    const packets = g729Packets(frames, 2);
    const ssrc = 0x729;
    const datagrams = packets.map((p, i) =>
      buildRtp({ pt: 18, seq: 100 + i, ts: 5000 + p.ts, ssrc, payload: p.payload }),
    );
    const r = await record({ 18: { codec: 'G729', clockRate: 8000, fmtp: 'annexb=yes' } }, (port) =>
      sendPaced(
        port,
        datagrams,
        20,
        packets.map((p) => p.ms - packets[0]!.ms),
      ),
    );
    assert.equal(r.stats.packetsUndecodable, 0);
    assert.deepEqual(r.stats.codecs, ['G729']);
    assertSignal(r, 'G.729');
  });

  for (const frames of [1, 12]) {
    it(`G.729 at ${frames * 10} ms a packet: tones at their times`, async () => {
      const g729 = await g729Frames(await signalPcm8k(), false);
      const packets = g729Packets(g729, frames);
      const datagrams = packets.map((p, i) =>
        buildRtp({ pt: 18, seq: 9 + i, ts: 123 + p.ts, ssrc: 0x1729, payload: p.payload }),
      );
      const r = await record({ 18: { codec: 'G729', clockRate: 8000 } }, (port) =>
        sendPaced(
          port,
          datagrams,
          frames * 10,
          packets.map((p) => p.ms - packets[0]!.ms),
        ),
      );
      assert.equal(r.stats.packetsUndecodable, 0);
      assert.equal(r.stats.packetsReceived, packets.length);
      assertSignal(r, `G.729 ${frames * 10} ms`);
    });
  }

  /**
   * Loss (one packet), reordering (two swapped), an SSRC change (the second tone comes from a new
   * SSRC with other sequence numbers and timestamps) and a pause (0.35-0.65 s).
   */
  async function impairments(
    label: string,
    datagrams: Buffer[],
    at: number[],
    spec: Record<number, PayloadSpec>,
  ) {
    const secondTone = at.findIndex((t) => t >= 1450);
    const sent: Buffer[] = [];
    const times: number[] = [];
    datagrams.forEach((d, i) => {
      if (i === 10) return; // lost
      const moved = i >= secondTone ? rewrite(d, { ssrc: 0x5eed, seqAdd: 7000, tsAdd: 0x12345678 }) : d;
      sent.push(moved);
      times.push(at[i]!);
    });
    // Reorder: two packets of the first tone swapped in sending order.
    const k = sent.findIndex((_, i) => times[i]! >= 200);
    [sent[k], sent[k + 1]] = [sent[k + 1]!, sent[k]!];
    let startMs = 0;
    const r = await record(spec, async (port, id) => {
      startMs = await bench.sendWithPause(port, id, sent, times);
    });
    assert.equal(r.stats.packetsLost, 1, `${label}: one packet lost`);
    assert.equal(r.stats.ssrcs.length, 2, `${label}: two SSRCs`);
    assert.ok((r.stats.packetsPaused ?? 0) > 5, `${label}: datagrams during the pause dropped`);
    bench.assertPausedTone(r, startMs, label, { inFirstTone: true });
    assertSignal(r, label, { skipFirstTone: true });
  }

  it('Opus: loss, reordering, SSRC change and pause keep the timeline', async () => {
    const cap = await ffmpegRtp(['-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111']);
    await impairments('opus', cap.rtp, timesOf(cap.rtp, 48000), {
      111: { codec: 'opus', clockRate: 48000, channels: 2 },
    });
  });

  it('G.729: loss, reordering, SSRC change and pause keep the timeline', async () => {
    const frames = await g729Frames(await signalPcm8k(), false);
    const packets = g729Packets(frames, 2);
    const datagrams = packets.map((p, i) =>
      buildRtp({ pt: 18, seq: 65500 + i, ts: p.ts, ssrc: 0x729a, payload: p.payload }),
    );
    await impairments(
      'G.729',
      datagrams,
      packets.map((p) => p.ms - packets[0]!.ms),
      {
        18: { codec: 'G729', clockRate: 8000 },
      },
    );
  });

  it('a payload-type switch from PCMU (8 kHz clock) to Opus (48 kHz clock) stays on the timeline', async () => {
    const pcmu = await ffmpegRtp([
      '-af',
      'aresample=8000,asetnsamples=n=160',
      '-ac',
      '1',
      '-c:a',
      'pcm_mulaw',
    ]);
    const opus = await ffmpegRtp(['-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111']);
    const pcmuAt = timesOf(pcmu.rtp, 8000);
    const opusAt = timesOf(opus.rtp, 48000);
    const first = pcmu.rtp.filter((_, i) => pcmuAt[i]! < 1000);
    const ssrc = rtpFields(first[0]!).ssrc;
    const seq0 = rtpFields(first[0]!).seq;
    const second = opus.rtp
      .map((p, i) => ({ p, t: opusAt[i]! }))
      .filter((x) => x.t >= 1000)
      .map((x, j) => ({ p: rewrite(x.p, { ssrc }), t: x.t, seq: (seq0 + first.length + j) & 0xffff }));
    for (const s of second) s.p.writeUInt16BE(s.seq, 2);
    const datagrams = [...first, ...second.map((s) => s.p)];
    const at = [...pcmuAt.slice(0, first.length), ...second.map((s) => s.t)];
    const r = await record(
      { 0: { codec: 'PCMU', clockRate: 8000 }, 111: { codec: 'opus', clockRate: 48000, channels: 2 } },
      (port) => sendPaced(port, datagrams, 20, at),
    );
    assert.deepEqual(r.stats.codecs, ['PCMU', 'opus']);
    assert.equal(r.stats.ssrcs.length, 1);
    assertSignal(r, 'PCMU then opus');
  });

  it('telephone-event on a 48 kHz clock: digit at its time with its duration in ms', async () => {
    const cap = await ffmpegRtp(['-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111']);
    const at = timesOf(cap.rtp, 48000);
    const f0 = rtpFields(cap.rtp[0]!);
    // Digit 7 at 500 ms for 100 ms (4800 ticks of 48 kHz): updates every 20 ms, three end packets.
    const evTs = (f0.ts + 24000) >>> 0;
    const te: { p: Buffer; t: number }[] = [];
    for (let d = 960; d <= 4800; d += 960) {
      const end = d === 4800;
      for (let rep = 0; rep < (end ? 3 : 1); rep++) {
        const payload = Buffer.from([7, end ? 0x8a : 0x0a, d >> 8, d & 0xff]);
        te.push({ p: buildRtp({ pt: 101, seq: 0, ts: evTs, ssrc: f0.ssrc, payload }), t: 500 + d / 48 });
      }
    }
    const all = [...cap.rtp.map((p, i) => ({ p, t: at[i]! })), ...te].sort((a, b) => a.t - b.t);
    all.forEach((x, i) => x.p.writeUInt16BE((f0.seq + i) & 0xffff, 2));
    const r = await record(
      {
        111: { codec: 'opus', clockRate: 48000, channels: 2 },
        101: { codec: 'telephone-event', clockRate: 48000 },
      },
      (port) =>
        sendPaced(
          port,
          all.map((x) => x.p),
          20,
          all.map((x) => x.t),
        ),
    );
    assert.equal(r.stats.dtmf?.length, 1);
    const d = r.stats.dtmf![0]!;
    assert.equal(d.digit, '7');
    assert.equal(d.durationMs, 100);
    assert.ok(Math.abs(d.atMs - (r.t0 + 500)) < 40, `digit at ${d.atMs - r.t0} ms, sent at 500`);
  });
});
