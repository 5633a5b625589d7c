/**
 * Abuse of the REST API without (or with little) credential, on the real server (`srs serve`:
 * embedded Postgres, real HTTP on loopback), from a reviewer's findings:
 * - a login flood from one address wrote one `login-throttled` audit entry per refused attempt
 *   (about 525 a second); now one when the address's window opens and one summary with the count
 *   when it ends, and srs_login_throttled_total counts every refusal;
 * - logout ended the session of the first cookie whose name contained `srs_session` (a decoy
 *   `x_srs_session`, or a duplicate), and the session that authenticated stayed valid;
 * - a request body trickled in a byte at a time held its connection for 120 s (10 addresses took
 *   every connection of the port, /healthz too); now 408 and closed after the body deadline;
 * - JSON nested 5,000 deep overflowed the stack of the body walk: 500 and an error log line;
 * - a large `/regex/` search filter failed in Postgres (XX000): 500 instead of 400.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { logMark, startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions } from '../helpers/server-client.js';
import { closedWithin, healthz, tcpConnect } from '../helpers/tcp-probe.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AuditRow {
  action: string;
  actor: string;
  ip: string;
  details: Record<string, unknown>;
}

describe('REST API abuse without credentials (srs serve)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let base: string;
  /** When the login flood's first refusal opened its audit window (the summary is due 60 s on). */
  let floodAt = 0;
  const FLOOD_FROM = '203.0.113.77';
  const call = (method: string, path: string, o: CallOptions = {}) => callServer(base, method, path, o);
  const audit = async (action: string) =>
    ((await call('GET', `/api/v1/audit?action=${action}&limit=1000`, { bearer: server.token })).json.items ??
      []) as unknown as AuditRow[];
  const errorLinesSince = (mark: number) =>
    server
      .output()
      .split('\n')
      .slice(mark)
      .filter((l) => l.includes('"level":50'));

  before(async () => {
    server = await startTestServer({
      SRS_ADMIN_PASSWORD: 'abuse-admin-password',
      SRS_TRUST_PROXY: 'loopback',
      SRS_HTTP_MAX_CONNECTIONS: '40',
      SRS_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '20',
      // No health check reserve: /healthz shows when the slow bodies hold the whole port.
      SRS_HTTP_HEALTH_RESERVE: '0',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    const u = await call('POST', '/api/v1/users', {
      bearer: server.token,
      body: { username: 'sam', password: 'sam-password', role: 'supervisor' },
    });
    assert.equal(u.status, 201, u.text);
  });
  after(async () => {
    assert.equal(await server?.stop(), 0, server?.output().slice(-3000));
  });

  it('audits a flood of throttled logins from one address once per window, and counts every refusal in metrics', async () => {
    const statuses: number[] = [];
    const retryAfter: (string | null)[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await call('POST', '/api/v1/login', {
        body: { username: `nobody${i}`, password: 'guess' },
        from: FLOOD_FROM,
      });
      if (r.status === 429 && floodAt === 0) floodAt = Date.now();
      statuses.push(r.status);
      if (r.status === 429) retryAfter.push(r.headers.get('retry-after'));
    }
    const refused = statuses.filter((s) => s === 429).length;
    assert.ok(refused >= 180, `refused: ${refused} of 200 (${statuses.slice(0, 20).join(' ')} ...)`);
    assert.equal(statuses.filter((s) => s !== 429 && s !== 401).length, 0, statuses.join(' '));
    assert.ok(
      retryAfter.every((r) => Number(r) > 0),
      'every 429 has Retry-After',
    );
    const rows = (await audit('login-throttled')).filter((r) => r.ip === FLOOD_FROM);
    // Before: one entry per refusal (180 and more).
    assert.equal(rows.length, 1, `login-throttled entries for ${refused} refusals: ${rows.length}`);
    assert.equal(rows[0]?.details.count, 1);
    const metrics = (await call('GET', '/metrics', { bearer: server.token })).text;
    const counted = Number(/^srs_login_throttled_total\{route="login"\} (\d+)$/m.exec(metrics)?.[1] ?? -1);
    assert.ok(counted >= refused, `srs_login_throttled_total{route="login"} ${counted}, refused ${refused}`);
    // An audited action is not held up meanwhile; the admin still signs in from elsewhere.
    const admin = await call('POST', '/api/v1/login', {
      body: { username: 'admin', password: 'abuse-admin-password' },
      from: '198.51.100.20',
    });
    assert.equal(admin.status, 200, admin.text);
  });

  it('ends on logout the session that authenticated the request, not a decoy cookie', async () => {
    const login = async (from: string) => {
      const r = await call('POST', '/api/v1/login', {
        body: { username: 'sam', password: 'sam-password' },
        from,
      });
      assert.equal(r.status, 200, r.text);
      return /srs_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1] as string;
    };
    const me = (secret: string) => call('GET', '/api/v1/me', { cookie: `srs_session=${secret}` });
    // A duplicate before the real one, and a cookie whose name ends in srs_session.
    for (const decoy of ['srs_session=junk', 'x_srs_session=junk', 'my_srs_session=junk']) {
      const v = await login('198.51.100.31');
      const out = await call('POST', '/api/v1/logout', { cookie: `${decoy}; srs_session=${v}` });
      assert.equal(out.status, 200, out.text);
      assert.equal(
        (await me(v)).status,
        401,
        `after logout with "${decoy}; srs_session=V", V still signs in`,
      );
    }
    // Two real sessions in the header: the last one authenticates, so it is the one ended.
    const first = await login('198.51.100.32');
    const second = await login('198.51.100.32');
    const both = await call('POST', '/api/v1/logout', {
      cookie: `srs_session=${first}; srs_session=${second}`,
    });
    assert.equal(both.status, 200);
    assert.deepEqual([(await me(first)).status, (await me(second)).status], [200, 401]);
    // A bearer session secret wins over the cookie: the bearer's session is ended.
    const third = await login('198.51.100.33');
    const viaBearer = await call('POST', '/api/v1/logout', { bearer: third, cookie: `srs_session=${first}` });
    assert.equal(viaBearer.status, 200);
    assert.deepEqual([(await me(first)).status, (await me(third)).status], [200, 401]);
  });

  it('answers a request body trickled in slowly with 408 and closes it, so a full port is served again', async () => {
    const port = server.httpPort;
    // 20 from each of two addresses fill the port (40 in all), each sending a login body of
    // 60,000 declared bytes at 1 byte every 2 s.
    const socks: Socket[] = [];
    for (const from of ['127.0.0.2', '127.0.0.3'])
      for (let i = 0; i < 20; i++) {
        const s = await tcpConnect(port, from);
        s.write(
          `POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{`,
        );
        socks.push(s);
      }
    const answers = socks.map(() => '');
    socks.forEach((s, i) => s.on('data', (d: Buffer) => (answers[i] += d.toString())));
    const drip = setInterval(() => {
      for (const s of socks) if (!s.destroyed) s.write(' ');
    }, 2000);
    try {
      const held = (await Promise.all(socks.map((s) => closedWithin(s, 500)))).filter((c) => !c).length;
      assert.ok(held >= 30, `slow connections held: ${held} of 40`);
      assert.notEqual(await healthz(port, '127.0.0.4'), 200, 'the port is full while they are held');
      // Before: held for the request timeout (120 s), and /healthz refused all that time.
      const closed = await Promise.all(socks.map((s) => closedWithin(s, 25_000)));
      assert.equal(closed.filter(Boolean).length, socks.length, 'every slow body closed');
      const timedOut = answers.filter((a) => /^HTTP\/1\.1 408 /.test(a)).length;
      assert.ok(timedOut >= held, `408 answers: ${timedOut} (held ${held}): ${answers.find((a) => a) ?? ''}`);
      assert.match(
        answers.find((a) => a.startsWith('HTTP/1.1 408')) ?? '',
        /request body not received in time/,
      );
    } finally {
      clearInterval(drip);
      for (const s of socks) s.destroy();
    }
    assert.equal(await healthz(port, '127.0.0.4'), 200);
  });

  it('answers JSON nested 5,000 deep with 400 and logs no error', async () => {
    const mark = logMark(server);
    const deep = `{"username":"a","password":"b","x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const r = await fetch(`${base}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.40' },
      body: deep,
    });
    const body = (await r.json()) as { error?: string };
    assert.deepEqual([r.status, body.error], [400, 'request body nested too deeply (more than 64 levels)']);
    // 64 levels are still taken (the login answers for itself: wrong credentials).
    const ok = await fetch(`${base}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.41' },
      body: `{"username":"a","password":"b","x":${'['.repeat(63)}${']'.repeat(63)}}`,
    });
    assert.equal(ok.status, 401, await ok.text());
    await sleep(200);
    assert.deepEqual(errorLinesSince(mark), []);
  });

  it('answers an oversized or too complex regular expression in a search filter with 400 naming the filter', async () => {
    const mark = logMark(server);
    const search = (q: string) => call('GET', `/api/v1/recordings?${q}`, { bearer: server.token });
    const big = encodeURIComponent('/(\\w{1,200}){1,200}x/');
    for (const filter of ['caller', 'callee', 'participant']) {
      const r = await search(`${filter}=${big}`);
      assert.equal(r.status, 400, `${filter}: ${r.text}`);
      assert.match(String(r.json.error), new RegExp(`^${filter}: regular expression too complex`));
    }
    const long = await search(`caller=${encodeURIComponent(`/${'1'.repeat(201)}/`)}`);
    assert.equal(long.status, 400, long.text);
    assert.match(String(long.json.error), /^caller: regular expression longer than 200 characters/);
    // Patterns of numbers as people write them still search.
    for (const ok of ['/^49\\d{6,12}$/', '/(\\d{3}){1,3}/', '/^(30|40)/'])
      assert.equal((await search(`caller=${encodeURIComponent(ok)}`)).status, 200, ok);
    assert.deepEqual(errorLinesSince(mark), []);
  });

  it('writes the summary of the login flood with its count when the window ends', async () => {
    assert.ok(floodAt > 0, 'the flood test ran first');
    const due = floodAt + 60_000;
    let rows: AuditRow[] = [];
    for (const end = due + 15_000; Date.now() < end; await sleep(1000)) {
      rows = (await audit('login-throttled')).filter((r) => r.ip === FLOOD_FROM);
      if (rows.length > 1) break;
    }
    assert.equal(rows.length, 2, `login-throttled entries: ${JSON.stringify(rows)}`);
    const summary = rows.find((r) => Number(r.details.count) > 1);
    assert.ok(summary, 'a summary entry');
    assert.ok(Number(summary.details.count) >= 180, `count ${String(summary.details.count)}`);
    assert.equal((summary.details.usernames as string[]).length, 20);
    assert.ok(Number(summary.details.moreUsernames) >= 160);
    assert.deepEqual(summary.details.addresses, [FLOOD_FROM]);
  });
});
