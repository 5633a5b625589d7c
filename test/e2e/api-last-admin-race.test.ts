/**
 * The last-admin rule under concurrent requests, against the real server (`srs serve`, embedded
 * Postgres). Two admins are left; two requests at once each take away one of them (demote,
 * disable or delete). Checked and changed apart, both passed and no enabled admin was left; the
 * check and the change are now one transaction holding a lock, so one of the two gets 409.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer } from '../helpers/server-client.js';

const ROUNDS = 20;

describe('api last admin under concurrent requests', { timeout: 300000 }, () => {
  let server: TestServer;
  let base: string;
  const admin = (method: string, path: string, body?: unknown) =>
    callServer(base, method, `/api/v1${path}`, {
      bearer: server.token,
      ...(body !== undefined ? { body } : {}),
    });
  const users = async () =>
    ((await admin('GET', '/users')).json.items ?? []) as {
      id: string;
      username: string;
      role: string;
      disabled: boolean;
    }[];
  const enabledAdmins = async () => (await users()).filter((u) => u.role === 'admin' && !u.disabled);
  /** The user `name`, created as an enabled admin or made one again; its id. */
  const anAdmin = async (name: string): Promise<string> => {
    const found = (await users()).find((u) => u.username === name);
    if (!found) {
      const r = await admin('POST', '/users', {
        username: name,
        password: `${name}-password-1`,
        role: 'admin',
      });
      assert.equal(r.status, 201, r.text);
      return r.json.id as string;
    }
    const r = await admin('PATCH', `/users/${found.id}`, { role: 'admin', disabled: false });
    assert.equal(r.status, 200, r.text);
    return found.id;
  };

  before(async () => {
    server = await startTestServer({ SRS_ADMIN_PASSWORD: 'race-admin-password' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    // Only the two test admins stay admins: the first-start admin steps down.
    await anAdmin('race1');
    await anAdmin('race2');
    const first = (await users()).find((u) => u.username === 'admin');
    assert.ok(first, 'the first-start admin');
    const r = await admin('PATCH', `/users/${first.id}`, { role: 'user' });
    assert.equal(r.status, 200, r.text);
  });

  after(async () => {
    await server?.stop();
  });

  it('leaves an enabled admin whatever two requests at once take away, in every round', async () => {
    const ways = [
      (id: string) => admin('PATCH', `/users/${id}`, { role: 'user' }),
      (id: string) => admin('PATCH', `/users/${id}`, { disabled: true }),
      (id: string) => admin('DELETE', `/users/${id}`),
    ];
    const tally = { bothPassed: 0, one409: 0, rounds: 0 };
    const noAdminRounds: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const a = await anAdmin('race1');
      const b = await anAdmin('race2');
      assert.equal((await enabledAdmins()).length, 2, `round ${round}: two admins to start`);
      const wayA = ways[round % 3] as (id: string) => ReturnType<typeof admin>;
      const wayB = ways[Math.floor(round / 3) % 3] as (id: string) => ReturnType<typeof admin>;
      const [ra, rb] = await Promise.all([wayA(a), wayB(b)]);
      const codes = [ra.status, rb.status].sort();
      for (const r of [ra, rb]) {
        assert.ok(r.status === 200 || r.status === 409, `round ${round}: ${r.status} ${r.text}`);
        if (r.status === 409) assert.match(String(r.json.error), /last enabled admin/);
      }
      tally.rounds++;
      if (codes[0] === 200 && codes[1] === 200) tally.bothPassed++;
      if (codes.join() === '200,409') tally.one409++;
      const left = await enabledAdmins();
      if (left.length === 0) noAdminRounds.push(`round ${round}: ${ra.status}/${rb.status}`);
    }
    console.log(`last-admin race: ${JSON.stringify(tally)}, rounds with no admin: ${noAdminRounds.length}`);
    assert.deepEqual(noAdminRounds, [], 'rounds that left no enabled admin');
    assert.equal(tally.one409, ROUNDS, 'one of the two requests refused in every round');
  });
});
