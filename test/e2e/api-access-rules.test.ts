/**
 * Access rules of the API against the real server (`srs serve` as a child process: embedded
 * Postgres, SIP edge, pipeline, the notifier sending to a real SMTP server), from a review
 * (audit2-api findings 1, 3 and 8):
 * - an emailed recording needs the download permission, when the setting is saved and when the
 *   email goes out, and is audited as an access to audio; a user sets no new address of their own;
 * - an API token made with a token does not outlive it; tokens made while signed in end with the
 *   password (own change, admin reset, disabling);
 * - the last enabled admin cannot be demoted, disabled or deleted (409).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions, type Reply } from '../helpers/server-client.js';
import { SCENARIOS, sipp, waitForState } from '../helpers/sipp.js';
import { startSmtp, type TestSmtp } from '../helpers/delivery-fixtures.js';
import { parseMail } from '../helpers/mail-parse.js';

const ADMIN_PASSWORD = 'rules-admin-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('api access rules: emailed audio, token lifetime, the last admin', { timeout: 300000 }, () => {
  let server: TestServer;
  let base: string;
  let smtp: TestSmtp;
  let dir: string;
  const cookies: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const call = (method: string, path: string, { as, ...o }: CallOptions & { as?: string } = {}) =>
    callServer(base, `${method}`, `/api/v1${path}`, as ? { ...o, cookie: cookies[as] as string } : o);
  const admin = (method: string, path: string, body?: unknown) =>
    call(method, path, { bearer: server.token, ...(body !== undefined ? { body } : {}) });
  const login = async (who: string, password: string): Promise<Reply> => {
    const r = await call('POST', '/login', { body: { username: who, password } });
    assert.equal(r.status, 200, `login ${who}: ${r.text}`);
    cookies[who] = (r.headers.get('set-cookie') ?? '').split(';')[0] as string;
    return r;
  };
  const mkUser = async (username: string, role: string, numbers: string[] = []) => {
    const r = await admin('POST', '/users', { username, password: `${username}-password`, role, numbers });
    assert.equal(r.status, 201, r.text);
    ids[username] = r.json.id as string;
    await login(username, `${username}-password`);
  };
  const until = async <T>(what: string, get: () => Promise<T | undefined | false>, ms = 30000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await get();
      if (v) return v;
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}\n${server.output().slice(-2000)}`);
      await sleep(100);
    }
  };
  /** One SIPREC call (alice to bob, SIPp's siprec-basic with its audio), stored; its recording id. */
  const recordedCall = async (): Promise<string> => {
    const r = await sipp(`127.0.0.1:${server.sipPort}`, join(SCENARIOS, 'siprec-basic.xml'));
    assert.equal(r.code, 0, `sipp: ${r.stdout.slice(-800)} ${r.stderr.slice(-800)}`);
    const items = (await admin('GET', '/recordings')).json.items ?? [];
    const rec = items[0] as { id: string; callId: string };
    await waitForState(server, rec.callId, 'stored');
    return rec.id;
  };
  const mailFor = (recordingId: string) =>
    until(`the email of ${recordingId}`, async () =>
      smtp.mails.find((m) => parseMail(m.raw).headers['x-srs-recording-id'] === recordingId),
    );
  const deliveryAudit = async (recordingId: string) =>
    ((await admin('GET', `/audit?action=delivery&resourceId=${recordingId}`)).json.items ?? []) as {
      actor: string;
      details: Record<string, unknown>;
    }[];

  before(async () => {
    smtp = await startSmtp();
    dir = await mkdtemp(join(tmpdir(), 'srs-rules-'));
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        notifications: { enabled: true, smtp: smtp.settings(), intervalSeconds: 1, maxAttempts: 3 },
      }),
    );
    server = await startTestServer({ SRS_CONFIG: config, SRS_ADMIN_PASSWORD: ADMIN_PASSWORD });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    await login('admin', ADMIN_PASSWORD);
  });

  after(async () => {
    await server?.stop();
    await smtp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses an attached recording to whoever may not download, again when the email goes out, and audits each one sent', async () => {
    let r = await admin('PUT', '/settings', { 'permissions.download': 'admin' });
    assert.equal(r.status, 200, r.text);
    await mkUser('viewer', 'user', ['alice']);
    await mkUser('rec', 'record-only', ['alice']);
    for (const who of ['viewer', 'rec']) {
      r = await call('PUT', '/me/notifications', {
        as: who,
        body: { email: `${who}@example.com`, enabled: true, attach: true },
      });
      assert.equal(r.status, 403, `${who}: ${r.text}`);
      assert.match(String(r.json.error), /download permission/);
    }
    // A new address is the admin's to set; the user keeps it, turns emails on or off, or removes it.
    r = await admin('PUT', `/users/${ids.viewer}/notifications`, {
      email: 'viewer@example.com',
      enabled: true,
      attach: true,
    });
    assert.equal(r.status, 200, r.text);
    r = await call('PUT', '/me/notifications', {
      as: 'viewer',
      body: { email: 'outside@attacker.example', enabled: true, attach: false },
    });
    assert.equal(r.status, 403, r.text);
    assert.match(String(r.json.error), /address/);
    r = await call('PUT', '/me/notifications', {
      as: 'rec',
      body: { email: 'outside@attacker.example', enabled: true, attach: false },
    });
    assert.equal(r.status, 403, r.text);
    r = await call('GET', '/me/notifications', { as: 'viewer' });
    assert.deepEqual(
      { email: r.json.email, enabled: r.json.enabled, attach: r.json.attach },
      { email: 'viewer@example.com', enabled: true, attach: true },
      'the refused changes changed nothing',
    );

    // Attach is set (by the admin) but the viewer may not download: the email goes without audio.
    const first = await recordedCall();
    const m1 = parseMail((await mailFor(first)).raw);
    assert.ok(smtp.mails.every((m) => !m.to.includes('outside@attacker.example')));
    assert.deepEqual(
      m1.attachments.map((a) => a.type),
      [],
      'no audio for a user who may not download',
    );
    assert.equal((await deliveryAudit(first)).length, 0, 'no audio left, nothing audited as an access');

    // Once users may download, the same subscription gets the MP3, audited as an access to audio.
    r = await admin('PUT', '/settings', { 'permissions.download': 'user' });
    assert.equal(r.status, 200, r.text);
    r = await call('PUT', '/me/notifications', {
      as: 'viewer',
      body: { email: 'viewer@example.com', enabled: true, attach: true },
    });
    assert.equal(r.status, 200, r.text);
    const second = await recordedCall();
    const m2 = parseMail((await mailFor(second)).raw);
    const mp3 = m2.attachments.find((a) => a.type === 'audio/mpeg');
    assert.ok(mp3 && mp3.data.length > 1000, `the MP3 attached: ${JSON.stringify(m2.attachments)}`);
    const entries = await until('the audit entry of the emailed audio', async () => {
      const e = await deliveryAudit(second);
      return e.length > 0 && e;
    });
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.details.purpose, 'notification');
    assert.equal(entries[0]?.details.permission, 'download');
    assert.equal(entries[0]?.details.to, 'viewer@example.com');
    assert.equal(entries[0]?.details.user, 'viewer');
  });

  it('caps a token made with a token at its expiry, and ends tokens made while signed in with the password', async () => {
    await mkUser('tok', 'user');
    // T1 (made with the session) expires in a day; T2 made with T1 may not live longer.
    const t1 = await call('POST', '/tokens', { as: 'tok', body: { name: 't1', expiresInDays: 1 } });
    assert.equal(t1.status, 201, t1.text);
    const bearer = t1.json.token as string;
    let r = await call('POST', '/tokens', { bearer, body: { name: 'forever' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.expiresAt, t1.json.expiresAt, 'no expiry asked: the creating token’s');
    const t2 = r.json.token as string;
    r = await call('POST', '/tokens', { bearer, body: { name: 'longer', expiresInDays: 2 } });
    assert.equal(r.status, 403, r.text);
    assert.match(String(r.json.error), /cannot outlive/);
    r = await call('POST', '/tokens', { bearer, body: { name: 'shorter', expiresInDays: 0.5 } });
    assert.equal(r.status, 201, r.text);
    const t3 = r.json.token as string;
    // T4, made with the session and no expiry.
    r = await call('POST', '/tokens', { as: 'tok', body: { name: 't4' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.expiresAt, null);
    const t4 = r.json.token as string;
    for (const t of [bearer, t2, t3, t4])
      assert.equal((await call('GET', '/me', { bearer: t })).status, 200, 'each works before');

    // The password changes (with the session): every one of them stops.
    r = await call('POST', '/me/password', {
      as: 'tok',
      body: { current: 'tok-password', password: 'tok-new-password' },
    });
    assert.equal(r.status, 200, r.text);
    for (const t of [bearer, t2, t3, t4])
      assert.equal((await call('GET', '/me', { bearer: t })).status, 401, 'ended with the password');
    const listed = (await admin('GET', '/tokens?all=true')).json.items?.filter((t) => t.username === 'tok');
    assert.equal(listed?.length, 4);
    assert.ok(
      listed?.every((t) => t.revokedAt !== null),
      'listed as revoked',
    );

    // An admin reset and disabling end them too.
    await login('tok', 'tok-new-password');
    const t5 = (await call('POST', '/tokens', { as: 'tok', body: { name: 't5' } })).json.token as string;
    assert.equal((await call('GET', '/me', { bearer: t5 })).status, 200);
    r = await admin('PATCH', `/users/${ids.tok}`, { password: 'reset-by-admin' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await call('GET', '/me', { bearer: t5 })).status, 401, 'ended by the reset');
    await login('tok', 'reset-by-admin');
    const t6 = (await call('POST', '/tokens', { as: 'tok', body: { name: 't6' } })).json.token as string;
    await admin('PATCH', `/users/${ids.tok}`, { disabled: true });
    await admin('PATCH', `/users/${ids.tok}`, { disabled: false });
    assert.equal((await call('GET', '/me', { bearer: t6 })).status, 401, 'ended by disabling');
  });

  it('refuses to demote, disable or delete the last enabled admin with 409', async () => {
    const me = (await call('GET', '/me', { as: 'admin' })).json as { id?: string; userId?: string };
    const adminId = (me.id ?? me.userId) as string;
    for (const body of [{ role: 'user' }, { role: 'supervisor' }, { disabled: true }]) {
      const r = await call('PATCH', `/users/${adminId}`, { as: 'admin', body });
      assert.equal(r.status, 409, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(String(r.json.error), /last enabled admin/);
      const t = await admin('PATCH', `/users/${adminId}`, body);
      assert.equal(t.status, 409, `admin token ${JSON.stringify(body)}: ${t.text}`);
    }
    let r = await admin('DELETE', `/users/${adminId}`);
    assert.equal(r.status, 409, r.text);
    assert.match(String(r.json.error), /last enabled admin/);
    assert.equal((await call('GET', '/users', { as: 'admin' })).status, 200, 'still an admin');
    // Other changes to the last admin still pass; with a second admin the first may step down.
    r = await call('PATCH', `/users/${adminId}`, { as: 'admin', body: { displayName: 'The Admin' } });
    assert.equal(r.status, 200, r.text);
    await mkUser('admin2', 'admin');
    r = await call('PATCH', `/users/${adminId}`, { as: 'admin', body: { role: 'user' } });
    assert.equal(r.status, 200, r.text);
    r = await call('PATCH', `/users/${ids.admin2}`, { as: 'admin2', body: { disabled: true } });
    assert.equal(r.status, 409, r.text);
    r = await call('PATCH', `/users/${adminId}`, { as: 'admin2', body: { role: 'admin' } });
    assert.equal(r.status, 200, r.text);
  });
});
