/**
 * Fuzz over real UDP against the running server (embedded edge + drachtio-srf app): mutated SIPREC
 * requests (start line, headers, multipart body, SDP, metadata) keep a routable Via, Call-ID and
 * CSeq, so every one the edge's own parser can read must get a final response. 2xx answers are
 * acknowledged and hung up; non-2xx are acknowledged. Afterwards the server still answers a good
 * call and has no session left open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { getHeader, parseMessage, type SipMessage } from '../../src/sip/edge/message.js';
import { mulberry32 as rng } from '../helpers/prng.js';

const CASES = 1200;

const SDP = [
  'v=0',
  'o=SRC 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=label:1',
  'a=sendonly',
  'm=audio 6002 RTP/AVP 8',
  'a=rtpmap:8 PCMA/8000',
  'a=label:2',
  'a=sendonly',
  '',
].join('\r\n');
const XML =
  '<?xml version="1.0" encoding="UTF-8"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1">' +
  '<datamode>complete</datamode><session session_id="c2Vzcw=="/>' +
  '<participant participant_id="cA=="><nameID aor="sip:1001@pbx"/></participant>' +
  '<stream stream_id="czE=" session_id="c2Vzcw=="><label>1</label></stream>' +
  '<participantstreamassoc participant_id="cA=="><send>czE=</send></participantstreamassoc></recording>\r\n';
const BODY = `--b1\r\nContent-Type: application/sdp\r\n\r\n${SDP}\r\n--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n${XML}--b1--\r\n`;

const TOKENS = [
  '\r\n',
  ':',
  ';',
  ',',
  '<',
  '>',
  '"',
  ' ',
  '--b1',
  'boundary=',
  'm=audio 0 RTP/AVP 18',
  'a=inactive',
  'RTP/SAVP',
  'Require: foo',
  'Content-Type: text/plain',
  '<participant',
  '\u0000',
  'é',
];

describe('UDP fuzz against the running edge + app', { timeout: 180000 }, () => {
  let server: TestServer;
  let sock: Socket;
  const finals = new Map<string, SipMessage>();
  const byeStatus = new Map<number, number>();

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.on('message', (buf) => {
      let m: SipMessage;
      try {
        m = parseMessage(buf);
      } catch {
        return;
      }
      const callId = getHeader(m, 'call-id') ?? '';
      if (m.type === 'request') {
        // The server may send BYE (Timer H) or retransmissions; answer requests so it can move on.
        if (m.method !== 'ACK') sock.send(reply(m, 200), server.sipPort, '127.0.0.1');
        return;
      }
      if (m.status < 200) return;
      const cseq = getHeader(m, 'cseq') ?? '';
      if (/BYE/i.test(cseq)) byeStatus.set(m.status, (byeStatus.get(m.status) ?? 0) + 1);
      if (!/INVITE/i.test(cseq) || finals.has(callId)) {
        if (!finals.has(callId)) finals.set(callId, m);
        return;
      }
      finals.set(callId, m);
      // ACK every final response to an INVITE; hang up the answered ones.
      const to = getHeader(m, 'to') ?? '';
      const via = getHeader(m, 'via') ?? '';
      const branch = /branch=([^;,\s]+)/.exec(via)?.[1] ?? 'z9hG4bKx';
      const ackBranch = m.status < 300 ? `${branch}-ack` : branch;
      const from = getHeader(m, 'from') ?? '';
      sock.send(inDialog('ACK', 1, callId, from, to, ackBranch), server.sipPort, '127.0.0.1');
      if (m.status < 300)
        sock.send(inDialog('BYE', 2, callId, from, to, `${branch}-bye`), server.sipPort, '127.0.0.1');
    });
  });

  after(async () => {
    sock?.close();
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  function local(): string {
    const a = sock.address();
    return `127.0.0.1:${a.port}`;
  }

  function reply(req: SipMessage, status: number): string {
    const h = (n: string) => getHeader(req, n) ?? '';
    return `SIP/2.0 ${status} OK\r\nVia: ${h('via')}\r\nFrom: ${h('from')}\r\nTo: ${h('to')}\r\nCall-ID: ${h('call-id')}\r\nCSeq: ${h('cseq')}\r\nContent-Length: 0\r\n\r\n`;
  }

  function inDialog(
    method: string,
    cseq: number,
    callId: string,
    from: string,
    to: string,
    branch: string,
  ): string {
    return (
      `${method} sip:srs@127.0.0.1:${server.sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP ${local()};branch=${branch};rport\r\n` +
      `From: ${from}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\n` +
      `Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n`
    );
  }

  it(`answers every readable request of ${CASES} mutated ones`, async () => {
    const r = rng(0xf022);
    const int = (n: number) => Math.floor(r() * n);
    const mutate = (s: string, ops: number) => {
      for (let k = 0; k < ops; k++) {
        const at = int(s.length + 1);
        const op = r();
        if (op < 0.45) s = s.slice(0, at) + (TOKENS[int(TOKENS.length)] ?? '') + s.slice(at);
        else if (op < 0.75) s = s.slice(0, at) + s.slice(at + int(30));
        else s = s.slice(0, at) + String.fromCharCode(int(256)) + s.slice(at + 1);
      }
      return s;
    };
    const expected = new Map<string, string>();
    for (let i = 0; i < CASES; i++) {
      const callId = `fuzz-${i}@srs-test`;
      const method =
        ['INVITE', 'INVITE', 'INVITE', 'OPTIONS', 'UPDATE', 'BYE', 'INFO', 'FOO'][int(8)] ?? 'INVITE';
      const body = method === 'INVITE' || method === 'UPDATE' ? mutate(BODY, int(5)) : '';
      let head =
        `${method} sip:srs@127.0.0.1:${server.sipPort} SIP/2.0\r\n` +
        `From: "SRC" <sip:src@127.0.0.1>;tag=t${i}\r\nTo: <sip:srs@127.0.0.1>\r\n` +
        `Contact: <sip:src@${local()}>;+sip.src\r\nRequire: siprec\r\nMax-Forwards: 70\r\n` +
        `Content-Type: multipart/mixed;boundary=b1\r\n`;
      if (r() < 0.7) head = mutate(head, 1 + int(3));
      const fixed = `Via: SIP/2.0/UDP ${local()};branch=z9hG4bK-fz-${i};rport\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n`;
      const firstLine = head.indexOf('\r\n') + 2;
      const msg = `${head.slice(0, firstLine)}${fixed}${head.slice(firstLine)}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const buf = Buffer.from(msg, 'utf8');
      let readable = false;
      try {
        const p = parseMessage(buf);
        readable = p.type === 'request' && p.method !== 'ACK';
      } catch {
        readable = false;
      }
      if (readable) expected.set(callId, msg);
      sock.send(buf, server.sipPort, '127.0.0.1');
      if (i % 40 === 39) await new Promise((res) => setTimeout(res, 60));
    }
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && [...expected.keys()].some((c) => !finals.has(c))) {
      await new Promise((res) => setTimeout(res, 200));
    }
    const missing = [...expected.entries()].filter(([c]) => !finals.has(c));
    if (process.env.FUZZ_DUMP)
      (await import('node:fs')).writeFileSync(
        process.env.FUZZ_DUMP,
        missing.map((m) => m[1]).join('\n=====\n'),
      );
    assert.ok(
      expected.size > CASES / 3,
      `only ${expected.size} readable requests: the fuzz is too destructive`,
    );
    assert.equal(
      missing.length,
      0,
      `${missing.length} of ${expected.size} readable requests got no final response, e.g.\n${missing[0]?.[1]}`,
    );
    const codes = new Map<number, number>();
    for (const c of expected.keys()) {
      const s = (finals.get(c) as { status: number }).status;
      codes.set(s, (codes.get(s) ?? 0) + 1);
    }
    // Both outcomes must occur, or the mutations never reach the application.
    assert.ok(
      (codes.get(200) ?? 0) > 0 && [...codes.keys()].some((s) => s >= 400),
      JSON.stringify([...codes]),
    );
  });

  it('still records a good call and leaves no session open', async () => {
    const deadline = Date.now() + 20000;
    let active = -1;
    while (Date.now() < deadline) {
      const h = (await (await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).json()) as {
        details?: { activeCalls?: number };
      };
      active = h.details?.activeCalls ?? -1;
      if (active === 0) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(
      active,
      0,
      `sessions left open after the fuzz; BYE answers: ${JSON.stringify([...byeStatus])}`,
    );
    finals.clear();
    const callId = 'fuzz-final@srs-test';
    const msg =
      `INVITE sip:srs@127.0.0.1:${server.sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP ${local()};branch=z9hG4bK-final;rport\r\n` +
      `From: <sip:src@127.0.0.1>;tag=f\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:src@${local()}>;+sip.src\r\nRequire: siprec\r\nMax-Forwards: 70\r\n` +
      `Content-Type: multipart/mixed;boundary=b1\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`;
    sock.send(msg, server.sipPort, '127.0.0.1');
    const until = Date.now() + 10000;
    while (!finals.has(callId) && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
    assert.equal((finals.get(callId) as { status: number } | undefined)?.status, 200);
  });
});
