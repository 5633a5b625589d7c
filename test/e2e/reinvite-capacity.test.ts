/**
 * A re-INVITE the server cannot carry out (no RTP port left for the stream it adds) is refused
 * whole, on the real server: the SRC gets 503 and keeps its session (RFC 3261 section 14.2), so
 * the stream that re-INVITE would have removed is still recorded. Before, the server removed that
 * stream first and then failed to open the new one: the SRC was told nothing changed while its
 * stream's audio was dropped for the rest of the call.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { toneLevelDb } from '../helpers/audio.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents, wavOf } from '../helpers/recording.js';

describe('a re-INVITE without ports for its new stream (real server)', { timeout: 120000 }, () => {
  let server: TestServer;

  before(async () => {
    // Room for two streams (RTP and RTCP each) and no more.
    const base = 30000 + 2 * Math.floor(Math.random() * 4000);
    server = await startTestServer({ RTP_PORT_MIN: String(base), RTP_PORT_MAX: String(base + 3) });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server?.stop();
  });

  it('answers 503 and changes nothing: the stream it would remove is still recorded', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 2 });
    assert.equal(inv.status, 200, inv.text);
    const [first, second] = inv.ports as [number, number];
    assert.ok(first > 0 && second > 0, inv.text);
    // Remove the first stream and add a third: the third has no port.
    const change = await uac.reinvite({ streams: 3, declined: [0] });
    assert.match(change ?? '', /^SIP\/2\.0 503/, change ?? 'no answer');
    // The SRC keeps its session: the first stream goes on, and is recorded.
    await sendLoopbackTone(first, 1500, 0x51);
    const bye = await uac.request('BYE');
    assert.match(bye, /^SIP\/2\.0 200/, bye);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    const events = await recordingEvents(server, rec.id);
    assert.ok(!events.some((e) => e.type === 'stream-removed'), JSON.stringify(events));
    const pcm = await wavOf(server, rec);
    const ms = pcm.length / 8;
    assert.ok(toneLevelDb(pcm, ms - 1200, ms - 300, 440) > -3, 'the first stream is heard after the 503');
  });
});
