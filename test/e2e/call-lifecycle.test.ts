/**
 * Every call ends, on the real server with short settings: an SRC that goes silent without a BYE
 * (RTP timeout), a call past the maximum duration, an RFC 4028 session timer that is refreshed once
 * and then missed, and a Session-Expires below Min-SE (422). Each time the server sends BYE to the
 * SRC, and the recording is stored with an event saying why. The source may hold one session at a
 * time here: a call the server ends gives its slot back, so the next test's call is answered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { toneLevelDb } from '../helpers/audio.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents, wavOf } from '../helpers/recording.js';

describe('every call ends (RTP timeout, maximum duration, session timer)', { timeout: 180000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      SRS_RTP_TIMEOUT: '3',
      SRS_MAX_DURATION: '7',
      SRS_SESSION_EXPIRES: '4',
      SRS_MIN_SE: '2',
      SRS_MAX_SESSIONS_PER_SOURCE: '1',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    // A Min-SE below RFC 4028's 90 s is taken (these tests need short timers), and said at startup.
    assert.match(server.output(), /SRS_MIN_SE is below 90 s/);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('ends a call whose SRC went silent without a BYE: BYE, stored, rtp-timeout event', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    await sendLoopbackTone(inv.ports[0] as number, 1000, 0x42);
    // The SRC vanishes: no more RTP, no BYE. The server hangs up after 3 s of silence.
    const bye = await uac.waitFor(/^BYE /, 15000);
    assert.match(bye, /Reason: SIP;cause=200;text="rtp-timeout"/);
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    const events = await recordingEvents(server, rec.id);
    assert.ok(
      events.some((e) => e.type === 'call-ended-by-server' && /rtp-timeout/.test(e.text)),
      JSON.stringify(events),
    );
    const pcm = await wavOf(server, rec);
    assert.ok(toneLevelDb(pcm, 0, pcm.length / 8, 440) > -3, 'the audio before the silence is stored');
  });

  it('ends a call at the maximum duration: BYE, stored as long as the call, max-duration event', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    // RTP for 10 s (past the 7 s limit), refreshing the session timer meanwhile.
    const stream = sendLoopbackTone(inv.ports[0] as number, 10000, 0x43);
    const bye = await uac.waitFor(/^BYE /, 15000);
    assert.match(bye, /text="max-duration"/);
    await stream;
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    assert.ok(
      rec.durationMs !== null && rec.durationMs >= 7000 && rec.durationMs < 10000,
      `${rec.durationMs}`,
    );
    const events = await recordingEvents(server, rec.id);
    assert.ok(events.some((e) => e.type === 'call-ended-by-server' && /max-duration/.test(e.text)));
    const pcm = await wavOf(server, rec);
    assert.ok(Math.abs(pcm.length / 8 - (rec.durationMs ?? 0)) < 1000, `WAV ${pcm.length / 8} ms`);
  });

  it('runs an RFC 4028 session timer: Session-Expires in the 200, refresh accepted, BYE when missed', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1, extraHeaders: ['Supported: timer', 'Session-Expires: 4'] });
    assert.equal(inv.status, 200, inv.text);
    assert.match(inv.text, /Session-Expires: 4;refresher=uac/);
    assert.match(inv.text, /Require: timer/);
    const stream = sendLoopbackTone(inv.ports[0] as number, 6000, 0x44);
    const started = Date.now();
    // Refresh at 1.5 s (the BYE would come at 4 - 4/3 = 2.7 s without it).
    await new Promise((r) => setTimeout(r, 1500));
    const ok = await uac.request('UPDATE', ['Supported: timer', 'Session-Expires: 4;refresher=uac']);
    assert.match(ok, /^SIP\/2\.0 200/);
    assert.match(ok, /Session-Expires: 4;refresher=uac/);
    // No further refresh: BYE about 2.7 s after the refresh, so well after 2.7 s from the start.
    const bye = await uac.waitFor(/^BYE /, 10000);
    assert.match(bye, /text="session-timer-expired"/);
    assert.ok(Date.now() - started >= 3500, `BYE after ${Date.now() - started} ms: the refresh counted`);
    await stream;
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    const events = await recordingEvents(server, rec.id);
    assert.ok(events.some((e) => e.type === 'call-ended-by-server' && /session-timer-expired/.test(e.text)));
  });

  it('answers the source again after the calls the server ended (their slots given back)', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const bye = await uac.request('BYE');
    assert.match(bye, /^SIP\/2\.0 200/, bye);
    uac.close();
    await waitForState(server, uac.callId, 'stored');
  });

  it('takes an SRC that requires the session timer (Require: timer), in the INVITE and a refresh', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const timer = ['Supported: timer', 'Require: timer', 'Session-Expires: 4;refresher=uac'];
    const inv = await uac.invite({ streams: 1, extraHeaders: timer });
    assert.equal(inv.status, 200, inv.text);
    assert.match(inv.text, /Session-Expires: 4;refresher=uac/);
    const refresh = await uac.reinvite({ streams: 1, extraHeaders: timer });
    assert.match(refresh ?? '', /^SIP\/2\.0 200/, refresh ?? 'no answer');
    // Another option-tag is still refused.
    const other = await uac.reinvite({ streams: 1, extraHeaders: ['Require: 100rel'] });
    assert.match(other ?? '', /^SIP\/2\.0 420[\s\S]*Unsupported: 100rel/, other ?? 'no answer');
    const bye = await uac.request('BYE');
    assert.match(bye, /^SIP\/2\.0 200/, bye);
    uac.close();
    await waitForState(server, uac.callId, 'stored');
  });

  it('answers 422 with Min-SE to a Session-Expires below it', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const r = await uac.invite({ extraHeaders: ['Supported: timer', 'Session-Expires: 1'] });
    uac.close();
    assert.equal(r.status, 422, r.text);
    assert.match(r.text, /Min-SE: 2/i);
  });

  it('runs without a timer when the SRC asks a Min-SE no timer can hold (no early BYE)', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({
      streams: 1,
      extraHeaders: ['Supported: timer', 'Session-Expires: 4', 'Min-SE: 999999999'],
    });
    assert.equal(inv.status, 200, inv.text);
    assert.doesNotMatch(inv.text, /Session-Expires:/i, 'no session timer offered');
    // Before the fix the interval became 999999999 s, past setTimeout's limit: BYE after 1 ms.
    const early = uac.waitFor(/^BYE /, 2500).then(
      (bye) => bye,
      () => null,
    );
    await sendLoopbackTone(inv.ports[0] as number, 2000, 0x43);
    assert.equal(await early, null, 'the server hung up a call whose SRC asked a long Min-SE');
    const bye = await uac.request('BYE');
    assert.match(bye, /^SIP\/2\.0 200/, bye);
    uac.close();
    await waitForState(server, uac.callId, 'stored');
    const events = await recordingEvents(server, (await waitForState(server, uac.callId, 'stored')).id);
    assert.ok(!events.some((e) => e.type === 'call-ended-by-server'), JSON.stringify(events));
  });
});
