/**
 * SRTP latching against a forged datagram, on the real server (`srs serve`, real UDP on loopback;
 * 127.0.0.2 plays another host). The SRC names no usable address (`c=` is a hostname), so its leg
 * latches on the first source. A host without the key sends one datagram with no valid SRTP tag
 * before the SRC's first packet, and another during a 6 s silence of the SRC (past the 5 s after
 * which another host may take a leg over). Neither may take the leg: a packet latches an SRTP leg
 * only once it has authenticated. Before the fix the first forged datagram took the leg and every
 * packet of the SRC was rejected (nothing recorded), and the second locked the SRC out after its
 * silence. The stored leg WAV is decrypted with gpg and checked for the SRC's tone window by window.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { wavOf } from '../helpers/recording.js';
import { encodeUlaw, rmsDbfs, tone, toneLevelDb } from '../helpers/audio.js';
import { buildRtp } from '../helpers/rtp.js';
import { SrtpSender } from '../helpers/srtp.js';
import { SipUac, answeredStreams, siprecSdp } from '../helpers/sip-uac.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const HZ = 800;

interface LegStats {
  firstPacketMs: number | null;
  packetsReceived: number;
  packetsRejected?: number;
  srtpAuthFailures?: number;
}

async function udpOn(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}

const sendTo = (s: Socket, b: Buffer, port: number): Promise<void> =>
  new Promise((res, rej) => s.send(b, port, '127.0.0.1', (e) => (e ? rej(e) : res())));

/** 20 ms PCMU packets of the tone for `ms`, from `seq0`/`ts0`. */
function pcmuPackets(ms: number, seq0: number, ts0: number, ssrc: number): Buffer[] {
  const pcm = encodeUlaw(tone(HZ, ms, 8000));
  const out: Buffer[] = [];
  for (let i = 0; i * 160 < pcm.length; i++) {
    const payload = pcm.subarray(i * 160, i * 160 + 160);
    out.push(buildRtp({ pt: 0, seq: (seq0 + i) & 0xffff, ts: (ts0 + i * 160) >>> 0, ssrc, payload }));
  }
  return out;
}

describe('SRTP latching: a forged datagram never takes the leg', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ SRS_OUTPUTS: 'mono,legs', SRS_RTP_RELATCH_MS: '5000' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server?.stop();
  });

  it('records the SRC tone throughout when another host sends unauthenticated SRTP before it and during its silence', async () => {
    const key = randomBytes(30);
    const uac = await SipUac.open(server.sipPort);
    const offer = siprecSdp([
      { m: 'RTP/SAVP 0', attrs: [`a=crypto:1 ${SUITE} inline:${key.toString('base64')}`], label: '1' },
    ]).replace('c=IN IP4 127.0.0.1', 'c=IN IP4 src.example.net');
    const inv = await uac.invite(offer, ['1']);
    assert.equal(inv.status, 200, inv.text);
    const port = answeredStreams(inv.sdp)[0]!.port;

    const src = await udpOn('127.0.0.1');
    const attacker = await udpOn('127.0.0.2');
    // A datagram shaped like SRTP whose last 10 bytes (the tag) are random: it cannot authenticate.
    const forged = (): Buffer => buildRtp({ pt: 0, seq: 1, ts: 0, ssrc: 0xbad, payload: randomBytes(170) });
    const sender = new SrtpSender({ suite: SUITE, keySalt: key });
    // The SRC: 2 s of tone, 6 s of silence (timestamps move on with it), 4 s of tone.
    const packets = [
      ...pcmuPackets(2000, 100, 1000, 0x11223344),
      ...pcmuPackets(4000, 200, 1000 + 8 * 8000, 0x11223344),
    ];
    const sendAt = (i: number): number => i * 20 + (i >= 100 ? 6000 : 0);

    await sendTo(attacker, forged(), port);
    await sleep(50);
    const start = performance.now();
    let forgedInSilence = false;
    for (let i = 0; i < packets.length; i++) {
      if (i === 100 && !forgedInSilence) {
        // 5.5 s into the silence: past SRS_RTP_RELATCH_MS, when another host may take a silent leg.
        const wait = start + 2000 + 5500 - performance.now();
        if (wait > 1) await sleep(wait);
        await sendTo(attacker, forged(), port);
        forgedInSilence = true;
      }
      const wait = start + sendAt(i) - performance.now();
      if (wait > 1) await sleep(wait);
      await sendTo(src, sender.protect(packets[i]!), port);
    }
    await sleep(300);
    assert.equal((await uac.bye()).status, 200);
    uac.close();
    src.close();
    attacker.close();

    const rec = await waitForState(server, uac.callId, 'stored');
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/recordings/${rec.id}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(res.status, 200);
    const detail = (await res.json()) as { mediaStats: { legs: LegStats[] } | null };
    const leg = detail.mediaStats?.legs[0];
    assert.ok(leg, 'the leg has stats');
    const stats = JSON.stringify(leg);
    assert.equal(leg.packetsReceived, 300, `every SRC packet recorded: ${stats}`);
    assert.equal(leg.packetsRejected ?? 0, 0, `no SRC packet rejected: ${stats}`);
    assert.equal(leg.srtpAuthFailures, 2, `the two forged datagrams failed authentication: ${stats}`);
    assert.ok(leg.firstPacketMs !== null, `packets arrived: ${stats}`);

    const pcm = await wavOf(server, rec, 'leg0');
    const t0 = leg.firstPacketMs;
    assert.ok(
      pcm.length / 8 >= t0 + 11900,
      `the WAV holds the 12 s from the first packet (${pcm.length / 8} ms)`,
    );
    // Every 250 ms window: the tone where the SRC sent it, silence where it was silent.
    const wrong: string[] = [];
    for (let ms = 0; ms + 250 <= 11900; ms += 250) {
      const [a, b] = [t0 + ms, t0 + ms + 250];
      if (b <= 2000 + t0 || a >= 8000 + t0) {
        const level = toneLevelDb(pcm, a, b, HZ);
        if (!(level > -3)) wrong.push(`${ms} ms: tone ${level.toFixed(1)} dB`);
      } else if (a >= 2100 + t0 && b <= 7900 + t0) {
        const level = rmsDbfs(pcm, a, b);
        if (level > -45) wrong.push(`${ms} ms: ${level.toFixed(1)} dBFS in the silence`);
      }
    }
    assert.deepEqual(wrong, [], `windows not as sent: ${wrong.join(', ')}`);
  });
});
