/**
 * The recording policy changed while the server runs (PUT /api/v1/recording-policy): the next
 * INVITE follows it without a restart. With nothing saved the configured policy (here: record
 * everything) applies; a saved blacklist declines the matching caller with 403 and a Warning
 * naming it, other callers are still recorded; a bad pattern is refused (400) and changes nothing;
 * the change is audited; dropping the saved policy (DELETE) brings the configured one back; clearing
 * the blacklist records the caller again. Raw SIP over UDP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../helpers/raw-siprec.js';
import { getHeader } from '../../src/sip/edge/message.js';

interface PolicyView {
  policy: { blacklist: string[]; excludedAction: string; declineStatus: number; direction: string };
  saved: boolean;
}

describe('recording policy edited at run time (srs serve)', { timeout: 120000 }, () => {
  const f = fixture({ SRS_EXCLUDED_ACTION: 'answer' });
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${f.server.httpPort}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${f.server.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, text, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  it('records a call by the configured policy while none is saved', async () => {
    const g = await api('GET', '/recording-policy');
    assert.equal(g.status, 200, g.text);
    const v = g.json as unknown as PolicyView;
    assert.equal(v.saved, false);
    assert.deepEqual(v.policy.blacklist, []);
    const r = await f.call('+390611111', '1002');
    assert.equal(r.status, 200);
    assert.match(r.body.toString('utf8'), /^m=audio [1-9]/m, 'the stream is recorded');
  });

  it('applies a saved blacklist to the next call, without a restart', async () => {
    const p = await api('PUT', '/recording-policy', {
      blacklist: ['+3906!'],
      excludedAction: 'decline',
      declineStatus: 403,
    });
    assert.equal(p.status, 200, p.text);
    const r = await f.call('+390611111', '1002');
    assert.equal(r.status, 403);
    assert.match(getHeader(r, 'warning') ?? '', /\+390611111 is blacklisted \(\+3906!\)/);
    const ok = await f.call('+390212345', '1002');
    assert.equal(ok.status, 200, 'a caller off the blacklist is still recorded');
  });

  it('GET returns what was saved', async () => {
    const g = await api('GET', '/recording-policy');
    assert.equal(g.status, 200);
    const v = g.json as unknown as PolicyView;
    assert.equal(v.saved, true);
    assert.deepEqual(v.policy.blacklist, ['+3906!']);
    assert.equal(v.policy.excludedAction, 'decline');
    assert.equal(v.policy.declineStatus, 403);
    assert.equal(v.policy.direction, 'both');
  });

  it('refuses a bad pattern or decline status (400) and changes nothing', async () => {
    const bad = await api('PUT', '/recording-policy', { blacklist: ['abc'] });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /abc/);
    assert.match(bad.text, /digits, \+ \* #, X or \. \(one digit\) and ! \(any digits\)/);
    const status = await api('PUT', '/recording-policy', { declineStatus: 200 });
    assert.equal(status.status, 400, status.text);
    const v = (await api('GET', '/recording-policy')).json as unknown as PolicyView;
    assert.deepEqual(v.policy.blacklist, ['+3906!']);
    assert.equal(v.policy.declineStatus, 403);
    const r = await f.call('+390611111', '1002');
    assert.equal(r.status, 403, 'the saved policy still applies');
  });

  it('audits the change with the old and new values', async () => {
    const a = await api('GET', '/audit?action=policy.update');
    assert.equal(a.status, 200, a.text);
    const items = a.json.items as {
      action: string;
      details: { from: PolicyView['policy']; to: PolicyView['policy'] };
    }[];
    assert.equal(items.length, 1, 'one saved change, the refused ones are not');
    assert.deepEqual(items[0]?.details.from.blacklist, []);
    assert.deepEqual(items[0]?.details.to.blacklist, ['+3906!']);
    assert.equal(items[0]?.details.to.excludedAction, 'decline');
  });

  it('DELETE drops the saved policy: the configured one applies again, audited with both', async () => {
    const p = await api('PUT', '/recording-policy', { blacklist: ['+3906!'], excludedAction: 'decline' });
    assert.equal(p.status, 200, p.text);
    assert.equal((await f.call('+390611111', '1002')).status, 403);
    const d = await api('DELETE', '/recording-policy');
    assert.equal(d.status, 200, d.text);
    const v = d.json as unknown as PolicyView & { defaults: PolicyView['policy'] };
    assert.equal(v.saved, false);
    assert.deepEqual(v.policy, v.defaults);
    assert.deepEqual(v.policy.blacklist, []);
    assert.equal(v.policy.excludedAction, 'answer', 'SRS_EXCLUDED_ACTION, as configured');
    const r = await f.call('+390611111', '1002');
    assert.equal(r.status, 200, 'the configured policy records everyone');
    assert.match(r.body.toString('utf8'), /^m=audio [1-9]/m);
    // Nothing saved: nothing to drop, nothing audited.
    const again = await api('DELETE', '/recording-policy');
    assert.equal(again.status, 200, again.text);
    const a = await api('GET', '/audit?action=policy.reset');
    const items = a.json.items as { details: { from: PolicyView['policy']; to: PolicyView['policy'] } }[];
    assert.equal(items.length, 1);
    assert.deepEqual(items[0]?.details.from.blacklist, ['+3906!']);
    assert.equal(items[0]?.details.to.excludedAction, 'answer');
  });

  it('records the caller again once the blacklist is cleared', async () => {
    const p = await api('PUT', '/recording-policy', { blacklist: [] });
    assert.equal(p.status, 200, p.text);
    const r = await f.call('+390611111', '1002');
    assert.equal(r.status, 200);
    assert.match(r.body.toString('utf8'), /^m=audio [1-9]/m, 'the stream is recorded');
  });
});
