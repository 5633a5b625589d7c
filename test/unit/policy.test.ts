import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import {
  DEFAULT_POLICY,
  compilePattern,
  compilePolicy,
  numberOf,
  type RecordingPolicyConfig,
} from '../../src/sip/app/policy.js';

describe('recording policy', () => {
  it('compiles dial-plan patterns (X and . one digit, ! any digits)', () => {
    const cases: [string, string, boolean][] = [
      ['1XXX', '1001', true],
      ['1XXX', '10011', false],
      ['1XXX', '2001', false],
      ['1...', '1234', true],
      ['1...', '1a34', false],
      ['+39!', '+390212345', true],
      ['+39!', '+39', true],
      ['+39!', '39021', false],
      ['0!', '0', true],
      ['!', '', true],
      ['555X!', '5551', true],
      ['555X!', '555', false],
      ['*98', '*98', true],
      ['x2', '12', true],
    ];
    for (const [p, n, want] of cases) assert.equal(compilePattern(p).test(n), want, `${p} ~ ${n}`);
  });

  it('rejects malformed patterns with a ConfigError', () => {
    for (const p of ['', '1[0-9]', 'abc', '1 2', '1?', 'sip:100X']) {
      assert.throws(() => compilePattern(p), ConfigError, p);
    }
  });

  it('reads the number out of AORs, tel: URIs and name-addrs', () => {
    const cases: [string | null, string | null][] = [
      ['sip:1001@pbx.example.com', '1001'],
      ['sip:+39 02-1234@pbx;user=phone', '+39021234'],
      ['"Alice" <sip:1001@pbx>', '1001'],
      ['tel:+3912;phone-context=example.com', '+3912'],
      ['sips:%2B4420@x', '+4420'],
      ['sip:alice@example.com', null],
      ['1001', '1001'],
      [null, null],
      ['', null],
    ];
    for (const [id, want] of cases) assert.equal(numberOf(id), want, String(id));
  });

  const policy = (p: Partial<RecordingPolicyConfig>) =>
    compilePolicy({ ...DEFAULT_POLICY, internalNumbers: ['1XXX'], ...p });

  it('decides by direction, scope and blacklist (table)', () => {
    type Row = [Partial<RecordingPolicyConfig>, string | null, string | null, boolean, string, string];
    const rows: Row[] = [
      // config, caller, callee, record, direction, scope
      [{}, 'sip:+39021234@gw', 'sip:1001@pbx', true, 'inbound', 'external'],
      [{}, 'sip:1001@pbx', 'sip:1002@pbx', true, 'outbound', 'internal'],
      [{ direction: 'inbound' }, 'sip:+39021234@gw', 'sip:1001@pbx', true, 'inbound', 'external'],
      [{ direction: 'inbound' }, 'sip:1001@pbx', 'sip:+39021234@gw', false, 'outbound', 'external'],
      [{ direction: 'outbound' }, 'sip:1001@pbx', 'sip:+39021234@gw', true, 'outbound', 'external'],
      [{ direction: 'outbound' }, 'sip:+39021234@gw', 'sip:1001@pbx', false, 'inbound', 'external'],
      [{ scope: 'internal' }, 'sip:1001@pbx', 'sip:1002@pbx', true, 'outbound', 'internal'],
      [{ scope: 'internal' }, 'sip:1001@pbx', 'sip:0612345678@gw', false, 'outbound', 'external'],
      [{ scope: 'external' }, 'sip:1001@pbx', 'sip:1002@pbx', false, 'outbound', 'internal'],
      [{ scope: 'external' }, 'sip:0612345678@gw', 'sip:1002@pbx', true, 'inbound', 'external'],
      // blacklist: remote party only
      [{ blacklist: ['+3906!'] }, 'sip:+390611111@gw', 'sip:1001@pbx', false, 'inbound', 'external'],
      [{ blacklist: ['+3906!'] }, 'sip:1001@pbx', 'sip:+390611111@gw', false, 'outbound', 'external'],
      [{ blacklist: ['+3906!'] }, 'sip:+390211111@gw', 'sip:1001@pbx', true, 'inbound', 'external'],
      [{ blacklist: ['100X'] }, 'sip:1001@pbx', 'sip:+390211111@gw', true, 'outbound', 'external'],
      [{ blacklist: ['1002'] }, 'sip:1001@pbx', 'sip:1002@pbx', false, 'outbound', 'internal'],
      // unknown parties are recorded (fail open), blacklist still applies to what is known
      [{ direction: 'inbound', scope: 'internal' }, null, null, true, 'unknown', 'unknown'],
      [{ blacklist: ['0!'] }, null, 'sip:0612@gw', false, 'unknown', 'external'],
      [{ direction: 'outbound' }, 'sip:alice@example.com', 'sip:1001@pbx', true, 'unknown', 'unknown'],
    ];
    for (const [cfg, caller, callee, record, direction, scope] of rows) {
      const d = policy(cfg).decide({ caller, callee });
      const what = `${JSON.stringify(cfg)} ${caller} -> ${callee}: ${d.reason}`;
      assert.equal(d.record, record, what);
      assert.equal(d.direction, direction, what);
      assert.equal(d.scope, scope, what);
      assert.ok(d.reason.length > 0);
    }
  });

  it('says why a call is excluded', () => {
    const d = policy({ blacklist: ['+3906!'] }).decide({ caller: 'tel:+390699', callee: 'sip:1001@x' });
    assert.match(d.reason, /\+390699 is blacklisted \(\+3906!\)/);
  });
});
