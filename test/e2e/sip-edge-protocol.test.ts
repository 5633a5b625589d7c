/**
 * The SIP edge against RFC 3261 where a reviewer found it wrong, on the real server (`srs serve`,
 * SRS_SRC_ALLOW=127.0.0.1; 127.0.0.2 and up play other hosts):
 * - TCP connections from addresses outside SRS_SRC_ALLOW are closed when accepted: 100 of them no
 *   longer fill the connection slots, and the SRC's TCP INVITE still gets 200;
 * - framing and parsing read Content-Length by one rule: a folded ` l: 0` line no longer lets a
 *   request hidden in the body run, and two Content-Length headers get 400 and a close;
 * - a body sent a byte at a time is closed at the whole-message deadline;
 * - a UDP answer too large for a datagram: the SRC gets 513 and the call ends (it got only
 *   100 Trying, and the ports were held for 32 s);
 * - a method no app takes gets 405 with Allow, 501 or 481 (it got 503), SIP/3.0 gets 505;
 * - a re-INVITE while another is pending gets 500 with Retry-After, and the ACK of one 2xx stops
 *   that 2xx's retransmissions, not another's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { closedWithin, tcpConnect } from '../helpers/tcp-probe.js';
import { Peer, header, ids, request, sleep, statusOf } from '../helpers/sip-peer.js';

async function metric(server: TestServer, name: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  return (await r.text())
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

async function activeCalls(server: TestServer): Promise<number> {
  const health = (await (await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).json()) as {
    details: { activeCalls: number };
  };
  return health.details.activeCalls;
}

describe('SIP edge protocol rules (srs serve)', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      SRS_SRC_ALLOW: '127.0.0.1',
      SIP_MAX_CONNECTIONS: '100',
      SIP_MAX_CONNECTIONS_PER_ADDRESS: '10',
      SIP_HEADER_TIMEOUT_MS: '1500',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('closes TCP connections from sources outside SRS_SRC_ALLOW and still takes the SRC INVITE over TCP', async () => {
    // 100 connections from 10 other hosts, each sending one OPTIONS: before, they filled every
    // slot (100) and stayed open, and the SRC's connection was reset.
    const others: Socket[] = [];
    for (let h = 2; h < 12; h++)
      for (let i = 0; i < 10; i++) {
        const s = await tcpConnect(server.sipPort, `127.0.0.${h}`).catch(() => null);
        if (!s) continue;
        s.write(request(new Peer('TCP', server.sipPort), server.sipPort, 'OPTIONS', ids()));
        others.push(s);
      }
    const closed = await Promise.all(others.map((s) => closedWithin(s, 1000)));
    const c = ids();
    let src: Peer;
    let answer: string;
    try {
      src = await new Peer('TCP', server.sipPort).open();
      const { body, contentType } = SiprecUac.body({ streams: 1 });
      src.send(
        request(src, server.sipPort, 'INVITE', c, { extra: ['Require: siprec'] }).replace(
          /Content-Length: \d+\r\n\r\n$/,
          `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        ),
      );
      answer = await src.next((m) => statusOf(m) >= 200, 10000);
    } finally {
      for (const s of others) s.destroy();
      // (the server counts a connection down in its next loop turn, after the peer sees the close)
      await sleep(500);
    }
    assert.equal(
      closed.filter(Boolean).length,
      others.length,
      'every connection from another host closed at once',
    );
    assert.match(answer, /^SIP\/2\.0 200 /, 'the SRC INVITE over TCP is answered 200');
    const toTag = /tag=([^;>\s]+)/.exec(header(answer, 'To') ?? '')?.[1] ?? '';
    src.send(request(src, server.sipPort, 'ACK', c, { toTag, branch: `${c.branch}a` }));
    src.send(request(src, server.sipPort, 'BYE', c, { cseq: 2, toTag, branch: `${c.branch}b` }));
    assert.equal(statusOf(await src.next((m) => /CSeq: 2 BYE/.test(m), 10000)), 200);
    src.close();
    assert.match(await metric(server, 'srs_sip_connections_refused_total'), /source-not-allowed"} 100$/m);
  });

  it('frames and parses Content-Length by one rule: no request runs from a body, duplicates get 400', async () => {
    const p = await new Peer('TCP', server.sipPort).open();
    const inner = request(p, server.sipPort, 'OPTIONS', { ...ids(), callId: 'SMUGGLED@x' });
    const outer = request(p, server.sipPort, 'MESSAGE', ids()).replace(
      /Content-Length: 0\r\n\r\n$/,
      `Subject: hello\r\n l: 0\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(inner)}\r\n\r\n${inner}`,
    );
    p.send(outer);
    const first = await p.next(() => true, 5000);
    await sleep(500);
    assert.equal(
      p.count((m) => /SMUGGLED@x/.test(m)),
      0,
      'the request in the body was not run',
    );
    assert.match(header(first, 'CSeq') ?? '', /MESSAGE/, first);
    assert.equal(statusOf(first), 405, 'the MESSAGE (body and all) is answered as one request');
    p.close();

    const d = await new Peer('TCP', server.sipPort).open();
    d.send(request(d, server.sipPort, 'OPTIONS', ids()).replace(/\r\n\r\n$/, '\r\nl: 20\r\n\r\n'));
    const bad = await d.next(() => true, 5000);
    assert.equal(statusOf(bad), 400, bad);
    assert.match(header(bad, 'Warning') ?? '', /2 Content-Length headers/);
    for (let i = 0; i < 50 && !d.closed; i++) await sleep(50);
    assert.equal(d.closed, true, 'the connection is closed after the 400');
    d.close();
  });

  it('closes a connection whose body does not arrive within the message deadline', async () => {
    const s = await tcpConnect(server.sipPort);
    const head = request(new Peer('TCP', server.sipPort), server.sipPort, 'OPTIONS', ids()).replace(
      /Content-Length: 0\r\n\r\n$/,
      'Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n',
    );
    s.write(head + 'x'.repeat(1000));
    // One byte every 300 ms: before, the header deadline had stopped and nothing closed it.
    const drip = setInterval(() => s.write('x'), 300);
    const closed = await closedWithin(s, 15000);
    clearInterval(drip);
    s.destroy();
    assert.equal(closed, true, 'a body that trickles in is closed at the message deadline');
    assert.match(await metric(server, 'srs_sip_connections_refused_total'), /message-timeout"} [1-9]/);
  });

  it('answers 513 when the answer does not fit a UDP datagram, and ends the call', async () => {
    const p = await new Peer('UDP', server.sipPort).open();
    const c = ids();
    const sdp =
      'v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 0\na=sendonly\n' +
      'm=audio 0 RTP/AVP 0\n'.repeat(3150);
    p.send(request(p, server.sipPort, 'INVITE', c, { body: sdp, extra: ['Require: siprec'] }));
    const final = await p.next((m) => statusOf(m) >= 200, 10000).catch((e: Error) => e.message);
    assert.match(final, /^SIP\/2\.0 513 /, 'a final answer, not 100 Trying alone');
    assert.match(header(final, 'Warning') ?? '', /does not fit a UDP datagram/);
    p.send(
      request(p, server.sipPort, 'ACK', c, { toTag: /tag=([^;>\s]+)/.exec(header(final, 'To') ?? '')?.[1] }),
    );
    let calls = await activeCalls(server);
    for (let i = 0; i < 50 && calls > 0; i++) {
      await sleep(100);
      calls = await activeCalls(server);
    }
    assert.equal(calls, 0, 'the call ended (its ports are free)');
    await server.waitFor(/sip response too large for a UDP datagram/, 1000);
    p.close();
  });

  it('answers methods no app takes with 405 and Allow, 501 or 481, and SIP/3.0 with 505', async () => {
    const p = await new Peer('UDP', server.sipPort).open();
    const expected: Record<string, number> = {
      FOO: 501,
      MESSAGE: 405,
      SUBSCRIBE: 405,
      REGISTER: 405,
      PUBLISH: 405,
      REFER: 405,
      INFO: 481,
      UPDATE: 481,
      PRACK: 481,
      NOTIFY: 481,
    };
    const got: Record<string, number> = {};
    for (const method of Object.keys(expected)) {
      const c = ids();
      p.send(request(p, server.sipPort, method, c));
      const r = await p.next((m) => m.includes(c.callId) && statusOf(m) >= 200, 5000);
      got[method] = statusOf(r);
      if (got[method] === 405) assert.match(header(r, 'Allow') ?? '', /INVITE, ACK, BYE, CANCEL, OPTIONS/);
    }
    assert.deepEqual(got, expected);
    const c = ids();
    p.send(request(p, server.sipPort, 'OPTIONS', c).replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'));
    assert.equal(statusOf(await p.next((m) => m.includes(c.callId), 5000)), 505);
    p.close();
  });

  it('answers 500 with Retry-After to a re-INVITE while another is pending', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    assert.equal((await uac.invite({ streams: 2 })).status, 200);
    const { body, contentType } = SiprecUac.body({ streams: 2 });
    const a = uac.start('INVITE', body, contentType);
    const b = uac.start('INVITE', body, contentType);
    const [ra, rb] = await Promise.all([a.final, b.final]);
    assert.match(ra ?? '', /^SIP\/2\.0 200 /, 'the first re-INVITE is answered 200');
    assert.match(rb ?? '', /^SIP\/2\.0 500 /, 'the overlapping one gets 500');
    assert.match(rb ?? '', /^Retry-After: (10|\d)\r$/m);
    uac.ack(a.cseq);
    uac.ack(b.cseq);
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
  });

  it('stops retransmitting each 2xx on its own ACK when two re-INVITEs await theirs', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    assert.equal((await uac.invite({ streams: 2 })).status, 200);
    const { body, contentType } = SiprecUac.body({ streams: 2 });
    const a = uac.start('INVITE', body, contentType);
    assert.match((await a.final) ?? '', /^SIP\/2\.0 200 /);
    const b = uac.start('INVITE', body, contentType);
    assert.match((await b.final) ?? '', /^SIP\/2\.0 200 /);
    uac.ack(a.cseq);
    uac.ack(b.cseq);
    // Retransmissions come at T1 doubling (0.5, 1, 2 s): none may follow the ACKs.
    const again = await uac
      .waitFor(new RegExp(`^SIP/2\\.0 200[\\s\\S]*CSeq: (${a.cseq}|${b.cseq}) INVITE`), 3000)
      .then((m) => m.split('\r\n').find((l) => l.startsWith('CSeq')))
      .catch(() => null);
    assert.equal(again, null, 'a 2xx was retransmitted after its ACK');
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 200/);
    uac.close();
  });
});
