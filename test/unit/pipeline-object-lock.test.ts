import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { objectLockFor } from '../../src/pipeline/index.js';

/** The Object Lock of a recording's objects: the later of the configured days and its retention's end. */
describe('pipeline: Object Lock retention per recording', () => {
  const DAY = 86_400_000;
  const now = new Date('2026-12-02T10:00:00Z');
  const lock = { mode: 'COMPLIANCE' as const, days: 30 };
  const started = new Date(now.getTime() - 3_600_000);

  it('keep: the configured days from the upload', () => {
    const r = objectLockFor(lock, { default: 'keep', groups: {} }, started, [], now);
    assert.deepEqual(r, { mode: 'COMPLIANCE', until: new Date(now.getTime() + 30 * DAY) });
  });

  it('a longer policy: locked until the policy would purge the recording', () => {
    const r = objectLockFor(lock, { default: '90d', groups: {} }, started, [], now);
    assert.equal(r.until.getTime(), started.getTime() + 90 * DAY);
  });

  it('a shorter policy: never less than the configured days', () => {
    const r = objectLockFor(lock, { default: '7d', groups: {} }, started, [], now);
    assert.equal(r.until.getTime(), now.getTime() + 30 * DAY);
  });

  it("a group's override counts (the longest of the recording's groups)", () => {
    const policy = { default: '7d', groups: { legal: '365d', sales: '60d' } };
    assert.equal(
      objectLockFor(lock, policy, started, ['sales', 'legal'], now).until.getTime(),
      started.getTime() + 365 * DAY,
    );
    assert.equal(
      objectLockFor({ mode: 'GOVERNANCE', days: 1 }, policy, started, ['sales'], now).until.getTime(),
      started.getTime() + 60 * DAY,
    );
  });
});
