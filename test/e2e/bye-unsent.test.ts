/**
 * A BYE the server sends (here at SRS_MAX_DURATION) whose remote target, the Contact of the
 * INVITE, cannot be reached, on the real server (`srs serve`, real UDP on loopback, SIP_T1_MS=50 so
 * that a transaction gives up after 3.2 s instead of 32 s):
 * - a Contact whose host does not resolve: the BYE goes to the INVITE's source address and port at
 *   once, and the dialog ends: the SRC's later re-INVITE and BYE get 481 and start no second
 *   recording. (Before the fallback the BYE was never sent: the SRC kept streaming.)
 * - a Contact naming a closed port (an SRC behind NAT that wrote its private address, or a port it
 *   does not listen on): the BYE times out there and is resent to the source, where it is answered.
 *   Before, it was retransmitted to the closed port for 64*T1 and never reached the SRC.
 * - neither answers (the SRC is gone): the dialog and the recording end anyway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';
import { recordingEvents } from '../helpers/recording.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

/** A UDP port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function fallbackCounts(server: TestServer): Promise<Record<string, number>> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  const out: Record<string, number> = {};
  for (const m of (await r.text()).matchAll(/^srs_sip_bye_fallback_total\{outcome="([a-z-]+)"\} (\d+)$/gm))
    out[m[1] ?? ''] = Number(m[2]);
  return out;
}

describe('a BYE whose Contact cannot be reached (real server)', { timeout: 120000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ SRS_MAX_DURATION: '2', SIP_T1_MS: '50' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('sends it to the INVITE source when the Contact does not resolve; the dialog ends', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    uac.contactHost = 'nonexistent.invalid';
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const bye = await uac.waitFor(/^BYE /, 15000);
    assert.match(bye, /Reason: SIP;cause=200;text="max-duration"/i);
    const rec = await waitForState(server, uac.callId, 'stored');

    const again = await uac.reinvite({ streams: 1 });
    assert.match(again ?? '', /^SIP\/2\.0 481 /, again ?? 'no answer');
    assert.match(await uac.request('BYE'), /^SIP\/2\.0 481 /);
    uac.close();

    const recordings = (await listRecordings(server)).filter((r) => r.callId === uac.callId);
    assert.equal(recordings.length, 1, JSON.stringify(recordings.map((r) => [r.id, r.state])));
    const events = await recordingEvents(server, rec.id);
    assert.ok(
      events.some((e) => e.type === 'call-ended-by-server' && /max-duration/.test(e.text)),
      JSON.stringify(events),
    );
  });

  it('resends it to the source after a timeout at a closed Contact port, and ends the call when nobody answers', async () => {
    const before = await fallbackCounts(server);
    // One SRC that listens only on its source port, one that is gone by the time of the BYE.
    // (both bound before the closed ports are chosen: a port just closed is handed out again)
    const natted = await SiprecUac.open(server.sipPort);
    const gone = await SiprecUac.open(server.sipPort);
    natted.contactPort = await closedUdpPort();
    gone.contactPort = await closedUdpPort();
    const [a, b] = await Promise.all([natted.invite({ streams: 1 }), gone.invite({ streams: 1 })]);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    const answeredAt = Date.now();
    // (its ACK is still on its way out of the socket: closed at once, it is dropped, and the
    // edge's Timer H would send a BYE of its own)
    await new Promise((r) => setTimeout(r, 200));
    gone.close();

    // 2 s to the maximum duration, 64*T1 = 3.2 s at the closed port, then the source.
    const bye = await natted.waitFor(/^BYE /, 15000);
    const ms = Date.now() - answeredAt;
    assert.match(bye, /Reason: SIP;cause=200;text="max-duration"/i);
    assert.ok(ms >= 4000, `the BYE reached the source after ${ms} ms, before the Contact could time out`);
    const [stored, storedGone] = await Promise.all([
      waitForState(server, natted.callId, 'stored'),
      waitForState(server, gone.callId, 'stored'),
    ]);
    assert.ok(stored.id && storedGone.id);
    natted.close();

    // The one nobody answered ends after 64*T1 at the Contact and 64*T1 at its source.
    for (const deadline = Date.now() + 20000; ;) {
      const now = await fallbackCounts(server);
      const d = (k: string) => (now[k] ?? 0) - (before[k] ?? 0);
      if (d('unanswered') >= 1 || Date.now() > deadline) {
        assert.deepEqual(
          {
            resent: d('resent'),
            answered: d('answered'),
            unanswered: d('unanswered'),
            notResent: d('not-resent'),
          },
          { resent: 2, answered: 1, unanswered: 1, notResent: 0 },
        );
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(server.output(), /BYE to the remote target failed; resending it to the INVITE source/);
  });
});
