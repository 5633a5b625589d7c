/**
 * What the live monitor WebSocket (/monitor) of the real server tells a client, and when it closes
 * one (docs/monitor.md):
 * - a recording control that fails for a reason of the server's own (here the database refuses
 *   the audit entry: a trigger raises an error carrying a secret) answers a generic message, not
 *   the database's; a refusal of the project's own (no such call, 404) keeps its message;
 * - `DELETE /api/v1/tokens/{id}` with the id in upper case closes the token's monitor sockets at
 *   once (4401), not at the next 30-second re-check.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions, type Reply } from '../helpers/server-client.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECRET = 'internal-detail-7f3a';

describe('monitor WebSocket: control errors and token revocation', { timeout: 180000 }, () => {
  let server: TestServer;
  let db: Database;
  let base: string;
  const uacs: SiprecUac[] = [];
  const admin = { bearer: '' };
  const call = (method: string, path: string, o: CallOptions = {}): Promise<Reply> =>
    callServer(base, method, path, o);

  /** A monitor socket: its JSON messages and its close code. */
  const open = (headers: Record<string, string>) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/monitor`, { headers });
    const msgs: Record<string, unknown>[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) msgs.push(JSON.parse(String(d)) as Record<string, unknown>);
    });
    ws.on('error', () => undefined);
    const closed = new Promise<{ code: number; at: number }>((resolve) =>
      ws.once('close', (code) => resolve({ code, at: Date.now() })),
    );
    const until = async (what: string, cond: () => boolean, ms = 10000) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(msgs)}`);
        await sleep(20);
      }
    };
    return { ws, msgs, closed, until };
  };

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    admin.bearer = server.token;
    db = await openDatabase({ dataDir: server.dataDir, log: createLogger('silent') });
  });
  after(async () => {
    for (const u of uacs) u.start('BYE');
    await sleep(300);
    await db?.pool.query('DROP TRIGGER IF EXISTS srs_test_audit_boom ON audit').catch(() => undefined);
    await db?.close();
    await server?.stop();
  });

  it('answers a control failed by a database error with a generic message, not the error', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    uacs.push(uac);
    assert.equal((await uac.invite()).status, 200);
    let recordingId = '';
    for (let i = 0; i < 200 && !recordingId; i++) {
      const items = (await call('GET', '/api/v1/calls', admin)).json.items ?? [];
      recordingId = String(items[0]?.recordingId ?? '');
      if (!recordingId) await sleep(50);
    }
    assert.ok(recordingId, 'the call is live');
    const c = open({ authorization: `Bearer ${server.token}` });
    await c.until('the snapshot', () => c.msgs.some((m) => m.type === 'snapshot'));

    // The project's own refusal keeps its words.
    c.ws.send(JSON.stringify({ type: 'pause', recordingId: 'no-such-call' }));
    await c.until('the 404', () => c.msgs.some((m) => m.type === 'error' && m.status === 404));
    const notFound = c.msgs.find((m) => m.type === 'error' && m.status === 404);
    assert.match(String(notFound?.error), /no live call no-such-call you may control/);

    // The audit entry of a control (here a refusal: resume of a call that is recording) fails in
    // the database with an error that names internals.
    await db.pool
      .query(`CREATE OR REPLACE FUNCTION srs_test_audit_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action LIKE 'recording.%' THEN RAISE EXCEPTION '${SECRET} in table audit'; END IF; RETURN NEW; END $$`);
    await db.pool.query(
      'CREATE TRIGGER srs_test_audit_boom BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION srs_test_audit_boom()',
    );
    try {
      const before = c.msgs.length;
      c.ws.send(JSON.stringify({ type: 'resume', recordingId }));
      await c.until('the error', () => c.msgs.slice(before).some((m) => m.type === 'error'));
      const err = c.msgs.slice(before).find((m) => m.type === 'error') as Record<string, unknown>;
      assert.equal(err.action, 'resume');
      assert.equal(err.recordingId, recordingId);
      assert.equal(err.status, 500);
      assert.doesNotMatch(JSON.stringify(err), new RegExp(SECRET), 'the database error is not sent');
      assert.match(String(err.error), /recording control failed/);
      // The server's log has it.
      assert.match(
        server.output(),
        new RegExp(
          `monitor: recording control failed[^\\n]*${SECRET}|${SECRET}[^\\n]*monitor: recording control failed`,
        ),
      );
    } finally {
      await db.pool.query('DROP TRIGGER IF EXISTS srs_test_audit_boom ON audit');
    }
    c.ws.close();
  });

  it('closes the monitor sockets of a token revoked by its id in upper case at once', async () => {
    const made = await call('POST', '/api/v1/users', {
      ...admin,
      body: { username: 'tina', password: 'tina-password-1', role: 'user', numbers: ['tina'] },
    });
    assert.equal(made.status, 201, made.text);
    const login = await call('POST', '/api/v1/login', {
      body: { username: 'tina', password: 'tina-password-1' },
    });
    assert.equal(login.status, 200, login.text);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const t = await call('POST', '/api/v1/tokens', { headers: { cookie }, body: { name: 'monitor' } });
    assert.equal(t.status, 201, t.text);
    const { id, token } = t.json as { id: string; token: string };
    const c = open({ authorization: `Bearer ${token}` });
    await c.until('the snapshot', () => c.msgs.some((m) => m.type === 'snapshot'));

    const at = Date.now();
    const r = await call('DELETE', `/api/v1/tokens/${id.toUpperCase()}`, admin);
    assert.equal(r.status, 200, r.text);
    // The re-check every 30 s would close it too; at once means well before that.
    const closed = await Promise.race([c.closed, sleep(5000).then(() => null)]);
    assert.ok(closed, 'the socket of the revoked token is closed at once');
    assert.equal(closed.code, 4401);
    assert.ok(closed.at - at < 5000);
    assert.ok(
      c.msgs.some((m) => m.type === 'revoked' && m.reason === 'token revoked'),
      JSON.stringify(c.msgs),
    );
    // The token is revoked in the database, under its own (lower-case) id.
    const list = await call('GET', '/api/v1/tokens?all=true', admin);
    const row = (list.json.items as { id: string; revokedAt: string | null }[]).find((x) => x.id === id);
    assert.ok(row?.revokedAt, 'revoked');
  });
});
