/**
 * Recording policy and call-rate limit on the real server: an outbound call (caller 1001 matches
 * SRS_INTERNAL_NUMBERS) is declined with the configured status and a Warning when only inbound
 * calls are recorded; a blacklisted caller likewise; an inbound call is recorded, its direction
 * catalogued; over SRS_MAX_CPS new sessions are refused with 503 and Retry-After. Raw SIP over UDP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { listRecordings } from '../helpers/sipp.js';
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
function fixture(env: Record<string, string>) {
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

describe('recording policy and rate limit (srs serve)', { timeout: 120000 }, () => {
  const f = fixture({
    SRS_INTERNAL_NUMBERS: '1XXX',
    SRS_RECORD_DIRECTION: 'inbound',
    SRS_BLACKLIST: '+3906!',
    SRS_EXCLUDED_ACTION: 'decline',
    SRS_EXCLUDED_DECLINE_STATUS: '403',
    SRS_MAX_CPS: '2',
  });
  const call = (a: string, b: string) => f.call(a, b);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('declines an outbound call with 403 and a Warning that says why', async () => {
    const r = await call('1001', '+390212345');
    assert.equal(r.status, 403);
    assert.match(getHeader(r, 'warning') ?? '', /outbound call; policy records inbound calls only/);
    await pause(1100);
  });

  it('declines a blacklisted caller', async () => {
    const r = await call('+390611111', '1002');
    assert.equal(r.status, 403);
    assert.match(getHeader(r, 'warning') ?? '', /\+390611111 is blacklisted \(\+3906!\)/);
    await pause(1100);
  });

  it('records an inbound call, logging the decision', async () => {
    const r = await call('+390212345', '1002');
    assert.equal(r.status, 200);
    await f.server.waitFor(/"direction":"inbound".*"recorded by policy"/);
    const recs = await listRecordings(f.server);
    const recorded = recs.filter((x) => x.callId.startsWith('policy-'));
    assert.equal(recorded.length, 1, 'only the inbound call is recorded');
    // The policy's direction is catalogued with the recording (it was only logged before).
    const detail = await fetch(`http://127.0.0.1:${f.server.httpPort}/api/v1/recordings/${recorded[0]?.id}`, {
      headers: { authorization: `Bearer ${f.server.token}` },
    });
    assert.equal(detail.status, 200);
    assert.equal(((await detail.json()) as { direction: string | null }).direction, 'inbound');
    await pause(1100);
  });

  it('answers 503 with Retry-After over SRS_MAX_CPS', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => call('+390212345', '1003')));
    const codes = results.map((r) => r.status).sort();
    assert.ok(codes.filter((c) => c === 200).length <= 2, `more than the 2/s burst admitted: ${codes}`);
    const limited = results.filter((r) => r.status === 503);
    assert.ok(limited.length >= 3, `expected 503s: ${codes}`);
    for (const r of limited) {
      assert.equal(getHeader(r, 'retry-after'), '1');
      assert.match(getHeader(r, 'warning') ?? '', /call rate limit/);
    }
  });
});

describe(
  'policy-excluded calls answered and not recorded (SRS_EXCLUDED_ACTION=answer)',
  { timeout: 60000 },
  () => {
    const f = fixture({ SRS_BLACKLIST: '+3906!', SRS_EXCLUDED_ACTION: 'answer' });

    it('answers 200 with every stream declined (port 0) and keeps nothing', async () => {
      const r = await f.call('+390611111', '1002');
      assert.equal(r.status, 200);
      const body = r.body.toString('utf8');
      assert.match(body, /^m=audio 0 RTP\/AVP/m);
      assert.doesNotMatch(body, /^m=audio [1-9]/m);
      await f.server.waitFor(/"record":false.*is blacklisted/);
      await f.server.waitFor(/SIPREC session answered, not recorded/);
      const recs = await listRecordings(f.server);
      assert.equal(recs.filter((x) => x.callId.startsWith('policy-')).length, 0);
    });
  },
);
