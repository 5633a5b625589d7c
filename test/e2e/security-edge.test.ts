/**
 * Trust at the edge, attacked on the real server (`srs serve`, real UDP/TCP on loopback; 127.0.0.2
 * plays a second host on the same network):
 * - a second host injects loud RTP into a live recording's port: the stored WAV holds only the
 *   SRC's tone, and the injected datagrams are counted (/metrics);
 * - an INVITE from a source outside SRS_SRC_ALLOW gets 403; a flood of them is counted in full and
 *   logged as 20 lines and a summary (it was a line each: 2,000 lines, 469 kB for 2,000 INVITEs);
 * - 800 m-lines in one INVITE get 488 (per-session stream limit), no port is bound;
 * - idle TCP connections over the per-address limit are closed, and so is one that never finishes
 *   its headers or sends more than 16 KiB of them;
 * - an allowed SRC (127.0.0.3) that opens more TCP connections than SIP_MAX_CONNECTIONS_PER_ADDRESS
 *   keeps only that many, so another SRC still gets a connection slot and an answer (with the
 *   per-address limit at the total, 10, the first SRC takes every slot and the other is refused).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { logLinesSince, logMark, startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { decodeUlawWav, tone, toneLevelDb } from '../helpers/audio.js';
import { sendRtpStream } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { closedWithin, tcpConnect } from '../helpers/tcp-probe.js';
import { Peer, ids, request, statusOf } from '../helpers/sip-peer.js';

async function udpOn(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}

async function metric(server: TestServer, name: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  const text = await r.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('trust at the edge (attacks on srs serve)', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      SRS_SRC_ALLOW: '127.0.0.1,127.0.0.3',
      SIP_MAX_CONNECTIONS: '10',
      SIP_MAX_CONNECTIONS_PER_ADDRESS: '3',
      SIP_HEADER_TIMEOUT_MS: '1500',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('keeps a second host out of a live recording: only the SRC is in the WAV', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const port = inv.ports[0] as number;
    const src = await udpOn('127.0.0.1');
    const attacker = await udpOn('127.0.0.2');
    // The SRC: 440 Hz for 3 s. The attacker (another host): loud 1000 Hz into the same port from
    // 0.5 s on, with its own SSRC, then again with the SRC's SSRC.
    const good = sendRtpStream({
      host: '127.0.0.1',
      port,
      pt: 0,
      codec: 'PCMU',
      samples: tone(440, 3000),
      ssrc: 0x1111,
      socket: src,
    });
    await new Promise((r) => setTimeout(r, 500));
    await sendRtpStream({
      host: '127.0.0.1',
      port,
      pt: 0,
      codec: 'PCMU',
      samples: tone(1000, 1000, 30000),
      ssrc: 0x6666,
      socket: attacker,
    });
    await sendRtpStream({
      host: '127.0.0.1',
      port,
      pt: 0,
      codec: 'PCMU',
      samples: tone(1000, 1000, 30000),
      ssrc: 0x1111,
      socket: attacker,
    });
    await good;
    src.close();
    attacker.close();
    const bye = await uac.request('BYE');
    assert.match(bye, /^SIP\/2\.0 200/);
    uac.close();

    const rec = await waitForState(server, uac.callId, 'stored');
    const wavFile = rec.files.find((f) => f.kind === 'wav');
    assert.ok(wavFile);
    const wav = await gpgDecrypt(
      join(server.dataDir, 'keys', 'private.asc'),
      server.passphrase,
      join(server.dataDir, wavFile.path),
    );
    const pcm = decodeUlawWav(wav);
    const total = pcm.length / 8;
    let onset = -1;
    for (let ms = 0; ms + 40 <= total; ms += 5)
      if (toneLevelDb(pcm, ms, ms + 40, 440, 200) > -4) {
        onset = ms;
        break;
      }
    assert.ok(onset >= 0, 'the SRC tone is there');
    assert.ok(toneLevelDb(pcm, onset + 100, onset + 2900, 440) > -1, 'the SRC alone for its 3 s');
    assert.ok(
      toneLevelDb(pcm, 0, total, 1000) < -30,
      `no trace of the injected 1000 Hz (${toneLevelDb(pcm, 0, total, 1000).toFixed(1)} dB)`,
    );
    const rejected = await metric(server, 'srs_rtp_packets_rejected_total');
    assert.ok(Number(rejected.split(' ')[1]) >= 100, `injected datagrams counted: ${rejected}`);
  });

  it('answers 403 to a source outside SRS_SRC_ALLOW', async () => {
    const uac = await SiprecUac.open(server.sipPort, '127.0.0.2');
    const r = await uac.invite();
    uac.close();
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /Warning: 399 srs "source 127\.0\.0\.2 is not allowed/);
    assert.match(await metric(server, 'srs_sip_refused_total'), /reason="source-not-allowed"} [1-9]/);
  });

  it('logs a flood of refused INVITEs as 20 lines and a count, not a line each; /metrics counts them all', async () => {
    const refusedBefore = Number(
      /reason="source-not-allowed"} (\d+)/.exec(await metric(server, 'srs_sip_refused_total'))?.[1] ?? 0,
    );
    const linesBefore = logMark(server);
    const sock = await udpOn('127.0.0.2');
    const from = sock.address().port;
    const { body, contentType } = SiprecUac.body({ streams: 1 });
    for (let i = 0; i < 500; i++) {
      const invite =
        [
          `INVITE sip:srs@127.0.0.1:${server.sipPort} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.2:${from};branch=z9hG4bKflood${i}`,
          `From: <sip:src@127.0.0.2>;tag=f${i}`,
          'To: <sip:srs@127.0.0.1>',
          `Call-ID: flood-${i}@127.0.0.2`,
          'CSeq: 1 INVITE',
          `Contact: <sip:src@127.0.0.2:${from}>;+sip.src`,
          'Require: siprec',
          'Max-Forwards: 70',
          `Content-Type: ${contentType}`,
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          '',
        ].join('\r\n') + body;
      sock.send(invite, server.sipPort, '127.0.0.1');
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 10_000;
    let refused = 0;
    while (refused < refusedBefore + 500 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      refused = Number(
        /reason="source-not-allowed"} (\d+)/.exec(await metric(server, 'srs_sip_refused_total'))?.[1] ?? 0,
      );
    }
    sock.close();
    assert.equal(refused, refusedBefore + 500, 'every refusal counted');
    // Then the window's summary line (10 s after its first line).
    await server.waitFor(/"suppressed":\d+[^\n]*SIPREC INVITE rejected \(more not logged\)/, 15_000);
    const rejected = logLinesSince(server, linesBefore, 'SIPREC INVITE rejected');
    assert.ok(rejected <= 20, `${rejected} lines for 500 refused INVITEs`);
  });

  it('refuses 800 m-lines with 488 and a Warning, binding nothing', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const r = await uac.invite({ streams: 800 });
    uac.close();
    assert.equal(r.status, 488, r.text.slice(0, 500));
    assert.match(r.text, /Warning: 399 srs "800 streams offered; at most 8 per session/);
    const health = (await (await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).json()) as {
      details: { activeCalls: number };
    };
    assert.equal(health.details.activeCalls, 0);
  });

  it('closes TCP connections over the per-address limit and unfinished or oversized headers', async () => {
    const idle = [await tcpConnect(server.sipPort), await tcpConnect(server.sipPort)];
    idle.push(await tcpConnect(server.sipPort));
    const over = await tcpConnect(server.sipPort);
    assert.equal(await closedWithin(over, 1000), true, 'the 4th connection from one address is closed');
    // The idle ones never finish a header: closed at the 1.5 s deadline.
    const results = await Promise.all(idle.map((s) => closedWithin(s, 5000)));
    assert.deepEqual(results, [true, true, true], 'idle connections closed at the header deadline');

    // (the server counts a connection down in its next loop turn, after the peer sees the close)
    await new Promise((r) => setTimeout(r, 200));
    const big = await tcpConnect(server.sipPort);
    big.write(`INVITE sip:srs@127.0.0.1 SIP/2.0\r\n${'X-Pad: '.padEnd(1000, 'a')}\r\n`.repeat(1));
    for (let i = 0; i < 20; i++) big.write(`X-Pad-${i}: ${'a'.repeat(1000)}\r\n`);
    assert.equal(await closedWithin(big, 1000), true, 'more than 16 KiB of headers: closed');
    assert.match(await metric(server, 'srs_sip_connections_refused_total'), /per-address-limit"} 1/);
    assert.match(await metric(server, 'srs_sip_connections_refused_total'), /oversized-headers"} 1/);
  });

  it('logs a flood of refused TCP connections as at most 20 lines, counting every one', async () => {
    const refusedCount = async () =>
      Number(
        /per-address-limit"} (\d+)/.exec(await metric(server, 'srs_sip_connections_refused_total'))?.[1],
      );
    // From the SRC's own address: since the allowlist is checked when a connection is accepted, a
    // connection from any other address is refused before the per-address limit is counted.
    await new Promise((r) => setTimeout(r, 200));
    const refusedBefore = await refusedCount();
    const before = logMark(server);
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await tcpConnect(server.sipPort));
    const over = [];
    for (let i = 0; i < 150; i++) over.push(await tcpConnect(server.sipPort));
    const closed = await Promise.all(over.map((sock) => closedWithin(sock, 2000)));
    assert.equal(closed.filter(Boolean).length, 150, 'every connection over the limit closed');
    for (const sock of held) sock.destroy();
    assert.equal(await refusedCount(), refusedBefore + 150, 'every refusal counted');
    const lines = logLinesSince(server, before, 'sip tcp connection refused: over the connection limit');
    assert.ok(lines <= 20, `${lines} lines for 150 refused connections`);
  });

  it('keeps a connection slot for another SRC when one allowed address opens more than its limit', async () => {
    const perAddress = async () =>
      Number(
        /per-address-limit"} (\d+)/.exec(await metric(server, 'srs_sip_connections_refused_total'))?.[1],
      );
    await new Promise((r) => setTimeout(r, 200));
    const refusedBefore = await perAddress();
    // An allowed host opens 10 connections (every slot), each kept open with a complete OPTIONS.
    const hog = [];
    for (let i = 0; i < 10; i++) {
      const s = await tcpConnect(server.sipPort, '127.0.0.3');
      s.write(request(new Peer('TCP', server.sipPort), server.sipPort, 'OPTIONS', ids()));
      hog.push(s);
    }
    const src = new Peer('TCP', server.sipPort);
    let answer = '';
    let closed: boolean[] = [];
    try {
      closed = await Promise.all(hog.map((s) => closedWithin(s, 1000)));
      await src.open();
      src.send(request(src, server.sipPort, 'OPTIONS', ids()));
      answer = await src
        .next((m) => statusOf(m) >= 200, 5000)
        .catch((err: Error) => `no answer: ${err.message}`);
    } finally {
      src.close();
      for (const s of hog) s.destroy();
    }
    assert.equal(closed.filter((c) => !c).length, 3, 'the allowed host keeps 3 connections (its limit)');
    assert.match(answer, /^SIP\/2\.0 200 /, 'another SRC still gets a connection and its OPTIONS answered');
    assert.equal(await perAddress(), refusedBefore + 7, 'the 7 over the limit refused and counted');
  });
});
