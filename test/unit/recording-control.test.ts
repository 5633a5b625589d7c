/** The recording-control policy: modes, combination, allowed actions, phone codes, settings. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DtmfMatcher,
  allowedNow,
  mayControl,
  normalizeSettings,
  refusal,
  resolveMode,
} from '../../src/recording/control-policy.js';
import type { ModeTable } from '../../src/store/record-modes.js';
import type { Principal } from '../../src/store/users.js';

const user = (
  username: string,
  numbers: string[],
  mode: ModeTable['users'][number]['mode'],
  group: string | null = null,
) => ({
  userId: `id-${username}`,
  username,
  role: 'user' as const,
  numbers,
  group,
  extraGroups: [],
  mode,
});
const table: ModeTable = {
  users: [
    user('agent', ['2001'], 'always-pause', 'sales'),
    user('grouped', ['2002'], null, 'support'),
    user('plain', ['2003'], null),
    user('never', ['2004'], 'never'),
  ],
  groups: new Map([
    ['support', 'on-demand'],
    ['sales', 'always'],
  ]),
};
const aor = (n: string) => ({ aor: `sip:${n}@pbx.example` });
const settings = { defaultMode: 'always', combine: 'most-audio' } as const;

describe('recording control policy', () => {
  it("resolves a call's mode: the user's own over the group's, the default when no user brings one", () => {
    assert.equal(resolveMode([aor('2001'), aor('9999')], table, settings).mode, 'always-pause');
    assert.equal(resolveMode([aor('2002')], table, settings).mode, 'on-demand');
    assert.equal(resolveMode([aor('2003')], table, { ...settings, defaultMode: 'never' }).mode, 'never');
    assert.equal(
      resolveMode([aor('5555')], table, { ...settings, defaultMode: 'on-demand' }).mode,
      'on-demand',
    );
    assert.deepEqual(resolveMode([aor('2001'), aor('2003')], table, settings).users, ['agent', 'plain']);
  });

  it('combines several users to the mode keeping the most audio (or the least when configured)', () => {
    const parts = [aor('2002'), aor('2001'), aor('2004')];
    assert.equal(resolveMode(parts, table, settings).mode, 'always-pause');
    assert.equal(resolveMode(parts, table, { ...settings, combine: 'least-audio' }).mode, 'never');
  });

  it('allows per mode, state and role; says why it refuses', () => {
    assert.deepEqual(allowedNow('always', 'recording', false), []);
    assert.deepEqual(allowedNow('always', 'recording', true), ['pause', 'stop']);
    assert.deepEqual(allowedNow('always-pause', 'paused', false), ['resume']);
    assert.deepEqual(allowedNow('on-demand', 'not-started', false), ['start']);
    assert.deepEqual(allowedNow('on-demand', 'stopped', false), ['start']);
    assert.deepEqual(allowedNow('never', 'not-recorded', true), []);
    assert.equal(refusal('always', 'recording', 'pause', false)?.status, 403);
    assert.equal(refusal('always-pause', 'recording', 'stop', false)?.status, 403);
    assert.equal(refusal('always-pause', 'paused', 'pause', false)?.status, 409);
    assert.equal(refusal('never', 'not-recorded', 'start', true)?.status, 409);
    assert.equal(refusal('on-demand', 'recording', 'stop', false), null);
  });

  it('lets users control calls of their numbers, supervisors their groups, admins all', () => {
    const p = (role: Principal['role'], numbers: string[], groups: string[] = []): Principal => ({
      userId: 'x',
      username: 'x',
      role,
      numbers,
      groups,
      via: 'session',
    });
    assert.equal(mayControl(p('record-only', ['2001']), [aor('2001')], table), true);
    assert.equal(mayControl(p('user', ['2001']), [aor('2003')], table), false);
    assert.equal(mayControl(p('supervisor', [], ['support']), [aor('2002')], table), true);
    assert.equal(mayControl(p('supervisor', [], ['support']), [aor('2001')], table), false);
    assert.equal(mayControl(p('admin', []), [aor('7777')], table), true);
  });

  it('recognises phone codes in a digit stream; digits far apart do not join', () => {
    const m = new DtmfMatcher({ pause: '*7', resume: '*8' });
    assert.equal(m.push('1', 0), null);
    assert.equal(m.push('*', 100), null);
    assert.equal(m.push('7', 300), 'pause');
    assert.equal(m.push('*', 1000), null);
    assert.equal(m.push('8', 5000), null, 'more than 3 s after the *');
    assert.equal(m.push('*', 5200), null);
    assert.equal(m.push('8', 5400), 'resume');
  });

  it('normalizes stored settings: defaults for what is missing or invalid; phone codes off by default', () => {
    assert.deepEqual(normalizeSettings(undefined), {
      defaultMode: 'always',
      keepUnstarted: 'metadata',
      onDemandFrom: 'press',
      combine: 'most-audio',
      dtmf: null,
    });
    const s = normalizeSettings({
      defaultMode: 'bogus',
      onDemandFrom: 'call',
      dtmf: { pause: '*7', stop: 'x!' },
    });
    assert.equal(s.defaultMode, 'always');
    assert.equal(s.onDemandFrom, 'call');
    assert.deepEqual(s.dtmf, { pause: '*7' });
  });
});
