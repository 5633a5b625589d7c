/**
 * Recording policy and call-rate limit on the real server: an outbound call (caller 1001 matches
 * SRS_INTERNAL_NUMBERS) is declined with the configured status and a Warning when only inbound
 * calls are recorded; a blacklisted caller likewise; an inbound call is recorded, its direction
 * catalogued; over SRS_MAX_CPS new sessions are refused with 503 and Retry-After. Raw SIP over UDP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listRecordings } from '../helpers/sipp.js';
import { fixture } from '../helpers/raw-siprec.js';
import { getHeader } from '../../src/sip/edge/message.js';

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
