/**
 * Timeline placement end to end: the real server (`srs serve`), a SIPREC INVITE from the small UDP
 * UAC, and PCMU from an independent sender (Node dgram) whose RTP clock does not match the wall
 * clock. Each second of the sent audio is its own tone (300 + 100 k Hz for second k), so the stored
 * leg file, decrypted by the real gpg, shows which seconds are there. A re-anchor of the timeline
 * must never overwrite audio already recorded (docs/media-engine.md, "Timeline"): a sender whose
 * clock runs 5 % fast, and an SBC that steps the timestamps back 800 ms (same SSRC and sequence,
 * marker bit set), used to lose about 0.9 s and 0.8 s with nothing in the stats. A fast Opus
 * sender (ffmpeg's libopus) that never pauses is pulled back in its short silences, as G.711 is.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { wavOf } from '../helpers/recording.js';
import { encodeUlaw, onset, tone, toneLevelDb } from '../helpers/audio.js';
import { buildRtp } from '../helpers/rtp.js';
import { ffmpegRtp, sendPaced, timesOf } from '../helpers/codec-rtp.js';
import { SipUac, answeredStreams, siprecSdp } from '../helpers/sip-uac.js';

const hz = (second: number): number => 300 + 100 * second;

/** 20 ms PCMU packets of seconds `from`..`to - 1` (one tone each), from seq/ts on. */
function secondsOfTone(from: number, to: number, seq0: number, ts0: number, ssrc: number): Buffer[] {
  const out: Buffer[] = [];
  for (let k = from; k < to; k++) {
    const pcm = encodeUlaw(tone(hz(k), 1000));
    for (let i = 0; i < 50; i++) {
      const n = out.length;
      out.push(
        buildRtp({
          pt: 0,
          seq: (seq0 + n) & 0xffff,
          ts: (ts0 + n * 160) >>> 0,
          ssrc,
          payload: pcm.subarray(i * 160, i * 160 + 160),
        }),
      );
    }
  }
  return out;
}

/**
 * For each sent second, how many 100 ms windows of the file (from `t0` ms) hold its tone and
 * nothing else (within 3 dB). A second recorded whole fills at least 9 of them.
 */
function windowsPerSecond(pcm: Int16Array, t0: number, seconds: number): number[] {
  const counts = new Array<number>(seconds).fill(0);
  for (let ms = t0; ms + 100 <= pcm.length / 8; ms += 100) {
    for (let k = 0; k < seconds; k++) {
      if (toneLevelDb(pcm, ms, ms + 100, hz(k)) > -3) counts[k]! += 1;
    }
  }
  return counts;
}

interface LegDetail {
  legId: string;
  firstPacketMs: number | null;
  packetsReceived: number;
  packetsLost: number;
  reanchors?: number;
  aheadMs?: number;
}

describe(
  'timeline placement: a re-anchor never overwrites recorded audio (UAC + dgram -> srs serve -> gpg)',
  {
    timeout: 300000,
  },
  () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer({ SRS_OUTPUTS: 'mono,legs' });
      await server.waitFor(/SIPREC recording server ready/, 60000);
    });
    after(async () => {
      await server.stop();
    });

    /**
     * One stream answered (PCMU unless `offer` says otherwise); `packets` sent to it at `ptimeMs`
     * each, or at `at`; the stored leg and its file.
     */
    async function record(
      packets: Buffer[],
      ptimeMs: number,
      at?: number[],
      offer: { m: string; attrs: string[] } = { m: 'RTP/AVP 0', attrs: [] },
    ): Promise<{ leg: LegDetail; pcm: Int16Array }> {
      const uac = await SipUac.open(server.sipPort);
      const r = await uac.invite(siprecSdp([{ ...offer, label: '1' }]), ['1']);
      assert.equal(r.status, 200, `INVITE answered ${r.status}:\n${r.text}`);
      const port = answeredStreams(r.sdp)[0]!.port;
      await sendPaced(port, packets, ptimeMs, at);
      await sleep(300);
      assert.equal((await uac.bye()).status, 200);
      uac.close();
      const rec = await waitForState(server, uac.callId, 'stored');
      const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/recordings/${rec.id}`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      assert.equal(res.status, 200);
      const detail = (await res.json()) as { mediaStats: { legs: LegDetail[] } | null };
      const leg = detail.mediaStats?.legs[0];
      assert.ok(leg, 'media stats stored for the leg');
      const pcm = await wavOf(server, rec, 'leg0');
      return { leg, pcm };
    }

    it('a sender whose RTP clock runs 5 percent fast: every one of its 30 seconds is in the file', async (t) => {
      // 30 s of audio sent in 28.5 s: 20 ms packets every 19 ms.
      const { leg, pcm } = await record(secondsOfTone(0, 30, 7, 5000, 0xd71f7), 19);
      const t0 = leg.firstPacketMs ?? 0;
      const counts = windowsPerSecond(pcm, t0, 30);
      t.diagnostic(
        `leg ${JSON.stringify(leg)} file ${pcm.length / 8} ms, 100 ms windows per second ${counts.join(',')}`,
      );
      const missing = counts.flatMap((n, k) => (n >= 8 ? [] : [`second ${k}: ${n} windows`]));
      assert.deepEqual(missing, [], `seconds not recorded whole (file ${pcm.length / 8} ms, t0 ${t0} ms)`);
      assert.ok(pcm.length / 8 - t0 >= 29990, `all 30 s of audio after t0, file ${pcm.length / 8} ms`);
      assert.equal(leg.packetsReceived, 1500);
      assert.equal(leg.packetsLost, 0);
      assert.equal(typeof leg.reanchors, 'number', 'reanchors is in the stored media stats');
      assert.ok((leg.aheadMs ?? 0) > 1000, `aheadMs ${leg.aheadMs}: its audio ran ahead, none was dropped`);
    });

    it('an Opus sender 5 percent fast that never pauses: pulled back in its short silences, every tone burst whole (ffmpeg)', async (t) => {
      // 12 s from ffmpeg's libopus (no DTX, no marker after the first packet): second k holds a
      // 0.8 s tone of its own, then 0.2 s of silence. Sent 5 % fast (each packet 0.95 of its
      // timestamp's time), so its audio would end 0.6 s ahead of its arrival.
      const signal = '0.3*sin(2*PI*(300+100*floor(t))*t)*lt(t-floor(t),0.8)';
      const opus = await ffmpegRtp(['-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111'], {
        signal,
        ms: 12000,
      });
      const at = timesOf(opus.rtp, 48000).map((ms) => ms * 0.95);
      const { leg, pcm } = await record(opus.rtp, 20, at, {
        m: 'RTP/AVP 111',
        attrs: ['a=rtpmap:111 opus/48000/2'],
      });
      const t0 = leg.firstPacketMs ?? 0;
      const counts = windowsPerSecond(pcm, t0, 12);
      t.diagnostic(
        `leg ${JSON.stringify(leg)} file ${pcm.length / 8} ms, 100 ms windows per second ${counts.join(',')}`,
      );
      // A burst of 0.8 s fills 7 windows of 100 ms when on the grid, 6 when not.
      const missing = counts.flatMap((n, k) => (n >= 6 ? [] : [`second ${k}: ${n} windows`]));
      assert.deepEqual(
        missing,
        [],
        `tone bursts not recorded whole (file ${pcm.length / 8} ms, t0 ${t0} ms)`,
      );
      assert.equal(leg.packetsLost, 0);
      assert.ok((leg.reanchors ?? 0) > 0, `pulled back in its silences: reanchors ${leg.reanchors}`);
      // Before, it ran ahead by its whole drift (about 600 ms by the end; the file 12 s long).
      assert.ok((leg.aheadMs ?? Infinity) < 350, `aheadMs ${leg.aheadMs}: held near its arrival time`);
      assert.ok(
        pcm.length / 8 - t0 < 11750,
        `the file ends near the last arrival: ${pcm.length / 8 - t0} ms`,
      );
    });

    it('timestamps stepping back 800 ms with the marker bit (same SSRC and sequence): no audio overwritten, the re-anchor counted', async (t) => {
      // Seconds 0-1, then the media source switches: the sequence goes on, the timestamps step back.
      const first = secondsOfTone(0, 2, 100, 50000, 0x7e57);
      const second = secondsOfTone(2, 4, 100 + first.length, 50000 + 16000 - 6400, 0x7e57);
      second[0]![1] = second[0]![1]! | 0x80;
      const { leg, pcm } = await record([...first, ...second], 20);
      const t0 = leg.firstPacketMs ?? 0;
      const counts = windowsPerSecond(pcm, t0, 4);
      t.diagnostic(
        `leg ${JSON.stringify(leg)} file ${pcm.length / 8} ms, 100 ms windows per second ${counts.join(',')}`,
      );
      const missing = counts.flatMap((n, k) => (n >= 8 ? [] : [`second ${k}: ${n} windows`]));
      assert.deepEqual(missing, [], `seconds not recorded whole (file ${pcm.length / 8} ms, t0 ${t0} ms)`);
      assert.equal(leg.packetsReceived, 200);
      assert.equal(leg.packetsLost, 0);
      assert.ok((leg.reanchors ?? 0) >= 1, `reanchors ${leg.reanchors} in the stored media stats`);
    });

    it('a fast sender is brought back to its arrival time at its next talk spurt (marker bit after a pause)', async (t) => {
      // 10 s sent 5 % fast (lead 0.5 s), a pause of 1 s (1.05 s of its own clock), then a talk spurt.
      const first = secondsOfTone(0, 10, 1, 0, 0x5b0a7);
      const second = secondsOfTone(10, 12, 1 + first.length, first.length * 160 + 8400, 0x5b0a7);
      second[0]![1] = second[0]![1]! | 0x80;
      const spurtAt = (first.length - 1) * 19 + 1000;
      const at = [...first.map((_, i) => i * 19), ...second.map((_, i) => spurtAt + i * 19)];
      const { leg, pcm } = await record([...first, ...second], 19, at);
      const t0 = leg.firstPacketMs ?? 0;
      const counts = windowsPerSecond(pcm, t0, 12);
      t.diagnostic(
        `leg ${JSON.stringify(leg)} file ${pcm.length / 8} ms, 100 ms windows per second ${counts.join(',')}`,
      );
      const missing = counts.flatMap((n, k) => (n >= 8 ? [] : [`second ${k}: ${n} windows`]));
      assert.deepEqual(missing, [], `seconds not recorded whole (file ${pcm.length / 8} ms, t0 ${t0} ms)`);
      // By its timestamps the spurt would start 11.05 s after the first packet; it arrived at ~10.48 s.
      const startMs = onset(pcm, Math.round((t0 + 10000) * 8) + 8) / 8 - t0;
      t.diagnostic(`talk spurt at ${startMs} ms after the first packet, sent at ${spurtAt} ms`);
      assert.ok(
        startMs >= spurtAt - 20 && startMs <= spurtAt + 150,
        `talk spurt placed ${startMs.toFixed(1)} ms after the first packet, sent at ${spurtAt} ms`,
      );
      assert.equal(leg.packetsLost, 0);
      assert.ok((leg.reanchors ?? 0) >= 1, `reanchors ${leg.reanchors}`);
    });
  },
);
