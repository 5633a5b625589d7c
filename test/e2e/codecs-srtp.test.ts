/**
 * Codecs and SRTP end to end: the real server (`srs serve`: embedded Postgres, edge, drachtio-srf
 * app, native engine, pipeline), a SIPREC INVITE from a small UDP UAC (test/helpers/sip-uac.ts),
 * and media from independent senders sent to the answered ports: the shipped ffmpeg encodes the
 * test signal (600 Hz 0-1 s, silence 1-1.5 s, 1000 Hz 1.5-2.5 s) to G.722, Opus and AMR and sends
 * it over RTP or its own SRTP; G.729 frames come from bcg729. Each recording is stored, decrypted
 * by the real gpg and checked by its tones at their times. Also: a wrong SRTP key gives silence
 * with the auth failures on the recording and in /metrics, a re-key by re-INVITE leaves no gap, a
 * kill -9 in the middle of an SRTP + Opus call is recovered with its audio, and SRS_SRTP=require
 * turns plain RTP away with 488.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { decodeUlawWav, readSpool, rmsDbfs, toneLevelDb } from '../helpers/audio.js';
import { buildRtp } from '../helpers/rtp.js';
import { SrtpSender } from '../helpers/srtp.js';
import {
  ffmpegRtp,
  g729Frames,
  g729Packets,
  rtpFields,
  sendPaced,
  signalPcm8k,
} from '../helpers/codec-rtp.js';
import { SipUac, answeredStreams, siprecSdp, type OfferStream } from '../helpers/sip-uac.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const OPUS = ['-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111'];
const G722 = ['-af', 'aresample=16000,asetnsamples=n=320', '-ac', '1', '-c:a', 'g722'];
const AMR = ['-af', 'aresample=8000', '-ac', '1', '-c:a', 'libopencore_amrnb', '-b:a', '12.2k'];
const PCMU = ['-af', 'aresample=8000,asetnsamples=n=160', '-ac', '1', '-c:a', 'pcm_mulaw'];

/** Send times (ms from the first) of datagrams, from their RTP timestamps. */
function timesOf(packets: readonly Buffer[], clockRate: number): number[] {
  const ts0 = rtpFields(packets[0]!).ts;
  return packets.map((p) => (((rtpFields(p).ts - ts0) >>> 0) * 1000) / clockRate);
}

/** A copy with another payload type (the one our offer named). */
const withPt = (p: Buffer, pt: number): Buffer => {
  const q = Buffer.from(p);
  q[1] = (q[1]! & 0x80) | pt;
  return q;
};

interface Detail {
  streams: { label: string; codec: string; legId: string }[];
  mediaStats: {
    legs: {
      legId: string;
      firstPacketMs: number | null;
      packetsReceived: number;
      srtpAuthFailures?: number;
      packetsUndecodable?: number;
      codecs?: string[];
    }[];
  } | null;
  files: { kind: string }[];
  events: { type: string; text: string }[];
}

describe('codecs and SRTP end to end (UAC + ffmpeg/bcg729 -> srs serve -> gpg)', { timeout: 420000 }, () => {
  let server: TestServer;
  const servers: TestServer[] = [];

  before(async () => {
    server = await startTestServer({ SRS_OUTPUTS: 'mono,legs' });
    servers.push(server);
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    for (const s of servers) await s.stop();
  });

  const api = async <T>(s: TestServer, path: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1${path}`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  /** Places a call, returns the UAC and the answered streams (200 expected). */
  async function call(s: TestServer, streams: OfferStream[]) {
    const uac = await SipUac.open(s.sipPort);
    const r = await uac.invite(
      siprecSdp(streams),
      streams.map((x) => x.label),
    );
    assert.equal(r.status, 200, `INVITE answered ${r.status}:\n${r.text}`);
    return { uac, answer: answeredStreams(r.sdp) };
  }

  /** After BYE: the stored recording's API detail and a decrypting reader of its files. */
  async function stored(s: TestServer, callId: string) {
    const rec = await waitForState(s, callId, 'stored');
    const detail = await api<Detail>(s, `/recordings/${rec.id}`);
    const file = async (kind: string): Promise<Int16Array> => {
      const f = (await listRecordings(s)).find((r) => r.id === rec.id)?.files.find((x) => x.kind === kind);
      assert.ok(f, `${kind} file catalogued`);
      return decodeUlawWav(
        await gpgDecrypt(join(s.dataDir, 'keys', 'private.asc'), s.passphrase, join(s.dataDir, f.path)),
      );
    };
    return { rec, detail, file };
  }

  /** The test signal at its times from the leg's first packet (`t0`, ms into the file). */
  /** Waits (up to `limitMs`) until the spool files under `dir` span `wantMs`; returns the span. */
  async function spoolSpanMs(dir: string, wantMs: number, limitMs: number): Promise<number> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      let span = 0;
      const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.spool'));
      for (const f of files) {
        const recs = await readSpool(join(dir, f));
        if (recs.length === 0) continue;
        const first = Math.min(...recs.map((r) => r.offset));
        const end = Math.max(...recs.map((r) => r.offset + r.bytes.length));
        span = Math.max(span, (end - first) / 8);
      }
      if (span >= wantMs || Date.now() > deadline) return span;
      await sleep(50);
    }
  }

  function assertSignal(pcm: Int16Array, t0: number, label: string, upToMs = 2400): void {
    const at = (ms: number): number => t0 + ms;
    assert.ok(toneLevelDb(pcm, at(100), at(900), 600) > -3, `${label}: 600 Hz in 0.1-0.9 s`);
    const level = rmsDbfs(pcm, at(100), at(900));
    assert.ok(level > -18 && level < -10, `${label}: 600 Hz at ${level.toFixed(1)} dBFS (sent -13.5)`);
    const quiet = rmsDbfs(pcm, at(1150), at(1400));
    assert.ok(quiet < -45, `${label}: silence in 1.15-1.4 s, got ${quiet.toFixed(1)} dBFS`);
    assert.ok(toneLevelDb(pcm, at(1600), at(upToMs), 1000) > -3, `${label}: 1000 Hz from 1.6 s`);
    assert.ok(toneLevelDb(pcm, at(1600), at(upToMs), 600) < -20, `${label}: no 600 Hz from 1.6 s`);
  }

  it('G.722, Opus, AMR-NB (octet-aligned) and G.729 over RTP: every leg holds the tones at their times', async () => {
    const [g722, opus, amr, g729] = await Promise.all([
      ffmpegRtp(G722),
      ffmpegRtp(OPUS),
      ffmpegRtp(AMR),
      signalPcm8k().then((pcm) => g729Frames(pcm, false)),
    ]);
    const g729Pk = g729Packets(g729, 2);
    const g729Rtp = g729Pk.map((p, i) =>
      buildRtp({ pt: 18, seq: 1000 + i, ts: 160000 + p.ts, ssrc: 0x72972972, payload: p.payload }),
    );
    const { uac, answer } = await call(server, [
      {
        m: 'RTP/AVP 9 101',
        attrs: ['a=rtpmap:9 G722/8000', 'a=rtpmap:101 telephone-event/8000'],
        label: '1',
      },
      { m: 'RTP/AVP 111', attrs: ['a=rtpmap:111 opus/48000/2', 'a=fmtp:111 useinbandfec=1'], label: '2' },
      { m: 'RTP/AVP 97', attrs: ['a=rtpmap:97 AMR/8000', 'a=fmtp:97 octet-align=1'], label: '3' },
      { m: 'RTP/AVP 18', attrs: ['a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no'], label: '4' },
    ]);
    assert.deepEqual(
      answer.map((a) => [a.profile, a.pts]),
      [
        ['RTP/AVP', [9, 101]],
        ['RTP/AVP', [111]],
        ['RTP/AVP', [97]],
        ['RTP/AVP', [18]],
      ],
    );
    const amrRtp = amr.rtp.map((p) => withPt(p, 97));
    await Promise.all([
      sendPaced(answer[0]!.port, g722.rtp, 20, timesOf(g722.rtp, 8000)),
      sendPaced(answer[1]!.port, opus.rtp, 20, timesOf(opus.rtp, 48000)),
      sendPaced(answer[2]!.port, amrRtp, 20, timesOf(amrRtp, 8000)),
      sendPaced(answer[3]!.port, g729Rtp, 20, timesOf(g729Rtp, 8000)),
    ]);
    await sleep(300);
    assert.equal((await uac.bye()).status, 200);
    uac.close();

    const { detail, file } = await stored(server, uac.callId);
    assert.deepEqual(
      detail.streams.map((s) => [s.label, s.codec]),
      [
        ['1', 'G722'],
        ['2', 'opus'],
        ['3', 'AMR'],
        ['4', 'G729'],
      ],
    );
    const legs = detail.mediaStats?.legs ?? [];
    assert.deepEqual(
      legs.map((l) => l.codecs),
      [['G722'], ['opus'], ['AMR'], ['G729']],
    );
    for (const [i, name] of ['G.722', 'Opus', 'AMR-NB', 'G.729'].entries()) {
      const leg = legs[i]!;
      assert.equal(leg.packetsUndecodable ?? 0, 0, `${name}: every payload decoded`);
      assert.ok(leg.firstPacketMs !== null, `${name}: packets arrived`);
      assertSignal(await file(`leg${i}`), leg.firstPacketMs, name);
    }
  });

  it('SRTP: Opus under AES_CM_128_HMAC_SHA1_80 (ffmpeg’s own SRTP) and PCMU under the strongest of two offered suites (AEAD_AES_256_GCM) recorded; PCMU with a wrong key is silence, auth failures on the recording and in /metrics', async () => {
    const right = randomBytes(30);
    const offered = randomBytes(30);
    const wrong = randomBytes(30);
    const gcmKey = randomBytes(44);
    const [opus, pcmu, plain] = await Promise.all([
      ffmpegRtp(OPUS, { srtp: { suite: SUITE, keySalt: right } }),
      ffmpegRtp(PCMU, { srtp: { suite: SUITE, keySalt: wrong } }),
      ffmpegRtp(PCMU),
    ]);
    // RFC 7714 packets from the tests' own protector (ffmpeg has no GCM suite).
    const gcm = new SrtpSender({ suite: 'AEAD_AES_256_GCM', keySalt: gcmKey });
    const gcmRtp = plain.rtp.map((p) => gcm.protect(p));
    const { uac, answer } = await call(server, [
      {
        m: 'RTP/SAVP 111',
        attrs: ['a=rtpmap:111 opus/48000/2', `a=crypto:1 ${SUITE} inline:${right.toString('base64')}`],
        label: '1',
      },
      {
        m: 'RTP/SAVP 0',
        attrs: [`a=crypto:5 ${SUITE} inline:${offered.toString('base64')}|2^31`],
        label: '2',
      },
      {
        m: 'RTP/SAVP 0',
        attrs: [
          `a=crypto:1 ${SUITE} inline:${randomBytes(30).toString('base64')}`,
          `a=crypto:2 AEAD_AES_256_GCM inline:${gcmKey.toString('base64')}`,
        ],
        label: '3',
      },
    ]);
    assert.deepEqual(
      answer.map((a) => [a.profile, a.crypto.map((c) => c.split(' ').slice(0, 2).join(' '))]),
      [
        ['RTP/SAVP', [`1 ${SUITE}`]],
        ['RTP/SAVP', [`5 ${SUITE}`]],
        ['RTP/SAVP', ['2 AEAD_AES_256_GCM']],
      ],
    );
    // Our own fresh keys in the answer, not the offer's.
    for (const a of answer) {
      const key = /inline:([^|\s]+)/.exec(a.crypto[0]!)?.[1] ?? '';
      assert.equal(Buffer.from(key, 'base64').length, a === answer[2] ? 44 : 30);
      assert.ok(
        ![right, offered, gcmKey].some((k) => k.toString('base64') === key),
        'answer reuses the offer key',
      );
    }
    await Promise.all([
      sendPaced(answer[0]!.port, opus.rtp, 20, timesOf(opus.rtp, 48000)),
      sendPaced(answer[1]!.port, pcmu.rtp, 20, timesOf(pcmu.rtp, 8000)),
      sendPaced(answer[2]!.port, gcmRtp, 20, timesOf(plain.rtp, 8000)),
    ]);
    await sleep(300);
    assert.equal((await uac.bye()).status, 200);
    uac.close();

    const { detail, file } = await stored(server, uac.callId);
    const [good, bad, strong] = detail.mediaStats?.legs ?? [];
    assert.ok(good && bad && strong);
    assert.equal(strong.srtpAuthFailures ?? 0, 0, 'AEAD_AES_256_GCM: no auth failure');
    assertSignal(await file('leg2'), strong.firstPacketMs ?? 0, 'PCMU over AEAD_AES_256_GCM');
    assert.equal(good.srtpAuthFailures ?? 0, 0, 'right key: no auth failure');
    assertSignal(await file('leg0'), good.firstPacketMs ?? 0, 'Opus over SRTP');
    assert.equal(bad.srtpAuthFailures, pcmu.rtp.length, 'wrong key: every packet failed authentication');
    const leg1 = await file('leg1');
    assert.ok(rmsDbfs(leg1, 0, leg1.length / 8) < -60, 'wrong key: silence, never noise');
    assert.ok(
      detail.events.some(
        (e) => e.text === `${pcmu.rtp.length} SRTP packets failed authentication on leg1 (wrong key?)`,
      ),
      `timeline shows the failures: ${JSON.stringify(detail.events)}`,
    );
    const metrics = await (
      await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
        headers: { authorization: `Bearer ${server.token}` },
      })
    ).text();
    const total = Number(/^srs_srtp_auth_failures_total (\d+)/m.exec(metrics)?.[1]);
    assert.ok(total >= pcmu.rtp.length, `srs_srtp_auth_failures_total ${total}`);
    // Keys never in the log.
    for (const k of [right, offered, wrong, gcmKey])
      assert.ok(!server.output().includes(k.toString('base64')));
  });

  it('re-key by re-INVITE in the middle of a tone: no gap in the recording, no auth failure', async () => {
    const keyA = randomBytes(30);
    const keyB = randomBytes(30);
    // A 3 s 800 Hz tone as plain PCMU RTP from ffmpeg, protected here packet by packet.
    const tone = await ffmpegRtp(PCMU, { signal: '0.3*sin(2*PI*800*t)', ms: 3000 });
    const at = timesOf(tone.rtp, 8000);
    const stream = (key: Buffer): OfferStream => ({
      m: 'RTP/SAVP 0',
      attrs: [`a=crypto:1 ${SUITE} inline:${key.toString('base64')}`],
      label: '1',
    });
    const { uac, answer } = await call(server, [stream(keyA)]);
    let sender = new SrtpSender({ suite: SUITE, keySalt: keyA });
    const sock = createSocket('udp4');
    const start = performance.now();
    let rekeyed: Promise<void> | undefined;
    for (let i = 0; i < tone.rtp.length; i++) {
      const wait = start + at[i]! - performance.now();
      if (wait > 1) await sleep(wait);
      if (rekeyed === undefined && at[i]! >= 1300) {
        // The SRC switches keys once the answer is in (RFC 4568 section 7.1.4); packets keep flowing.
        rekeyed = uac.invite(siprecSdp([stream(keyB)], 2), ['1']).then((r) => {
          assert.equal(r.status, 200, `re-INVITE answered ${r.status}`);
          sender = new SrtpSender({ suite: SUITE, keySalt: keyB });
        });
      }
      const packet = sender.protect(tone.rtp[i]!);
      await new Promise<void>((resolve, reject) =>
        sock.send(packet, answer[0]!.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
    await rekeyed;
    sock.close();
    await sleep(300);
    assert.equal((await uac.bye()).status, 200);
    uac.close();

    const { rec, detail, file } = await stored(server, uac.callId);
    const leg = detail.mediaStats?.legs[0];
    assert.ok(leg?.firstPacketMs !== undefined && leg.firstPacketMs !== null);
    assert.equal(leg.srtpAuthFailures ?? 0, 0, 'no packet lost to the key change');
    assert.equal(leg.packetsReceived, tone.rtp.length, JSON.stringify(leg));
    const listed = (await listRecordings(server)).find((r) => r.id === rec.id) as unknown as {
      events: { type: string; detail: { suite?: string } }[];
    };
    assert.equal(listed.events.filter((e) => e.type === 'stream-rekeyed').length, 1);
    const pcm = await file('leg0');
    for (let ms = 100; ms + 100 <= 2900; ms += 100) {
      const t = leg.firstPacketMs + ms;
      assert.ok(toneLevelDb(pcm, t, t + 100, 800) > -3, `800 Hz in ${ms}-${ms + 100} ms (no gap)`);
    }
  });

  it('kill -9 during an SRTP + Opus call: recovered after restart with its audio; then SRS_SRTP=require refuses plain RTP', async () => {
    const key = randomBytes(30);
    const opus = await ffmpegRtp(OPUS, { srtp: { suite: SUITE, keySalt: key } });
    const { uac, answer } = await call(server, [
      {
        m: 'RTP/SAVP 111',
        attrs: ['a=rtpmap:111 opus/48000/2', `a=crypto:1 ${SUITE} inline:${key.toString('base64')}`],
        label: '1',
      },
    ]);
    const times = timesOf(opus.rtp, 48000);
    const upTo = times.findIndex((t) => t >= 2300);
    await sendPaced(answer[0]!.port, opus.rtp.slice(0, upTo), 20, times.slice(0, upTo));
    // A leg's records reach the writer every 450 ms, and a loaded machine's disk can hold the
    // writer up longer (docs/media-engine.md#crash-safety): wait until the spool on disk holds
    // the audio sent (up to 2.2 s past its first record), then kill the server mid-call. What this
    // proves is that what was on disk comes back whole, decoded from SRTP + Opus.
    const id = (await listRecordings(server)).find((r) => r.callId === uac.callId)?.id;
    assert.ok(id, 'the live call is in the catalogue');
    const onDiskMs = await spoolSpanMs(join(server.dataDir, 'spool', id), 2200, 10000);
    assert.ok(onDiskMs >= 2200, `the spool holds ${onDiskMs} ms of the 2,300 sent after 10 s`);
    server.proc.kill('SIGKILL');
    await server.stop('SIGKILL');
    uac.close();

    const second = await startTestServer({ SRS_SRTP: 'require' }, server.dataDir);
    servers.push(second);
    await second.waitFor(/SIPREC recording server ready/, 90000);
    const rec = await waitForState(second, uac.callId, 'stored');
    assert.equal((rec as unknown as { interrupted: boolean }).interrupted, true, 'flagged interrupted');
    const wav = (await listRecordings(second))
      .find((r) => r.id === rec.id)
      ?.files.find((f) => f.kind === 'wav');
    assert.ok(wav);
    const pcm = decodeUlawWav(
      await gpgDecrypt(
        join(second.dataDir, 'keys', 'private.asc'),
        second.passphrase,
        join(second.dataDir, wav.path),
      ),
    );
    // The first packet's place in the file: where the 600 Hz tone starts (5 ms steps).
    let t0 = -1;
    for (let ms = 0; ms + 40 <= pcm.length / 8 && t0 < 0; ms += 5)
      if (toneLevelDb(pcm, ms, ms + 40, 600, 200) > -4) t0 = ms;
    assert.ok(t0 >= 0, 'the 600 Hz tone is in the recovered file');
    assertSignal(pcm, t0, 'recovered SRTP + Opus', 2100);
    assert.ok(!second.output().includes(key.toString('base64')));

    // SRS_SRTP=require: plain RTP gets 488 with a Warning; SRTP is answered.
    const plain = await SipUac.open(second.sipPort);
    const refused = await plain.invite(siprecSdp([{ m: 'RTP/AVP 0', label: '1' }]), ['1']);
    plain.close();
    assert.equal(refused.status, 488);
    assert.match(refused.header('Warning') ?? '', /^305 srs ".*plain RTP not accepted \(SRS_SRTP=require\)/);
    const secure = await call(second, [
      { m: 'RTP/SAVP 0', attrs: [`a=crypto:1 ${SUITE} inline:${key.toString('base64')}`], label: '1' },
    ]);
    assert.equal(secure.answer[0]!.profile, 'RTP/SAVP');
    assert.equal((await secure.uac.bye()).status, 200);
    secure.uac.close();
    await waitForState(second, secure.uac.callId, 'stored');
  });
});
