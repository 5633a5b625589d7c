/**
 * A re-INVITE that changes how AMR is packed on the same payload type (RFC 4867 `octet-align`),
 * end to end: the real server (`srs serve`), a SIPREC INVITE from the test UAC, and AMR-NB 12.2k
 * from the shipped ffmpeg (libopencore_amrnb) as the independent sender. The call starts
 * octet-aligned; a re-INVITE then offers bandwidth-efficient packing on the same payload type, and
 * the same signal follows in that packing (converted by amrOctetToBandwidthEfficient) to the port
 * the answer names. The stored mix, decrypted by the real gpg, must hold the test signal after the
 * re-INVITE as well as before it, and no packet may be undecodable.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { wavOf } from '../helpers/recording.js';
import { rmsDbfs, toneLevelDb } from '../helpers/audio.js';
import { buildRtp } from '../helpers/rtp.js';
import {
  amrOctetToBandwidthEfficient,
  ffmpegRtp,
  rtpFields,
  sendPaced,
  timesOf,
} from '../helpers/codec-rtp.js';
import { SipUac, answeredStreams, siprecSdp, type OfferStream } from '../helpers/sip-uac.js';

const AMR = ['-af', 'aresample=8000', '-ac', '1', '-c:a', 'libopencore_amrnb', '-b:a', '12.2k'];

interface Detail {
  streams: { label: string; codec: string; legId: string }[];
  mediaStats: {
    legs: {
      legId: string;
      firstPacketMs: number | null;
      packetsReceived: number;
      packetsUndecodable?: number;
    }[];
  } | null;
}

describe('re-INVITE changing AMR octet-align (UAC + ffmpeg -> srs serve -> gpg)', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ SRS_OUTPUTS: 'mono,legs' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server.stop();
  });

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  /** The test signal (600 Hz 0-1 s, silence, 1000 Hz 1.5-2.5 s) at `t0` ms into the mix. */
  function assertSignal(pcm: Int16Array, t0: number, label: string): void {
    const at = (ms: number): number => t0 + ms;
    assert.ok(
      pcm.length / 8 >= at(2400),
      `${label}: the mix reaches ${Math.round(at(2400))} ms (${pcm.length / 8} ms)`,
    );
    const level = rmsDbfs(pcm, at(100), at(900));
    assert.ok(level > -18 && level < -10, `${label}: 600 Hz at ${level.toFixed(1)} dBFS (sent -13.5)`);
    assert.ok(toneLevelDb(pcm, at(100), at(900), 600) > -3, `${label}: 600 Hz in 0.1-0.9 s`);
    const quiet = rmsDbfs(pcm, at(1150), at(1400));
    assert.ok(quiet < -45, `${label}: silence in 1.15-1.4 s, got ${quiet.toFixed(1)} dBFS`);
    assert.ok(toneLevelDb(pcm, at(1600), at(2400), 1000) > -3, `${label}: 1000 Hz in 1.6-2.4 s`);
  }

  it('octet-aligned then bandwidth-efficient on payload type 97: the signal after the re-INVITE is in the mix and nothing is undecodable', async () => {
    // 3.5 s (silent after 2.5 s): ffmpeg leaves out the last part-filled packet, so the signal is whole.
    const amr = await ffmpegRtp(AMR, { ms: 3500 });
    const ts0 = rtpFields(amr.rtp[0]!).ts;
    const n = amr.rtp.length;
    // One SSRC throughout; the second copy continues the sequence, 3 s later in RTP time.
    const packet = (p: Buffer, i: number, efficient: boolean): Buffer => {
      const f = rtpFields(p);
      const payload = p.subarray(f.headerLength);
      return buildRtp({
        pt: 97,
        seq: 2000 + i,
        ts: (10000 + ((f.ts - ts0) >>> 0) + (efficient ? 24000 : 0)) >>> 0,
        ssrc: 0xa3a3a3a3,
        payload: efficient ? amrOctetToBandwidthEfficient(payload, false) : payload,
      });
    };
    const octet = amr.rtp.map((p, i) => packet(p, i, false));
    const efficient = amr.rtp.map((p, i) => packet(p, n + i, true));
    const stream = (fmtp: string): OfferStream => ({
      m: 'RTP/AVP 97',
      attrs: ['a=rtpmap:97 AMR/8000', `a=fmtp:97 ${fmtp}`],
      label: '1',
    });

    const uac = await SipUac.open(server.sipPort);
    const first = await uac.invite(siprecSdp([stream('octet-align=1')]), ['1']);
    assert.equal(first.status, 200, `INVITE answered ${first.status}:\n${first.text}`);
    assert.match(first.sdp, /a=fmtp:97 octet-align=1/);
    const start1 = performance.now();
    await sendPaced(answeredStreams(first.sdp)[0]!.port, octet, 20, timesOf(octet, 8000));
    // ffmpeg packs 40 frames (0.8 s) a packet: the re-INVITE comes once the first signal has played.
    await sleep(start1 + 3700 - performance.now());

    const re = await uac.invite(siprecSdp([stream('octet-align=0;mode-change-capability=2')], 2), ['1']);
    assert.equal(re.status, 200, `re-INVITE answered ${re.status}:\n${re.text}`);
    const answered = answeredStreams(re.sdp);
    assert.deepEqual(
      answered.map((a) => a.pts),
      [[97]],
    );
    // The answer agrees to bandwidth-efficient packing (the SRC sends what it offered).
    assert.doesNotMatch(re.sdp, /octet-align=1/);
    const start2 = performance.now();
    await sendPaced(answered[0]!.port, efficient, 20, timesOf(efficient, 8000));
    await sleep(300);
    assert.equal((await uac.bye()).status, 200);
    uac.close();

    const rec = await waitForState(server, uac.callId, 'stored');
    const detail = await api<Detail>(`/recordings/${rec.id}`);
    const legs = detail.mediaStats?.legs ?? [];
    assert.ok(legs.length > 0, 'media stats stored');
    const undecodable = legs.reduce((sum, l) => sum + (l.packetsUndecodable ?? 0), 0);
    const received = legs.reduce((sum, l) => sum + l.packetsReceived, 0);
    assert.equal(undecodable, 0, `no undecodable packet: ${JSON.stringify(legs)}`);
    assert.equal(received, 2 * n, `all ${2 * n} packets received: ${JSON.stringify(legs)}`);

    const pcm = await wavOf(server, rec);
    const t0 = legs[0]!.firstPacketMs;
    assert.ok(t0 !== null, 'packets arrived');
    assertSignal(pcm, t0, 'before the re-INVITE');
    // After it: the same signal, placed by arrival (the time between the two sends' starts).
    assertSignal(pcm, t0 + (start2 - start1), 'after the re-INVITE');
  });
});
