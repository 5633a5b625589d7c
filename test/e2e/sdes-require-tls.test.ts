/**
 * SRTP keys (SDES, RFC 4568 `a=crypto ... inline:`) ride in the SDP: over UDP or plain TCP anyone
 * on the path reads them and decrypts the recorded media. On the real server (`srs serve`, SIP over
 * UDP and TLS on loopback):
 * - with SRS_SDES_REQUIRE_TLS=true, a SIPREC INVITE whose offer carries a=crypto gets 488 with a
 *   399 Warning over UDP, and 200 over TLS; a re-INVITE over UDP that brings keys gets 488 and the
 *   call goes on;
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
import { K30 } from '../helpers/sdp-offers.js';
import { Peer, header, ids, request, statusOf, type CallIds } from '../helpers/sip-peer.js';

const sdp = (keyed: boolean): string =>
  [
    'v=0',
    'o=SRC 1 1 IN IP4 127.0.0.1',
    's=SIPREC',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio 30000 ${keyed ? 'RTP/SAVP' : 'RTP/AVP'} 0`,
    'a=rtpmap:0 PCMU/8000',
    ...(keyed ? [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K30}`] : []),
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
