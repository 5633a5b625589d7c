/**
 * A BYE the server cannot send (the SRC's Contact names a host that does not resolve) still ends
 * the dialog, on the real server (`srs serve`, real UDP on loopback). The call reaches
 * SRS_MAX_DURATION, its BYE fails, and the recording ends; the SRC's later re-INVITE and BYE get
 * 481. Before, the edge kept the dialog the app had dropped: the re-INVITE reached the app as a new
 * INVITE and got 200, and a second recording started under the same Call-ID (the maximum duration
 * only split the call).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { listRecordings, waitForState } from '../helpers/sipp.js';
import { recordingEvents } from '../helpers/recording.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

describe('a BYE that cannot be sent (real server)', { timeout: 120000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ SRS_MAX_DURATION: '2' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('ends the dialog anyway: a later re-INVITE gets 481 and starts no second recording', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    uac.contactHost = 'nonexistent.invalid';
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    await server.waitFor(/BYE to the SRC failed/, 20000);
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
});
