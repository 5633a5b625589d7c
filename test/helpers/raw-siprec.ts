/**
 * A raw SIPREC SRC over UDP for tests against a real `srs serve`: starts a server with the given
 * environment, sends INVITEs with SDP and metadata naming a caller and a callee, ACKs every final
 * answer and hangs up the answered calls with BYE (test/e2e/sipp-policy.test.ts, policy-runtime.test.ts).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startTestServer, type TestServer } from './server.js';
import { getHeader, parseMessage, type SipResponse } from '../../src/sip/edge/message.js';

const sdp =
  'v=0\r\no=SRC 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
  'm=audio 6000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n';
const metadata = (caller: string, callee: string) =>
  '<?xml version="1.0"?><recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>' +
  `<participant participant_id="YQ=="><nameID aor="sip:${caller}@pbx"/></participant>` +
  `<participant participant_id="Yg=="><nameID aor="sip:${callee}@pbx"/></participant></recording>\r\n`;
const body = (caller: string, callee: string) =>
  `--b\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n${metadata(caller, callee)}--b--\r\n`;

/** A server with these settings and a raw UDP SRC that ACKs every final answer and hangs up 2xx. */
export function fixture(env: Record<string, string>) {
  const f = {
    server: undefined as unknown as TestServer,
    call: (caller: string, callee: string): Promise<SipResponse> => call(caller, callee),
  };
  let sock: Socket;
  const finals = new Map<string, SipResponse>();

  before(async () => {
    f.server = await startTestServer(env);
    const server = f.server;
    await server.waitFor(/SIPREC recording server ready/, 60000);
    sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.on('message', (buf) => {
      const m = parseMessage(buf);
      if (m.type !== 'response' || m.status < 200) return;
      const callId = getHeader(m, 'call-id') ?? '';
      if (finals.has(callId)) return;
      finals.set(callId, m);
      const to = getHeader(m, 'to') ?? '';
      const from = getHeader(m, 'from') ?? '';
      const branch = /branch=([^;,\s]+)/.exec(getHeader(m, 'via') ?? '')?.[1] ?? 'x';
      const send = (method: string, cseq: number, br: string) =>
        sock.send(
          `${method} sip:srs@127.0.0.1:${server.sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=${br};rport\r\n` +
            `From: ${from}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
          server.sipPort,
          '127.0.0.1',
        );
      send('ACK', 1, m.status < 300 ? `${branch}a` : branch);
      if (m.status < 300) send('BYE', 2, `${branch}b`);
    });
  });

  after(async () => {
    sock?.close();
    const code = await f.server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${f.server?.output().slice(-3000)}`);
  });

  let n = 0;
  async function call(caller: string, callee: string): Promise<SipResponse> {
    const server = f.server;
    const callId = `policy-${++n}-${Date.now()}@test`;
    const b = body(caller, callee);
    sock.send(
      `INVITE sip:srs@127.0.0.1:${server.sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bK-p${n};rport\r\n` +
        `From: <sip:src@127.0.0.1>;tag=p${n}\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:src@127.0.0.1:${sock.address().port}>;+sip.src\r\nRequire: siprec\r\nMax-Forwards: 70\r\n` +
        `Content-Type: multipart/mixed;boundary=b\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`,
      server.sipPort,
      '127.0.0.1',
    );
    for (const deadline = Date.now() + 10000; Date.now() < deadline;) {
      const r = finals.get(callId);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error(`no final response to ${callId}`);
  }
  return f;
}
