/**
 * Limits on what one SRC request may ask of the server, on the real server (`srs serve`, real UDP
 * and TCP on loopback):
 * - an INVITE over TCP whose rs-metadata lists 100,000 stream ids in one `<send>` gets 413 naming
 *   the limit. Before, the metadata parse was quadratic: the server answered nothing (SIP, HTTP)
 *   for 25 s, and then recorded the call with its 100,000 ids;
 *   A re-INVITE whose metadata is over the limits gets 413 too, and changes nothing;
 * - an m=video stream is declined (port 0), not recorded as an audio leg;
 * - a re-INVITE with more streams than SRS_MAX_STREAMS gets the 488 an INVITE gets, and the call
 *   keeps its streams. Before, only the first INVITE was checked: re-INVITEs took every RTP port,
 *   and every other call then got 503.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { tcpConnect } from '../helpers/tcp-probe.js';

/** A SIPREC INVITE over TCP with `metadata` as its rs-metadata; resolves with its final response. */
async function tcpInvite(sipPort: number, metadata: string): Promise<string> {
  const sock = await tcpConnect(sipPort);
  const local = `127.0.0.1:${sock.localPort}`;
  const sdp =
    'v=0\r\no=SRC 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
    'm=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n';
  const body =
    `--b\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n` +
    `--b\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n` +
    `${metadata}\r\n--b--\r\n`;
  const head = (method: string, to: string): string =>
    [
      `${method} sip:srs@127.0.0.1:${sipPort};transport=tcp SIP/2.0`,
      `Via: SIP/2.0/TCP ${local};branch=z9hG4bK-big-1`,
      'From: <sip:src@127.0.0.1>;tag=big',
      to,
      'Call-ID: big-metadata@127.0.0.1',
      `CSeq: 1 ${method}`,
      `Contact: <sip:src@${local};transport=tcp>;+sip.src`,
      'Max-Forwards: 70',
    ].join('\r\n');
  let got = '';
  const final = new Promise<string>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      const m = /SIP\/2\.0 [2-6]\d\d [^\r]*\r\n[\s\S]*?\r\n\r\n/.exec(got);
      if (m) resolve(m[0]);
    });
    sock.once('close', () => reject(new Error(`connection closed; received:\n${got.slice(0, 2000)}`)));
  });
  sock.write(
    `${head('INVITE', 'To: <sip:srs@127.0.0.1>')}\r\nRequire: siprec\r\n` +
      `Content-Type: multipart/mixed;boundary=b\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  try {
    const res = await final;
    const to = /^To:.*$/im.exec(res)?.[0] ?? '';
    sock.write(`${head('ACK', to)}\r\nContent-Length: 0\r\n\r\n`);
    return res;
  } finally {
    sock.destroy();
  }
}

describe('limits on one SRC request (real server)', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    // Room for 12 streams (RTP and RTCP each): a call of 2 and one of 7 fit, but not with 7 more.
    const base = 30000 + 24 * Math.floor(Math.random() * 300);
    server = await startTestServer({ RTP_PORT_MIN: String(base), RTP_PORT_MAX: String(base + 23) });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('answers 413 naming the limit to metadata listing 100000 stream ids', async (t) => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `s${i}`).join(' ');
    const metadata =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>' +
      '<participant participant_id="p1"><nameID aor="sip:alice@example.com"/></participant>' +
      `<participantstreamassoc participant_id="p1"><send>${ids}</send></participantstreamassoc>` +
      '</recording>';
    const started = Date.now();
    const res = await tcpInvite(server.sipPort, metadata);
    t.diagnostic(`${Buffer.byteLength(metadata)} bytes of metadata answered in ${Date.now() - started} ms`);
    assert.match(res, /^SIP\/2\.0 413 /, res);
    assert.match(res, /Warning: 399 srs "[^"]*100000 stream ids[^"]*over the limit of 10000"/, res);
    // The server still takes calls.
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
  });

  it('refuses a re-INVITE over SRS_MAX_STREAMS with 488 and the call keeps its streams', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 2 });
    assert.equal(inv.status, 200, inv.text);
    assert.equal(inv.ports.filter((p) => p > 0).length, 2, inv.text);

    const more = await uac.reinvite({ streams: 9 });
    assert.match(more ?? '', /^SIP\/2\.0 488 /, more ?? 'no answer');
    assert.match(
      more ?? '',
      /Warning: 399 srs "9 streams offered; at most 8 per session \(SRS_MAX_STREAMS\)"/,
    );

    // No port was taken: another SRC's call of 7 streams fits (before, 3 ports were left: 503).
    const other = await SiprecUac.open(server.sipPort, '127.0.0.2');
    const big = await other.invite({ streams: 7 });
    assert.equal(big.status, 200, big.text);
    assert.match(await other.request('BYE'), /^SIP\/2\.0 200/);
    other.close();

    // The first call still has its two streams on their ports.
    const same = await uac.reinvite({ streams: 2 });
    assert.match(same ?? '', /^SIP\/2\.0 200 /, same ?? 'no answer');
    const ports = [...(same ?? '').matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1]));
    assert.deepEqual(ports, inv.ports);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
  });

  it('declines an m=video stream with port 0 and records the audio one; video alone gets 488', async () => {
    // Before, the m-line's type was never read: m=video with PCMU was recorded as an audio leg.
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 2, mediaTypes: ['audio', 'video'] });
    assert.equal(inv.status, 200, inv.text);
    assert.equal(inv.ports.length, 1, inv.text);
    assert.ok(inv.ports[0]! > 0, inv.text);
    assert.match(inv.text, /^m=video 0 /m, inv.text);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
    const video = await SiprecUac.open(server.sipPort);
    const only = await video.invite({ streams: 1, mediaTypes: ['video'] });
    assert.equal(only.status, 488, only.text);
    assert.match(only.text, /m=video is not recorded \(audio streams only\)/, only.text);
    video.close();
  });

  it('refuses a re-INVITE whose metadata is over the limits with 413 and nothing changes', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const crowd = Array.from({ length: 1000 }, (_, i) => `<participant participant_id="p${i}"/>`).join('');
    const res = await uac.reinvite({ streams: 2, metadataExtra: crowd });
    assert.match(res ?? '', /^SIP\/2\.0 413 /, res ?? 'no answer');
    assert.match(res ?? '', /Warning: 399 srs "rs-metadata lists 1001 participants, over the limit of 1000"/);
    // The second stream was not added: the same offer as before gets the same single port.
    const same = await uac.reinvite({ streams: 1 });
    const ports = [...(same ?? '').matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1]));
    assert.deepEqual(ports, inv.ports, same ?? 'no answer');
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
  });
});
