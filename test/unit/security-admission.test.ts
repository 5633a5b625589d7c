import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmission, usableMediaAddress } from '../../src/sip/app/admission.js';
import { parseSessionExpires } from '../../src/sip/app/session-timer.js';

describe('admission', () => {
  it('allows loopback and private sources by default, others get 403', () => {
    const a = createAdmission({
      maxStreamsPerSession: 8,
      maxSessionsPerSource: 0,
      maxCallsPerSecondPerSource: 0,
    });
    for (const ok of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '::1',
      '::ffff:10.0.0.1',
      'fd00::1',
    ])
      assert.equal(a.checkSource(ok), null, ok);
    for (const bad of ['8.8.8.8', '172.32.0.1', '2001:db8::1', 'not-an-ip'])
      assert.equal(a.checkSource(bad)?.status, 403, bad);
    assert.equal(a.refused.get('source-not-allowed'), 4);
  });

  it('takes addresses and CIDRs, or any', () => {
    const a = createAdmission({
      srcAllow: ['192.0.2.0/24', '2001:db8::7'],
      maxStreamsPerSession: 8,
      maxSessionsPerSource: 0,
      maxCallsPerSecondPerSource: 0,
    });
    assert.equal(a.checkSource('192.0.2.200'), null);
    assert.equal(a.checkSource('2001:db8::7'), null);
    assert.equal(a.checkSource('127.0.0.1')?.status, 403);
    const open = createAdmission({
      srcAllow: ['any'],
      maxStreamsPerSession: 8,
      maxSessionsPerSource: 0,
      maxCallsPerSecondPerSource: 0,
    });
    assert.equal(open.open, true);
    assert.equal(open.checkSource('8.8.8.8'), null);
  });

  it('limits streams (488), sessions per source and rate per source (503 + Retry-After)', () => {
    let refuse: string | null = null;
    const a = createAdmission({
      maxStreamsPerSession: 2,
      maxSessionsPerSource: 2,
      maxCallsPerSecondPerSource: 3,
      refuseAll: () => refuse,
    });
    assert.equal(a.checkSession('10.0.0.1', 3)?.status, 488);
    assert.match(a.checkSession('10.0.0.1', 3)?.headers.Warning ?? '', /3 streams offered; at most 2/);
    assert.equal(a.checkSession('10.0.0.1', 2), null);
    // The same limit for a re-INVITE's offer, whatever the source's other limits.
    assert.match(a.checkStreams(3)?.headers.Warning ?? '', /3 streams offered; at most 2/);
    assert.equal(a.checkStreams(2), null);
    a.track('10.0.0.1', true);
    a.track('10.0.0.1', true);
    const full = a.checkSession('10.0.0.1', 1);
    assert.equal(full?.status, 503);
    assert.ok(full?.headers['Retry-After']);
    a.track('10.0.0.1', false);
    assert.equal(a.checkSession('10.0.0.1', 1), null);
    // 3 tokens a second: 2 taken above, one left, then refused.
    a.track('10.0.0.1', false);
    assert.equal(a.checkSession('10.0.0.1', 1), null);
    assert.equal(a.checkSession('10.0.0.1', 1)?.counter, 'source-rate');
    assert.equal(a.checkSession('10.0.0.2', 1), null, 'another source has its own bucket');
    refuse = 'disk nearly full';
    assert.equal(a.checkSource('10.0.0.3')?.status, 503);
  });

  it('latches on the SDP address only when it is usable', () => {
    assert.equal(usableMediaAddress('10.0.0.5', '10.0.0.5'), '10.0.0.5');
    assert.equal(usableMediaAddress('192.0.2.10', '192.0.2.1'), '192.0.2.10');
    assert.equal(usableMediaAddress('0.0.0.0', '10.0.0.5'), undefined);
    assert.equal(usableMediaAddress(null, '10.0.0.5'), undefined);
    assert.equal(usableMediaAddress('pbx.example.com', '10.0.0.5'), undefined);
    // Private media address, public signalling: the SRC is behind NAT, take the first source.
    assert.equal(usableMediaAddress('192.168.1.20', '198.51.100.7'), undefined);
  });

  it('reads Session-Expires', () => {
    assert.deepEqual(parseSessionExpires('1800;refresher=uac'), { seconds: 1800, refresher: 'uac' });
    assert.deepEqual(parseSessionExpires(' 90 '), { seconds: 90, refresher: null });
    assert.equal(parseSessionExpires('soon'), null);
  });
});
