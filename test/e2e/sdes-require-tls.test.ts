/**
 * SRTP keys (SDES, RFC 4568 `a=crypto ... inline:`) ride in the SDP: over UDP or plain TCP anyone
 * on the path reads them and decrypts the recorded media. On the real server (`srs serve`, SIP over
 * UDP and TLS on loopback):
 * - with SRS_SDES_REQUIRE_TLS=true, a SIPREC INVITE whose offer carries a=crypto gets 488 with a
 *   399 Warning over UDP, and 200 over TLS; a re-INVITE over UDP that brings keys gets 488 and the
 *   call goes on;
 * - the same holds when the recorder makes the offer: in a call set up over TLS with keys, a
 *   re-INVITE without SDP over UDP gets 488 (not a 200 carrying the recorder's key in the clear),
 *   and an ACK over UDP whose answer brings a new key is not applied;
 * - by default (lab SRCs) the same INVITE over UDP gets 200;
 * - either way such offers are counted (srs_sdes_offers_without_tls_total) and warned about once
 *   per source address, not once per call (each server's whole log is counted: these tests are
 *   the first to send it keys).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, logLinesSince, startTestServer, type TestServer } from '../helpers/server.js';
import { selfSignedCertDir } from '../helpers/tls-cert.js';
import { K30, K30B } from '../helpers/sdp-offers.js';
import { Peer, header, ids, request, statusOf, type CallIds } from '../helpers/sip-peer.js';

const sdp = (keyed: boolean, key = K30): string =>
  [
    'v=0',
    'o=SRC 1 1 IN IP4 127.0.0.1',
    's=SIPREC',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio 30000 ${keyed ? 'RTP/SAVP' : 'RTP/AVP'} 0`,
    'a=rtpmap:0 PCMU/8000',
    ...(keyed ? [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}`] : []),
    'a=label:1',
    'a=sendonly',
    '',
  ].join('\r\n');

interface Answered {
  status: number;
  text: string;
  c: CallIds;
  toTag: string;
}

/** An INVITE (cseq 1) or re-INVITE (cseq > 1, toTag given) with this SDP; ACKs the final answer. */
async function offer(
  p: Peer,
  port: number,
  keyed: boolean,
  c = ids(),
  cseq = 1,
  toTag?: string,
): Promise<Answered> {
  const branch = `${c.branch}-${cseq}`;
  p.send(
    request(p, port, 'INVITE', c, {
      cseq,
      branch,
      body: sdp(keyed),
      extra: cseq === 1 ? ['Require: siprec'] : [],
      ...(toTag ? { toTag } : {}),
    }),
  );
  const text = await p.next(
    (m) => statusOf(m) >= 200 && header(m, 'Call-ID') === c.callId && header(m, 'CSeq') === `${cseq} INVITE`,
    20_000,
  );
  const status = statusOf(text);
  const tag = /;tag=([^;>\s]+)/.exec(header(text, 'To') ?? '')?.[1] ?? '';
  // RFC 3261 17.1.1.3: the ACK of a non-2xx is in the INVITE's transaction; of a 2xx, a new one.
  p.send(request(p, port, 'ACK', c, { cseq, toTag: tag, branch: status < 300 ? `${branch}-ack` : branch }));
  return { status, text, c, toTag: tag };
}

/** A re-INVITE without SDP (cseq > 1): its final response, not yet acknowledged. */
async function reInvite(p: Peer, port: number, a: Answered, cseq: number): Promise<string> {
  p.send(request(p, port, 'INVITE', a.c, { cseq, toTag: a.toTag, branch: `${a.c.branch}-${cseq}` }));
  return p.next(
    (m) =>
      statusOf(m) >= 200 && header(m, 'Call-ID') === a.c.callId && header(m, 'CSeq') === `${cseq} INVITE`,
    20_000,
  );
}

/** The ACK of that re-INVITE's final response, with an SDP answer or none. */
function ackOf(p: Peer, port: number, a: Answered, cseq: number, status: number, body?: string): void {
  const branch = `${a.c.branch}-${cseq}`;
  p.send(
    request(p, port, 'ACK', a.c, {
      cseq,
      toTag: a.toTag,
      branch: status < 300 ? `${branch}-ack` : branch,
      ...(body ? { body } : {}),
    }),
  );
}

/** The count of srs_sdes_offers_without_tls_total for udp, refused (0 before the first). */
async function udpRefused(server: TestServer): Promise<number> {
  return Number(/\{transport="udp",outcome="refused"\} (\d+)/.exec(await sdesMetric(server))?.[1] ?? 0);
}

const escape = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first line of the server log of this call with one of these messages. */
const callLine = (server: TestServer, callId: string, msgs: string[]): Promise<string> =>
  server.waitFor(new RegExp(`^(?=.*${escape(callId)})(?=.*"msg":"(${msgs.map(escape).join('|')})")`), 20_000);

/** The server log lines of this call with this message. */
const callLines = (server: TestServer, callId: string, msg: string): number =>
  server
    .output()
    .split('\n')
    .filter((l) => l.includes(callId) && l.includes(`"msg":${JSON.stringify(msg)}`)).length;

async function hangUp(p: Peer, port: number, a: Answered, cseq: number): Promise<void> {
  p.send(request(p, port, 'BYE', a.c, { cseq, toTag: a.toTag, branch: `${a.c.branch}-bye` }));
  await p.next((m) => statusOf(m) === 200 && header(m, 'CSeq') === `${cseq} BYE`, 20_000);
}

async function sdesMetric(server: TestServer): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  return (await r.text())
    .split('\n')
    .filter((l) => l.startsWith('srs_sdes_offers_without_tls_total{'))
    .sort()
    .join('\n');
}

const ACCEPTED =
  'SRTP keys offered over SIP without TLS: readable by anyone on the path (set SRS_SDES_REQUIRE_TLS=true to refuse them)';
const REFUSED = 'SRTP keys offered over SIP without TLS: refused with 488 (SRS_SDES_REQUIRE_TLS)';
const ACK_REFUSED =
  'SRTP keys in an ACK over SIP without TLS: the answer is not applied, the streams keep their keys (SRS_SDES_REQUIRE_TLS)';

describe('SDES keys over signalling without TLS (srs serve)', { timeout: 120_000 }, () => {
  let strict: TestServer;
  let lab: TestServer;
  let certDir: string;
  let tlsPort: number;

  before(async () => {
    certDir = selfSignedCertDir();
    tlsPort = await freePort();
    [strict, lab] = await Promise.all([
      startTestServer({
        SRS_SDES_REQUIRE_TLS: 'true',
        SIP_TLS_CERT: join(certDir, 'cert.pem'),
        SIP_TLS_KEY: join(certDir, 'key.pem'),
        SIP_TLS_PORT: String(tlsPort),
      }),
      startTestServer({}),
    ]);
    await Promise.all([strict, lab].map((s) => s.waitFor(/SIPREC recording server ready/, 90_000)));
  });
  after(async () => {
    const codes = await Promise.all([strict?.stop(), lab?.stop()]);
    rmSync(certDir, { recursive: true, force: true });
    assert.deepEqual(codes, [0, 0], 'both servers shut down cleanly');
  });

  it('answers 488 with a 399 Warning to a SIPREC INVITE with a=crypto over UDP when required, and 200 over TLS', async () => {
    const udp = await new Peer('UDP', strict.sipPort).open();
    const tls = await new Peer('TLS', tlsPort).open();
    try {
      for (let i = 0; i < 2; i++) {
        const r = await offer(udp, strict.sipPort, true);
        assert.equal(r.status, 488, r.text.split('\r\n')[0]);
        assert.match(
          header(r.text, 'Warning') ?? '',
          /^399 srs "SRTP keys \(a=crypto\) require SIP over TLS/,
        );
      }
      const overTls = await offer(tls, tlsPort, true);
      assert.equal(overTls.status, 200, overTls.text.split('\r\n')[0]);
      assert.match(overTls.text, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/m);
      await hangUp(tls, tlsPort, overTls, 2);
      assert.equal(
        await sdesMetric(strict),
        'srs_sdes_offers_without_tls_total{transport="udp",outcome="refused"} 2',
      );
      assert.equal(logLinesSince(strict, 0, REFUSED), 1, 'one warning for the source, not one per call');
    } finally {
      udp.close();
      tls.close();
    }
  });

  it('answers 488 to a re-INVITE over UDP that brings SRTP keys, and the call goes on', async () => {
    const udp = await new Peer('UDP', strict.sipPort).open();
    try {
      const call = await offer(udp, strict.sipPort, false);
      assert.equal(call.status, 200, 'plain RTP over UDP is taken');
      const re = await offer(udp, strict.sipPort, true, call.c, 2, call.toTag);
      assert.equal(re.status, 488, re.text.split('\r\n')[0]);
      assert.match(header(re.text, 'Warning') ?? '', /require SIP over TLS/);
      const again = await offer(udp, strict.sipPort, false, call.c, 3, call.toTag);
      assert.equal(again.status, 200, 'the dialog is still there after the 488');
      await hangUp(udp, strict.sipPort, call, 4);
      assert.match(await sdesMetric(strict), /\{transport="udp",outcome="refused"\} 3$/);
    } finally {
      udp.close();
    }
  });

  it('answers 488 without its keys to a re-INVITE without SDP over UDP in a call set up over TLS with keys', async () => {
    const tls = await new Peer('TLS', tlsPort).open();
    const udp = await new Peer('UDP', strict.sipPort).open();
    try {
      const refusedBefore = await udpRefused(strict);
      const call = await offer(tls, tlsPort, true);
      assert.equal(call.status, 200, call.text.split('\r\n')[0]);
      const re = await reInvite(udp, strict.sipPort, call, 2);
      ackOf(udp, strict.sipPort, call, 2, statusOf(re));
      assert.doesNotMatch(re, /inline:/, 'the recorder key did not cross UDP');
      assert.equal(statusOf(re), 488, re.split('\r\n')[0]);
      assert.match(header(re, 'Warning') ?? '', /require SIP over TLS/);
      assert.equal(await udpRefused(strict), refusedBefore + 1, 'counted as refused');
      // The call goes on: the same re-INVITE over TLS gets our offer, and its answer is applied.
      const ok = await reInvite(tls, tlsPort, call, 3);
      assert.equal(statusOf(ok), 200, ok.split('\r\n')[0]);
      assert.match(ok, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/m);
      ackOf(tls, tlsPort, call, 3, 200, sdp(true, K30B));
      await callLine(strict, call.c.callId, ['SIPREC answer in an ACK']);
      await hangUp(tls, tlsPort, call, 4);
    } finally {
      tls.close();
      udp.close();
    }
  });

  it('keeps the call keys when the ACK answering its offer arrives over UDP with a new key', async () => {
    const tls = await new Peer('TLS', tlsPort).open();
    const udp = await new Peer('UDP', strict.sipPort).open();
    try {
      const refusedBefore = await udpRefused(strict);
      const call = await offer(tls, tlsPort, true);
      assert.equal(call.status, 200, call.text.split('\r\n')[0]);
      const re = await reInvite(tls, tlsPort, call, 2);
      assert.equal(statusOf(re), 200, re.split('\r\n')[0]);
      ackOf(udp, strict.sipPort, call, 2, 200, sdp(true, K30B));
      const line = await callLine(strict, call.c.callId, [ACK_REFUSED, 'SIPREC answer in an ACK']);
      assert.ok(line.includes(`"msg":"${ACK_REFUSED}"`), 'the answer was not applied');
      assert.equal(await udpRefused(strict), refusedBefore + 1, 'counted as refused');
      await hangUp(tls, tlsPort, call, 3);
      assert.equal(
        callLines(strict, call.c.callId, 'SIPREC answer in an ACK'),
        0,
        'no answer of this call applied',
      );
    } finally {
      tls.close();
      udp.close();
    }
  });

  it('takes the offer over UDP by default, counts it and warns once per source', async () => {
    const udp = await new Peer('UDP', lab.sipPort).open();
    try {
      for (let i = 0; i < 2; i++) {
        const r = await offer(udp, lab.sipPort, true);
        assert.equal(r.status, 200, r.text.split('\r\n')[0]);
        await hangUp(udp, lab.sipPort, r, 2);
      }
      assert.equal(
        await sdesMetric(lab),
        'srs_sdes_offers_without_tls_total{transport="udp",outcome="accepted"} 2',
      );
      assert.equal(logLinesSince(lab, 0, ACCEPTED), 1, 'one warning for the source, not one per call');
    } finally {
      udp.close();
    }
  });
});
