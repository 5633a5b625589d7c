/**
 * Whose address the server takes for a request, against the real server (`srs serve`): the login
 * throttle counts it per address and the audit trail records it. SRS_TRUST_PROXY is 127.0.0.1
 * only; the test talks from 127.0.0.1 as the proxy and from 127.0.0.2 and 127.0.0.3 as clients
 * that are no proxy (Linux routes all of 127/8 to loopback).
 * - A client that is no trusted proxy cannot choose its address with X-Forwarded-For, Forwarded or
 *   X-Real-IP: a new forged address per attempt does not escape the address throttle, the audit
 *   rows name its real address, and X-Forwarded-Proto from it does not make the cookie Secure.
 * - Through the trusted proxy, what the client wrote into X-Forwarded-For before the proxy added
 *   its address (a forged address, even the proxy's own) is not taken: the nearest address that is
 *   not a trusted proxy is.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer } from '../helpers/server-client.js';

const ADMIN_PASSWORD = 'address-admin-password';

/** Throttled as one address: 401s (the 10 free failures and the one that sets the delay), then 429s only. */
function throttledAsOne(statuses: number[]): void {
  const first = statuses.indexOf(429);
  assert.ok(first >= 10 && first <= 11, `first 429 after the 10 free failures: ${statuses.join()}`);
  assert.ok(
    statuses.slice(0, first).every((s) => s === 401),
    statuses.join(),
  );
  assert.ok(
    statuses.slice(first).every((s) => s === 429),
    statuses.join(),
  );
}

interface Answer {
  status: number;
  setCookie: string;
  text: string;
}

/** POST /api/v1/login to `server` from `localAddress` with `headers`. */
const postLogin = (
  server: TestServer,
  localAddress: string,
  username: string,
  password: string,
  headers: Record<string, string>,
) =>
  new Promise<Answer>((resolve, reject) => {
    const body = JSON.stringify({ username, password });
    const req = request(
      {
        host: '127.0.0.1',
        port: server.httpPort,
        localAddress,
        method: 'POST',
        path: '/api/v1/login',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            setCookie: String(res.headers['set-cookie'] ?? ''),
            text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });

describe('api client address behind and around a trusted proxy', { timeout: 300000 }, () => {
  let server: TestServer;

  const login = (localAddress: string, username: string, password: string, headers: Record<string, string>) =>
    postLogin(server, localAddress, username, password, headers);
  /** The audit rows of `action` whose actor starts with `prefix`: their address. */
  const auditIps = async (action: string, prefix: string): Promise<string[]> => {
    const r = await callServer(
      `http://127.0.0.1:${server.httpPort}`,
      'GET',
      `/api/v1/audit?action=${action}&limit=500`,
      { bearer: server.token },
    );
    assert.equal(r.status, 200, r.text);
    return ((r.json.items ?? []) as { actor: string; ip: string }[])
      .filter((e) => e.actor.startsWith(prefix))
      .map((e) => e.ip);
  };

  before(async () => {
    server = await startTestServer({ SRS_TRUST_PROXY: '127.0.0.1', SRS_ADMIN_PASSWORD: ADMIN_PASSWORD });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    await server?.stop();
  });

  it('throttles and audits a client that is no trusted proxy by its own address, whatever it forges', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const forged = `203.0.113.${i}`;
      const r = await login('127.0.0.2', `forger-${i}`, 'wrong-password', {
        'x-forwarded-for': forged,
        forwarded: `for=${forged}`,
        'x-real-ip': forged,
        'x-forwarded-proto': 'https',
      });
      statuses.push(r.status);
    }
    // Each attempt names a new user, so only the address key (10 free failures) can throttle.
    throttledAsOne(statuses);
    const failed = await auditIps('login-failed', 'forger-');
    assert.equal(failed.length, statuses.indexOf(429));
    assert.deepEqual([...new Set(failed)], ['127.0.0.2'], 'the real address in every login-failed row');
    assert.deepEqual([...new Set(await auditIps('login-throttled', 'forger-'))], ['127.0.0.2']);

    // A real login from another client that is no proxy: its address, and no Secure cookie.
    const ok = await login('127.0.0.3', 'admin', ADMIN_PASSWORD, {
      'x-forwarded-for': '203.0.113.99',
      'x-forwarded-proto': 'https',
    });
    assert.equal(ok.status, 200, ok.text);
    assert.doesNotMatch(ok.setCookie, /Secure/, 'X-Forwarded-Proto of a client is ignored');
    const logins = await callServer(
      `http://127.0.0.1:${server.httpPort}`,
      'GET',
      '/api/v1/audit?action=login',
      {
        bearer: server.token,
      },
    );
    const ips = ((logins.json.items ?? []) as { ip: string }[]).map((e) => e.ip);
    assert.ok(ips.includes('127.0.0.3') && !ips.includes('203.0.113.99'), ips.join());
  });

  it('takes the nearest address that is no trusted proxy from the trusted proxy, not one the client wrote', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 14; i++) {
      // The client wrote "<forged>, 127.0.0.1"; the proxy (127.0.0.1) added the client's address.
      const r = await login('127.0.0.1', `chained-${i}`, 'wrong-password', {
        'x-forwarded-for': `10.9.0.${i}, 127.0.0.1, 198.51.100.50`,
      });
      statuses.push(r.status);
    }
    throttledAsOne(statuses);
    assert.deepEqual([...new Set(await auditIps('login-failed', 'chained-'))], ['198.51.100.50']);
  });

  it('counts an address the proxy wrote with its port (IPv4 or [IPv6]) as that address, whatever the port', async () => {
    for (const [who, hop, ip] of [
      ['ported4', (p: number) => `198.51.100.70:${p}`, '198.51.100.70'],
      ['ported6', (p: number) => `[2001:db8::7]:${p}`, '2001:db8::7'],
    ] as const) {
      const statuses: number[] = [];
      // A proxy that writes the client's source port: a new connection, a new port.
      for (let i = 1; i <= 14; i++)
        statuses.push(
          (await login('127.0.0.1', `${who}-${i}`, 'wrong-password', { 'x-forwarded-for': hop(40000 + i) }))
            .status,
        );
      throttledAsOne(statuses);
      assert.deepEqual([...new Set(await auditIps('login-failed', `${who}-`))], [ip]);
    }
  });
});

describe('api client address from an RFC 7239 Forwarded header', { timeout: 300000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      SRS_TRUST_PROXY: '127.0.0.1, 10.0.0.1',
      SRS_CLIENT_IP_HEADER: 'forwarded',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server?.stop();
  });

  it('takes the for= address of the nearest element that is no trusted proxy, without quotes or port', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 14; i++) {
      // The client forged the first element; proxy 10.0.0.1 added the client, proxy 127.0.0.1 added 10.0.0.1.
      const r = await postLogin(server, '127.0.0.1', `fwd-${i}`, 'wrong-password', {
        forwarded: `for=10.9.0.${i};proto=https, for="198.51.100.90:${40000 + i}";proto=https, for=10.0.0.1`,
      });
      statuses.push(r.status);
    }
    throttledAsOne(statuses);
    const r = await callServer(
      `http://127.0.0.1:${server.httpPort}`,
      'GET',
      '/api/v1/audit?action=login-failed',
      {
        bearer: server.token,
      },
    );
    const ips = ((r.json.items ?? []) as { actor: string; ip: string }[])
      .filter((e) => e.actor.startsWith('fwd-'))
      .map((e) => e.ip);
    assert.deepEqual([...new Set(ips)], ['198.51.100.90']);
  });
});
