/**
 * A security review's attacks, each made against the real server (`srs serve` as a child process:
 * embedded Postgres, SIP edge, native engine, pipeline) and shown refused, with the audit entry the
 * access left: ranged playback and WAV through /audio, the waveform, listen-in, a disabled user's
 * monitor socket, a login flood, tokens in URLs and JSON, /metrics, categories, hooks' environment,
 * SFTP and SMTP. First start, HTTPS, token expiry and admin token rotation: security-first-start.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, openMonitor, type CallOptions, type Reply } from '../helpers/server-client.js';
import { SCENARIOS, sipp, waitForState } from '../helpers/sipp.js';
import { sendRtpStream } from '../helpers/rtp.js';
import { tone } from '../helpers/audio.js';
import { startSmtp, type TestSmtp } from '../helpers/delivery-fixtures.js';
import { SftpConnection } from '../../src/delivery/sftp.js';
import { NotifyService } from '../../src/delivery/notify.js';
import { createLogger } from '../../src/log.js';

const ADMIN_PASSWORD = 'security-admin-password';
const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('security: attacks on the real server are refused and audited', { timeout: 300000 }, () => {
  let server: TestServer;
  let base: string;
  let hookOut: string;
  let recordingId = '';
  const cookies: Record<string, string> = {};

  const call = (method: string, path: string, { as, ...o }: CallOptions & { as?: string } = {}) =>
    callServer(base, method, path, as ? { ...o, cookie: cookies[as] as string } : o);
  const login = async (who: string, password: string, from = '192.0.2.10'): Promise<Reply> => {
    const r = await call('POST', '/api/v1/login', { body: { username: who, password }, from });
    assert.equal(r.status, 200, `login ${who}: ${r.text}`);
    cookies[who] = (r.headers.get('set-cookie') ?? '').split(';')[0] as string;
    return r;
  };
  const auditOf = async (q: string) =>
    ((await call('GET', `/api/v1/audit?${q}`, { bearer: server.token })).json.items ?? []) as {
      action: string;
      actor: string;
      details: Record<string, unknown>;
    }[];
  const mkUser = async (username: string, role: string, numbers: string[] = []) => {
    const r = await call('POST', '/api/v1/users', {
      bearer: server.token,
      body: { username, password: `${username}-password`, role, numbers },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.id as string;
  };
  const monitor = (headers: Record<string, string>, query = '') =>
    openMonitor(server.httpPort, headers, query);
  const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 15000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'srs-sec-'));
    hookOut = join(dir, 'hook-env.txt');
    const hook = join(dir, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\nenv > ${hookOut}\n`);
    await chmod(hook, 0o755);
    server = await startTestServer({
      SRS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SRS_TRUST_PROXY: 'loopback',
      SRS_HOOK_COMMAND: hook,
      SRS_HOOK_ENV: 'HOOK_VISIBLE',
      HOOK_VISIBLE: 'named-in-config',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
  });

  after(async () => {
    await server?.stop();
  });

  it('gives the session token only in the HttpOnly cookie (never in the JSON); Secure behind a trusted HTTPS proxy', async () => {
    const r = await login('admin', ADMIN_PASSWORD);
    assert.equal(r.json.token, undefined, 'no token in the login JSON');
    assert.ok(!r.text.includes(cookies.admin?.split('=')[1] ?? '-'), 'the secret is not in the body');
    assert.match(r.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    // The browser keeps the cookie for the session's absolute limit (12 h by default); the server
    // ends an idle session after the sliding TTL (8 h). With Max-Age the TTL, an active user was
    // logged out 8 h after login, the cookie never being sent again.
    assert.match(r.headers.get('set-cookie') ?? '', /; Max-Age=43200(;|$)/);
    assert.doesNotMatch(r.headers.get('set-cookie') ?? '', /Secure/, 'plain HTTP: no Secure');
    const proxied = await call('POST', '/api/v1/login', {
      body: { username: 'admin', password: ADMIN_PASSWORD },
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '192.0.2.11' },
    });
    assert.equal(proxied.status, 200);
    assert.match(proxied.headers.get('set-cookie') ?? '', /; Secure/);
    assert.match(proxied.headers.get('strict-transport-security') ?? '', /max-age=/);
    // The client address is the proxy's X-Forwarded-For, as the audit shows.
    const logins = await auditOf('action=login&actor=admin');
    assert.ok(logins.some((e) => (e as unknown as { ip: string }).ip === '192.0.2.11'));
  });

  it('audits listen-in start and stop (with its duration), keeps spool files private, and closes a disabled user’s monitor socket at once', async () => {
    await mkUser('alice', 'user', ['alice']);
    await login('alice', 'alice-password');
    // A SIPREC call of 8 s: SIPp signals, our sender plays two tones.
    const src = await readFile(join(SCENARIOS, 'siprec-basic.xml'), 'utf8');
    const scenario = src
      .replace(/<nop>\s*<action>\s*<exec play_pcap_audio="[^"]*"\s*\/>\s*<\/action>\s*<\/nop>/, '')
      .replace(/<pause milliseconds="\d+"\s*\/>/, '<pause milliseconds="8000" />');
    const scenarioPath = join(server.dataDir, 'siprec-sec.xml');
    await writeFile(scenarioPath, scenario);
    const done = sipp(`127.0.0.1:${server.sipPort}`, scenarioPath);
    let live: { recordingId: string; callId: string; streams: { port: number }[] } | undefined;
    await until('the call to go live', async () => {
      live = (await call('GET', '/api/v1/calls', { bearer: server.token })).json.items?.[0] as typeof live;
      return live !== undefined;
    });
    if (!live) return;
    recordingId = live.recordingId;
    const senders = live.streams.map((s, i) =>
      sendRtpStream({
        host: '127.0.0.1',
        port: s.port,
        pt: 0,
        codec: 'PCMU',
        samples: tone(i === 0 ? 440 : 1000, 6000, 8000),
        ssrc: 0x2000 + i,
      }),
    );
    // The spool of a live call: its directory 0700, its files 0600.
    const spool = join(server.dataDir, 'spool', recordingId);
    await until('spool files', async () => (await readdir(spool).catch(() => [])).length > 0);
    assert.equal((await stat(spool)).mode & 0o777, 0o700, 'spool directory mode');
    for (const f of await readdir(spool))
      assert.equal((await stat(join(spool, f))).mode & 0o077, 0, `spool file ${f} is private`);

    // Alice listens in (session cookie), then stops: both audited, the stop with its duration.
    const a = monitor({ cookie: cookies.alice as string });
    assert.equal(await a.opened, 101);
    a.ws.send(JSON.stringify({ type: 'listen', recordingId, channel: 'mix' }));
    await until('listening', () => a.msgs.some((m) => m.type === 'listening'));
    await sleep(500);
    a.ws.send(JSON.stringify({ type: 'unlisten' }));
    await until('unlistened', () => a.msgs.some((m) => m.type === 'unlistened'));
    await until(
      'listen.stop audited',
      async () => (await auditOf('action=listen.stop&actor=alice')).length > 0,
    );
    const start = (await auditOf('action=listen.start&actor=alice'))[0];
    assert.equal(start?.details.purpose, 'listen-in');
    const stop = (await auditOf('action=listen.stop&actor=alice'))[0];
    assert.ok(Number(stop?.details.durationMs) >= 400, `duration: ${JSON.stringify(stop?.details)}`);

    // Listening again, then the admin disables alice: the socket closes at once, the listen ends.
    a.ws.send(JSON.stringify({ type: 'listen', recordingId, channel: 'mix' }));
    await until('listening again', () => a.msgs.filter((m) => m.type === 'listening').length === 2);
    const aliceId = (
      (await call('GET', '/api/v1/users', { bearer: server.token })).json.items as {
        id: string;
        username: string;
      }[]
    ).find((u) => u.username === 'alice')?.id;
    const patched = await call('PATCH', `/api/v1/users/${aliceId}`, {
      bearer: server.token,
      body: { disabled: true },
    });
    assert.equal(patched.status, 200);
    assert.equal(await a.closed, 4401, 'closed by the server with 4401');
    assert.ok(a.msgs.some((m) => m.type === 'revoked'));
    const stops = await auditOf('action=listen.stop&actor=alice');
    assert.equal(stops[0]?.details.reason, 'user changed: disabled');
    // Reconnecting with the old cookie is refused.
    assert.equal(await monitor({ cookie: cookies.alice as string }).opened, 401);
    await call('PATCH', `/api/v1/users/${aliceId}`, { bearer: server.token, body: { disabled: false } });
    await login('alice', 'alice-password');

    // Logout closes that session's sockets; a role change closes the user's.
    const b = monitor({ cookie: cookies.alice as string });
    assert.equal(await b.opened, 101);
    assert.equal((await call('POST', '/api/v1/logout', { as: 'alice' })).status, 200);
    assert.equal(await b.closed, 4401);
    await login('alice', 'alice-password');
    const c = monitor({ cookie: cookies.alice as string });
    assert.equal(await c.opened, 101);
    await call('PATCH', `/api/v1/users/${aliceId}`, { bearer: server.token, body: { role: 'record-only' } });
    assert.equal(await c.closed, 4401);
    await call('PATCH', `/api/v1/users/${aliceId}`, { bearer: server.token, body: { role: 'user' } });

    await Promise.all(senders);
    const r = await done;
    assert.equal(r.code, 0, `sipp: ${r.stdout.slice(-800)} ${r.stderr.slice(-800)}`);
    await waitForState(server, live.callId, 'stored');
  });

  it('audits ranged playback (Range: bytes=1-) and the waveform; WAV through /audio obeys download; listen gates playback', async () => {
    assert.ok(recordingId, 'the call of the previous test was recorded');
    await login('alice', 'alice-password');
    const ranged = await call('GET', `/api/v1/recordings/${recordingId}/audio`, {
      as: 'alice',
      headers: { range: 'bytes=1-' },
    });
    assert.equal(ranged.status, 206);
    const playback = await auditOf(`action=playback&actor=alice&resourceId=${recordingId}`);
    assert.equal(playback.length, 1, 'the ranged request is audited');
    assert.equal(playback[0]?.details.range, 'bytes=1-');
    // More ranges from the same session: the one entry per window (not skipped, deduplicated).
    await call('GET', `/api/v1/recordings/${recordingId}/audio`, {
      as: 'alice',
      headers: { range: 'bytes=0-99' },
    });
    assert.equal((await auditOf(`action=playback&actor=alice&resourceId=${recordingId}`)).length, 1);
    const wf = await call('GET', `/api/v1/recordings/${recordingId}/waveform?points=20`, { as: 'alice' });
    assert.equal(wf.status, 200);
    assert.equal((await auditOf(`action=waveform&actor=alice&resourceId=${recordingId}`)).length, 1);

    // download = nobody: /download, /audio?format=wav and exports are refused; MP3 playback is not.
    const set = (body: unknown) => call('PUT', '/api/v1/settings', { bearer: server.token, body });
    assert.equal((await set({ 'permissions.download': 'nobody' })).status, 200);
    for (const path of ['download?format=wav', 'download', 'audio?format=wav', 'audio?format=stereo'])
      assert.equal(
        (await call('GET', `/api/v1/recordings/${recordingId}/${path}`, { as: 'alice' })).status,
        403,
        path,
      );
    assert.equal((await call('GET', `/api/v1/recordings/export?format=tar`, { as: 'alice' })).status, 403);
    assert.equal((await call('GET', `/api/v1/recordings/${recordingId}/audio`, { as: 'alice' })).status, 200);
    // listen = nobody: playback and waveform refused; me.can says so.
    assert.equal((await set({ 'permissions.download': 'user', 'permissions.listen': 'nobody' })).status, 200);
    assert.equal((await call('GET', `/api/v1/recordings/${recordingId}/audio`, { as: 'alice' })).status, 403);
    assert.equal(
      (await call('GET', `/api/v1/recordings/${recordingId}/waveform`, { as: 'alice' })).status,
      403,
    );
    const me = await call('GET', '/api/v1/me', { as: 'alice' });
    assert.deepEqual(
      [(me.json.can as { listen: boolean }).listen, (me.json.can as { download: boolean }).download],
      [false, true],
    );
    assert.equal((await set({ 'permissions.listen': 'user' })).status, 200);
    // A WAV through /audio is a download, audited as one.
    assert.equal(
      (await call('GET', `/api/v1/recordings/${recordingId}/audio?format=wav`, { as: 'alice' })).status,
      200,
    );
    const dl = await auditOf(`action=download&actor=alice&resourceId=${recordingId}`);
    assert.equal(dl[0]?.details.format, 'wav');
    assert.equal(dl[0]?.details.permission, 'download');
  });

  it('counts login attempts when they start: 40 concurrent wrong passwords are slowed, then the right one from another address succeeds', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 40 }, () =>
        call('POST', '/api/v1/login', {
          body: { username: 'admin', password: 'guess' },
          from: '203.0.113.7',
        }),
      ),
    );
    const checked = attempts.filter((r) => r.status === 401).length;
    const slowed = attempts.filter((r) => r.status === 429);
    // Counted at start, so only the free attempts (4) are checked, not 40; a slow machine may let a
    // couple more through as the first delay (1 s) ends.
    assert.ok(checked < 10, `attempts checked: ${checked} of 40`);
    assert.equal(checked + slowed.length, 40);
    assert.ok(slowed.every((r) => Number(r.headers.get('retry-after')) > 0));
    // The owner, from another address: in after at most the user-wide delay (Retry-After honoured).
    let ok: Reply | undefined;
    for (let i = 0; i < 3 && ok?.status !== 200; i++) {
      ok = await call('POST', '/api/v1/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
        from: '198.51.100.9',
      });
      if (ok.status === 429) await sleep(1000 * Number(ok.headers.get('retry-after')));
    }
    assert.equal(ok?.status, 200, `the right password from a new address: ${ok?.text}`);
    // Audited once for the address's window (with count 1), not once per refusal (36 here).
    const throttled = (await auditOf('action=login-throttled&actor=admin')).filter(
      (e) => (e as { ip?: string }).ip === '203.0.113.7',
    );
    assert.deepEqual(
      throttled.map((e) => e.details.count),
      [1],
    );
  });

  it('slows a password spray from one address even when the attacker signs in to an account of their own between guesses; successful logins alone are never slowed', async () => {
    await mkUser('eve', 'user');
    const from = '203.0.113.44';
    const asEve = () =>
      call('POST', '/api/v1/login', { body: { username: 'eve', password: 'eve-password' }, from });
    // Many people behind one address (an office's NAT) sign in freely: successes do not count.
    for (let i = 0; i < 15; i++) {
      const r = await asEve();
      assert.equal(r.status, 200, `successful login ${i + 1} from one address: ${r.text}`);
    }
    // One guess at each of 25 accounts (no account's own key fills), each followed by eve's own
    // successful login, which used to wipe the address's count.
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const guess = await call('POST', '/api/v1/login', {
        body: { username: `staff${i}`, password: 'Winter2026!' },
        from,
      });
      statuses.push(guess.status);
      await asEve();
    }
    const checked = statuses.filter((s) => s === 401).length;
    // The address's 10 free attempts, and one more as its first delay (1 s) ends on a slow machine.
    assert.ok(checked <= 12, `guesses checked: ${checked} of 25 (${statuses.join(' ')})`);
    assert.equal(checked + statuses.filter((s) => s === 429).length, 25);
  });

  it('accepts ?token= on the monitor for nothing by default; the admin token only in the header', async () => {
    const t = await call('POST', '/api/v1/tokens', { as: 'admin', body: { name: 'ws' } });
    assert.equal(t.status, 201);
    assert.equal(await monitor({}, `?token=${t.json.token as string}`).opened, 401);
    assert.equal(await monitor({}, `?token=${server.token}`).opened, 401);
    assert.equal(await monitor({ authorization: `Bearer ${t.json.token as string}` }).opened, 101);
  });

  it('puts /metrics behind a credential and shows each user only the categories of recordings they see', async () => {
    assert.equal((await call('GET', '/metrics')).status, 401);
    assert.equal((await call('GET', '/metrics', { bearer: server.token })).status, 200);
    await login('alice', 'alice-password');
    assert.equal((await call('GET', '/metrics', { as: 'alice' })).status, 401);
    await call('PUT', `/api/v1/recordings/${recordingId}/categories`, {
      bearer: server.token,
      body: { categories: ['complaint'] },
    });
    await mkUser('carol', 'user', ['carol']);
    await login('carol', 'carol-password');
    const seen = (who: string) =>
      call('GET', '/api/v1/categories', { as: who }).then((r) => (r.json.items ?? []).map((c) => c.category));
    assert.deepEqual(await seen('alice'), ['complaint']);
    assert.deepEqual(await seen('carol'), [], 'carol sees no recording, so no category');
  });

  it('runs hooks with an allow-listed environment (no passphrase, no admin token)', async () => {
    await until(
      'the hook to run',
      async () => (await readFile(hookOut, 'utf8').catch(() => '')) !== '',
      30000,
    );
    const env = Object.fromEntries(
      (await readFile(hookOut, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(env.SRS_RECORDING_ID, recordingId);
    assert.equal(env.HOOK_VISIBLE, 'named-in-config');
    assert.ok(env.PATH);
    for (const name of ['SRS_KEY_PASSPHRASE', 'SRS_ADMIN_TOKEN', 'SRS_ADMIN_PASSWORD', 'HOME'])
      assert.equal(env[name], undefined, `${name} is not passed to hooks`);
  });

  it('expires API tokens when asked (expiry in the list)', async () => {
    const t = await call('POST', '/api/v1/tokens', {
      as: 'admin',
      body: { name: 'short', expiresInDays: 0.00002 },
    });
    assert.equal(t.status, 201);
    const listed = (await call('GET', '/api/v1/tokens', { as: 'admin' })).json.items?.find(
      (x) => x.id === t.json.id,
    );
    assert.equal(listed?.expiresAt, t.json.expiresAt);
    await until(
      'the token to expire',
      async () => (await call('GET', '/api/v1/me', { bearer: t.json.token as string })).status === 401,
    );
  });

  it('SFTP refuses to connect without a pinned host key; SMTP requires TLS by default', async () => {
    await assert.rejects(
      SftpConnection.open(
        { host: '127.0.0.1', port: 1, username: 'u', password: 'p', directory: '/', timeoutSeconds: 2 },
        log,
      ),
      /refusing to connect without a pinned host key/,
    );
    const smtp: TestSmtp = await startSmtp(); // offers no STARTTLS
    try {
      const svc = new NotifyService({
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false, rejectUnauthorized: false },
        log,
      } as unknown as ConstructorParameters<typeof NotifyService>[0]);
      const transport = await (
        svc as unknown as { mailer(): Promise<{ sendMail(m: unknown): Promise<unknown> }> }
      ).mailer();
      await assert.rejects(
        transport.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' }),
        /STARTTLS|TLS/i,
      );
      assert.equal(smtp.mails.length, 0, 'nothing sent in clear');
    } finally {
      await smtp.close();
    }
  });
});
