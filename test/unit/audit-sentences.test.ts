/**
 * The console's sentences for the audit actions added with the integrity check, the email
 * notification settings and the delivery destination test: each says what happened and its
 * outcome (not the generic "{who} {action} {what}" of an action the console does not know).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditSentence, type AuditEntry } from '../../web/src/audit-text.js';

const entry = (o: Partial<AuditEntry>): AuditEntry => ({
  id: 1,
  at: '2026-12-05T01:00:00Z',
  actor: 'admin',
  actorRole: 'admin',
  ip: '',
  via: 'web',
  action: '',
  resource: '',
  resourceId: '',
  details: {},
  ...o,
});

test('integrity checks, on the recording and elsewhere, with the outcome', () => {
  const e = (details: Record<string, unknown>) =>
    entry({ action: 'integrity.check', resource: 'recording', resourceId: 'a1b2c3d4-0000', details });
  assert.equal(
    auditSentence(e({ intact: true }), 'a1b2c3d4-0000'),
    'admin checked the integrity of this recording (intact)',
  );
  assert.equal(
    auditSentence(e({ intact: false, failed: ['file.wav', 'chain.entry'] })),
    'admin checked the integrity of recording a1b2c3d4 (NOT intact: file.wav, chain.entry)',
  );
});

test('email notification settings, with what changed', () => {
  const s = auditSentence(
    entry({
      action: 'notification-settings.update',
      resource: 'user',
      resourceId: 'u1',
      details: { username: 'alice', changes: { email: { from: null, to: 'a@example.com' } } },
    }),
  );
  assert.equal(s, 'admin changed the email notifications of user alice: email: - → a@example.com');
});

test('a delivery destination tested: works, or the step that failed', () => {
  const e = (details: Record<string, unknown>) =>
    entry({
      action: 'delivery.destination-test',
      resource: 'delivery-destination',
      resourceId: 'x',
      details,
    });
  assert.equal(
    auditSentence(e({ name: 'sftp:sftp://u@h:22/d', ok: true })),
    'admin tested access to the delivery destination sftp:sftp://u@h:22/d (access works)',
  );
  assert.equal(
    auditSentence(e({ name: 'local:/srv/x', ok: false, step: 'write' })),
    'admin tested access to the delivery destination local:/srv/x (failed at write)',
  );
});

test('the recording filters changed, field by field', () => {
  const s = auditSentence(
    entry({
      action: 'policy.update',
      resource: 'setting',
      resourceId: 'recording.policy',
      details: {
        from: { direction: 'both', blacklist: [], declineStatus: 403 },
        to: { direction: 'both', blacklist: ['+3906!'], declineStatus: 603 },
      },
    }),
  );
  assert.equal(s, 'admin changed the recording filters: blacklist: - → +3906!; declineStatus: 403 → 603');
});

test('the saved recording filters dropped for the configured ones, field by field', () => {
  const s = auditSentence(
    entry({
      action: 'policy.reset',
      resource: 'setting',
      resourceId: 'recording.policy',
      details: {
        from: { blacklist: ['+3906!'], excludedAction: 'decline' },
        to: { blacklist: [], excludedAction: 'answer' },
      },
    }),
  );
  assert.equal(
    s,
    'admin returned the recording filters to the configured ones: blacklist: +3906! → -; excludedAction: decline → answer',
  );
});

test('the retention policy changed: the default, each group, and what the change purged', () => {
  const s = auditSentence(
    entry({
      action: 'retention-policy.update',
      resource: 'setting',
      resourceId: 'retention.policy',
      details: {
        from: { default: 'keep', groups: {} },
        to: { default: '30d', groups: { vip: 'keep' } },
        purges: 2,
      },
    }),
  );
  assert.equal(
    s,
    'admin changed the retention policy: default: keep → 30d; group vip: - → keep; purges 2 recordings',
  );
  const back = auditSentence(
    entry({
      action: 'retention-policy.reset',
      resource: 'setting',
      resourceId: 'retention.policy',
      details: { from: { default: '60d', groups: {} }, to: { default: 'keep', groups: {} }, purges: 0 },
    }),
  );
  assert.equal(back, 'admin returned the retention policy to the configured one: default: 60d → keep');
});

test('a recording given up with a node whose disk is lost: the node and the reason', () => {
  const e = entry({
    action: 'recording.abandon',
    resource: 'recording',
    resourceId: 'a1b2c3d4-0000',
    actor: 'cli:root',
    details: { node: 'node-d', reason: 'volume destroyed' },
  });
  assert.equal(
    auditSentence(e, 'a1b2c3d4-0000'),
    'cli:root gave up this recording with node node-d, whose data directory was lost (volume destroyed)',
  );
  assert.equal(
    auditSentence(e),
    'cli:root gave up recording a1b2c3d4 with node node-d, whose data directory was lost (volume destroyed)',
  );
});

test('a node drained and forgotten, named by its whole id', () => {
  const e = (action: string) =>
    entry({ action, resource: 'node', resourceId: 'recorder-7.example-5060', details: { status: 'down' } });
  assert.equal(auditSentence(e('node.drain')), 'admin asked node recorder-7.example-5060 to drain');
  assert.match(auditSentence(e('node.forget')), /^admin forgot node recorder-7\.example-5060, gone for good/);
});
