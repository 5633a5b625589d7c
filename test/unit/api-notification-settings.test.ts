/**
 * Each user's email notifications of their stored recordings, over the real HTTP API and a real
 * embedded Postgres: an admin sets a user's (/users/{id}/notifications), the user reads and changes
 * their own (/me/notifications), nobody else's; a bad address, or a flag on without an address, is
 * a 400 that says so and changes nothing; each change is audited with the old and new values of
 * what changed; the notifier's queue (notificationsDue) and the offload CSV's Email column follow
 * the settings; and the config file's seed (subscribe at start) leaves settings made here alone.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { carrierRow } from '../../src/delivery/csv.js';
import {
  addApiUser,
  startApiHarness,
  storeCallTo,
  type ApiHarness,
  type AuditItem,
} from '../helpers/api-harness.js';

interface Settings {
  userId: string;
  username: string;
  email: string | null;
  enabled: boolean;
  attach: boolean;
}
type Entry = AuditItem;

describe('email notification settings (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  const ids = new Map<string, string>();
  const id = (username: string) => ids.get(username) as string;

  const addUser = async (username: string, body: Record<string, unknown>) =>
    ids.set(username, await addApiUser(h, username, body));
  const record = (number: string) => storeCallTo(h, number, { storedAt: true });
  /** The emails queued for recording `rid` (what the notifier sends next). */
  const dueFor = async (rid: string) =>
    (await h.db.offload.notificationsDue(new Date(0), 500))
      .filter((n) => n.recordingId === rid)
      .map((n) => ({ email: n.email, attach: n.attach }));
  const entries = async (resourceId: string) => {
    const r = await h.call('GET', '/api/v1/audit?action=notification-settings.update&limit=500', {
      as: 'admin',
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json as { items: Entry[] }).items.filter((e) => e.resourceId === resourceId);
  };

  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addUser('alice', { role: 'user', group: 'sales', numbers: ['1001'] });
    await addUser('bob', { role: 'user', group: 'sales', numbers: ['1002'] });
    await addUser('sup', { role: 'supervisor', group: 'sales' });
    await addUser('quiet', { role: 'record-only', numbers: ['1003'] });
  });

  after(async () => {
    await h?.close();
  });

  it('an admin sets a user’s settings, audited with the old and new values of what changed', async () => {
    const none = await h.call('GET', `/api/v1/users/${id('alice')}/notifications`, { as: 'admin' });
    assert.equal(none.status, 200, JSON.stringify(none.json));
    assert.deepEqual(none.json, {
      userId: id('alice'),
      username: 'alice',
      email: null,
      enabled: false,
      attach: false,
    });

    const set = await h.call('PUT', `/api/v1/users/${id('alice')}/notifications`, {
      as: 'admin',
      body: { email: ' alice@example.com ', enabled: true, attach: false },
    });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    assert.deepEqual(set.json, {
      userId: id('alice'),
      username: 'alice',
      email: 'alice@example.com',
      enabled: true,
      attach: false,
    });
    const got = await h.call('GET', `/api/v1/users/${id('alice')}/notifications`, { as: 'admin' });
    assert.deepEqual(got.json, set.json);

    // The same again changes nothing and is not audited; a change of one setting names only it.
    await h.call('PUT', `/api/v1/users/${id('alice')}/notifications`, {
      as: 'admin',
      body: { email: 'alice@example.com', enabled: true, attach: false },
    });
    const again = await h.call('PUT', `/api/v1/users/${id('alice')}/notifications`, {
      as: 'admin',
      body: { email: 'alice@example.com', enabled: true, attach: true },
    });
    assert.equal(again.status, 200);

    const trail = await entries(id('alice'));
    assert.equal(trail.length, 2, JSON.stringify(trail));
    const [second, first] = trail as [Entry, Entry];
    assert.equal(first.actor, 'admin');
    assert.equal(first.resource, 'user');
    assert.equal(first.details.username, 'alice');
    assert.deepEqual(first.details.changes, {
      email: { from: null, to: 'alice@example.com' },
      enabled: { from: false, to: true },
    });
    assert.deepEqual(second.details.changes, { attach: { from: false, to: true } });
    const keys = Object.keys(first.details).sort();
    assert.deepEqual(keys, ['changes', 'userAgent', 'username'], 'nothing more than needed');

    // Unknown user: 404.
    const missing = await h.call('GET', `/api/v1/users/${randomUUID()}/notifications`, { as: 'admin' });
    assert.equal(missing.status, 404);
  });

  it('a user reads and changes their own, and no one else’s', async () => {
    const own = await h.call('GET', '/api/v1/me/notifications', { as: 'alice' });
    assert.equal(own.status, 200, JSON.stringify(own.json));
    assert.deepEqual(own.json, {
      userId: id('alice'),
      username: 'alice',
      email: 'alice@example.com',
      enabled: true,
      attach: true,
    });
    // A new address is the admin's to set (403, nothing changes); she keeps hers and turns attach off.
    const elsewhere = await h.call('PUT', '/api/v1/me/notifications', {
      as: 'alice',
      body: { email: 'alice@new.example', enabled: true, attach: false },
    });
    assert.equal(elsewhere.status, 403, JSON.stringify(elsewhere.json));
    assert.match(
      String(elsewhere.json.error),
      /new notification address is set by an admin; keep alice@example\.com/,
    );
    const changed = await h.call('PUT', '/api/v1/me/notifications', {
      as: 'alice',
      body: { email: 'alice@example.com', enabled: true, attach: false },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    const seen = await h.call('GET', `/api/v1/users/${id('alice')}/notifications`, { as: 'admin' });
    assert.equal((seen.json as Settings).email, 'alice@example.com');
    assert.equal((seen.json as Settings).attach, false);
    const last = (await entries(id('alice')))[0] as Entry;
    assert.equal(last.actor, 'alice');
    assert.deepEqual(last.details.changes, { attach: { from: true, to: false } });
    const moved = await h.call('PUT', `/api/v1/users/${id('alice')}/notifications`, {
      as: 'admin',
      body: { email: 'alice@new.example', enabled: true, attach: false },
    });
    assert.equal(moved.status, 200, 'the admin gives her a new one');

    // Bob's own are his (none); Alice's are out of his reach, and a supervisor's too.
    const bobs = await h.call('GET', '/api/v1/me/notifications', { as: 'bob' });
    assert.equal(bobs.status, 200);
    assert.equal((bobs.json as Settings).userId, id('bob'));
    assert.equal((bobs.json as Settings).email, null);
    for (const as of ['bob', 'sup']) {
      const read = await h.call('GET', `/api/v1/users/${id('alice')}/notifications`, { as });
      assert.equal(read.status, 403, `${as} reads alice's: ${read.status}`);
      const write = await h.call('PUT', `/api/v1/users/${id('alice')}/notifications`, {
        as,
        body: { email: `${as}@evil.example`, enabled: true, attach: true },
      });
      assert.equal(write.status, 403, `${as} changes alice's: ${write.status}`);
    }
    // An unknown field (such as another user's id) is refused, not ignored.
    const sneaky = await h.call('PUT', '/api/v1/me/notifications', {
      as: 'bob',
      body: { email: 'bob@example.com', enabled: true, attach: false, userId: id('alice') },
    });
    assert.equal(sneaky.status, 400);
    const still = await h.call('GET', `/api/v1/users/${id('alice')}/notifications`, { as: 'admin' });
    assert.equal((still.json as Settings).email, 'alice@new.example', 'unchanged by bob and sup');

    // A record-only user has their own too: an address an admin gave them, which they may turn off.
    const quietFirst = await h.call('PUT', '/api/v1/me/notifications', {
      as: 'quiet',
      body: { email: 'quiet@example.com', enabled: true, attach: false },
    });
    assert.equal(quietFirst.status, 403, JSON.stringify(quietFirst.json));
    assert.match(String(quietFirst.json.error), /address is set by an admin/);
    const given = await h.call('PUT', `/api/v1/users/${id('quiet')}/notifications`, {
      as: 'admin',
      body: { email: 'quiet@example.com', enabled: true, attach: false },
    });
    assert.equal(given.status, 200, JSON.stringify(given.json));
    const quiet = await h.call('PUT', '/api/v1/me/notifications', {
      as: 'quiet',
      body: { email: 'quiet@example.com', enabled: false, attach: false },
    });
    assert.equal(quiet.status, 200, JSON.stringify(quiet.json));

    // The admin token is no user: a clear 400 on /me, while /users/{id} works for it.
    const token = await h.call('GET', '/api/v1/me/notifications', { bearer: 'the-admin-token' });
    assert.equal(token.status, 400);
    assert.match(String(token.json.error), /admin token is no user/);
    const tokenPut = await h.call('PUT', '/api/v1/me/notifications', {
      bearer: 'the-admin-token',
      body: { email: 'root@example.com', enabled: true, attach: false },
    });
    assert.equal(tokenPut.status, 400);
    const byToken = await h.call('GET', `/api/v1/users/${id('bob')}/notifications`, {
      bearer: 'the-admin-token',
    });
    assert.equal(byToken.status, 200);
    const anonymous = await h.call('GET', '/api/v1/me/notifications');
    assert.equal(anonymous.status, 401);
  });

  it('refuses a bad address, and a flag on without an address, saying why', async () => {
    const before = await entries(id('bob'));
    const cases: [unknown, RegExp][] = [
      [{ email: 'not-an-address', enabled: true, attach: false }, /^email: not a valid email address$/],
      [{ email: 'bob@', enabled: false, attach: false }, /^email: not a valid email address$/],
      [{ email: 'bob @example.com', enabled: true, attach: false }, /^email: not a valid email address$/],
      [{ email: `${'b'.repeat(250)}@example.com`, enabled: true }, /^email: at most 254 characters$/],
      [{ email: null, enabled: true, attach: false }, /^enabled: true needs an email address$/],
      [{ email: null, enabled: false, attach: true }, /^attach: true needs an email address$/],
      [{ email: '', enabled: true, attach: false }, /^email: not a valid email address$/],
      [{ enabled: true, attach: false }, /^email: /],
    ];
    for (const [body, message] of cases) {
      for (const [as, path] of [
        ['bob', '/api/v1/me/notifications'],
        ['admin', `/api/v1/users/${id('bob')}/notifications`],
      ] as const) {
        const r = await h.call('PUT', path, { as, body });
        assert.equal(r.status, 400, `${JSON.stringify(body)} by ${as}: ${r.status}`);
        assert.match(String(r.json.error), message, JSON.stringify(body));
      }
    }
    const after = await h.call('GET', '/api/v1/me/notifications', { as: 'bob' });
    assert.equal((after.json as Settings).email, null, 'nothing was saved');
    assert.deepEqual(await entries(id('bob')), before, 'nor audited');
  });

  it('the notifier and the offload CSV follow the settings; enabled false stops the emails', async () => {
    // Alice's settings are now alice@new.example, on, no attachment (the test above).
    const r1 = await record('1001');
    assert.deepEqual(await dueFor(r1), [{ email: 'alice@new.example', attach: false }]);
    // The offload manifest's Email column is the address set here.
    const [rec] = await h.db.offload.recordings([r1]);
    assert.ok(rec);
    assert.equal(rec.user?.email, 'alice@new.example');
    assert.equal(carrierRow(rec)[2], 'alice@new.example');

    const off = await h.call('PUT', '/api/v1/me/notifications', {
      as: 'alice',
      body: { email: 'alice@new.example', enabled: false, attach: false },
    });
    assert.equal(off.status, 200);
    const r2 = await record('1001');
    assert.deepEqual(await dueFor(r2), [], 'no email once turned off');
    const [rec2] = await h.db.offload.recordings([r2]);
    assert.equal(rec2?.user?.email, 'alice@new.example', 'the address stays for the CSV');

    // Bob has none; once an admin sets his, his next recording is queued, with the attachment.
    const r3 = await record('1002');
    assert.deepEqual(await dueFor(r3), []);
    const bob = await h.call('PUT', `/api/v1/users/${id('bob')}/notifications`, {
      as: 'admin',
      body: { email: 'bob@example.com', enabled: true, attach: true },
    });
    assert.equal(bob.status, 200);
    const r4 = await record('1002');
    assert.deepEqual(await dueFor(r4), [{ email: 'bob@example.com', attach: true }]);

    // Removed (email null): no more emails and no address in the CSV.
    const removed = await h.call('PUT', `/api/v1/users/${id('bob')}/notifications`, {
      as: 'admin',
      body: { email: null },
    });
    assert.equal(removed.status, 200, JSON.stringify(removed.json));
    assert.deepEqual(removed.json, {
      userId: id('bob'),
      username: 'bob',
      email: null,
      enabled: false,
      attach: false,
    });
    const r5 = await record('1002');
    assert.deepEqual(await dueFor(r5), []);
    const [rec5] = await h.db.offload.recordings([r5]);
    assert.equal(rec5?.user?.email, null);
    const last = (await entries(id('bob')))[0] as Entry;
    assert.deepEqual(last.details.changes, {
      email: { from: 'bob@example.com', to: null },
      enabled: { from: true, to: false },
      attach: { from: true, to: false },
    });
  });

  it('a queued email goes to the address in force when it goes out; none once turned off or the user disabled', async () => {
    // Queued emails wait while SMTP fails (backoff up to an hour, ten attempts): settings change meanwhile.
    await addUser('erin', { role: 'user', numbers: ['1014'] });
    await addUser('frank', { role: 'user', numbers: ['1015'] });
    const set = (who: string, body: Record<string, unknown>) =>
      h.call('PUT', `/api/v1/users/${id(who)}/notifications`, { as: 'admin', body });
    assert.equal((await set('erin', { email: 'erin@old.example', enabled: true })).status, 200);
    assert.equal((await set('frank', { email: 'frank@example.com', enabled: true })).status, 200);
    const rc = await record('1014');
    const rd = await record('1015');
    assert.deepEqual(await dueFor(rc), [{ email: 'erin@old.example', attach: false }]);
    assert.deepEqual(await dueFor(rd), [{ email: 'frank@example.com', attach: false }]);

    // Erin moves: the queued email follows her new address, not her old one.
    assert.equal((await set('erin', { email: 'erin@new.example', enabled: true, attach: true })).status, 200);
    assert.deepEqual(await dueFor(rc), [{ email: 'erin@new.example', attach: true }]);
    // She turns them off: the queued one is dropped, saying why, and stays dropped if she turns
    // them back on (no backlog of old calls arrives then).
    assert.equal((await set('erin', { email: 'erin@new.example', enabled: false })).status, 200);
    assert.deepEqual(await dueFor(rc), []);
    const row = await h.db.pool.query<{ state: string; last_error: string }>(
      'SELECT state, last_error FROM notifications WHERE recording_id = $1',
      [rc],
    );
    assert.equal(row.rows[0]?.state, 'failed');
    assert.match(row.rows[0]?.last_error ?? '', /turned off/);
    assert.equal((await set('erin', { email: 'erin@new.example', enabled: true })).status, 200);
    assert.deepEqual(await dueFor(rc), []);

    // Frank is disabled before his email goes out: none is sent.
    const off = await h.call('PATCH', `/api/v1/users/${id('frank')}`, {
      as: 'admin',
      body: { disabled: true },
    });
    assert.equal(off.status, 200, JSON.stringify(off.json));
    assert.deepEqual(await dueFor(rd), []);
  });

  it('the config file’s seed leaves settings made through the API alone', async () => {
    // What delivery start-up does for each notifications.recipients entry.
    assert.equal(await h.db.offload.subscribe('alice', 'alice@config.example', true, true), true);
    assert.equal(await h.db.offload.subscribe('bob', 'bob@config.example', false, true), true);
    const alice = await h.call('GET', '/api/v1/me/notifications', { as: 'alice' });
    assert.deepEqual(
      { email: (alice.json as Settings).email, enabled: (alice.json as Settings).enabled },
      { email: 'alice@new.example', enabled: false },
      'alice’s own change stands',
    );
    const bob = await h.call('GET', '/api/v1/me/notifications', { as: 'bob' });
    assert.equal((bob.json as Settings).email, null, 'the admin’s removal stands');

    // A user never changed through the API is seeded, and a later edit of the file applies.
    await addUser('carol', { role: 'user', numbers: ['1005'] });
    assert.equal(await h.db.offload.subscribe('carol', 'carol@config.example', false, true), true);
    assert.equal(await h.db.offload.subscribe('carol', 'carol@edited.example', true, true), true);
    const carol = await h.call('GET', '/api/v1/me/notifications', { as: 'carol' });
    assert.deepEqual(carol.json, {
      userId: id('carol'),
      username: 'carol',
      email: 'carol@edited.example',
      enabled: true,
      attach: true,
    });
    assert.equal(await h.db.offload.subscribe('nobody', 'x@example.com', false, true), false);
  });
});
