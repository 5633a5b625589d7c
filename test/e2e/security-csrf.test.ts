/**
 * Cross-site request forgery against the real server (`srs serve` as a child process): a page on a
 * sibling subdomain (same site, so SameSite=Strict still sends the cookie) makes a logged-in
 * supervisor's browser stop a recording by number, make an API token or log out. What such a
 * browser sends is reproduced here with its headers (Origin, Sec-Fetch-Site, a form's text/plain
 * body). A state-changing request authenticated by the session cookie is refused (403) unless the
 * browser says it comes from the server's own origin; reads, API tokens and clients that send
 * neither header (curl, scripts) are unaffected. Audit finding 7 (docs/access-security.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions, type Reply } from '../helpers/server-client.js';
import { removeSippErrorLogs, sipp, writeSignallingOnlyScenario } from '../helpers/sipp.js';
import { sendRtpStream } from '../helpers/rtp.js';
import { tone } from '../helpers/audio.js';

const SCENARIO = 'siprec-csrf';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a browser adds to a request a page on the sibling subdomain makes (a form or a fetch). */
const SIBLING = { origin: 'https://wiki.corp.example', 'sec-fetch-site': 'same-site' };
/** A form post's body: no preflight, whatever the route. */
const FORM = { 'content-type': 'text/plain' };

describe('csrf: cookie-authenticated changes from another origin are refused', { timeout: 180000 }, () => {
  let server: TestServer;
  let base: string;
  let own: string;
  let supCookie = '';
  let supToken = '';
  let recordingId = '';
  let callDone: Promise<{ code: number | null; stdout: string; stderr: string }> | undefined;
  let senders: Promise<unknown>[] = [];

  const call = (method: string, path: string, o: CallOptions = {}): Promise<Reply> =>
    callServer(base, method, path, o);
  const admin = (method: string, path: string, body?: unknown) =>
    call(method, path, { bearer: server.token, ...(body === undefined ? {} : { body }) });
  const auditCount = async (action: string) =>
    ((await admin('GET', `/api/v1/audit?action=${action}`)).json.items ?? []).length;
  const controlState = async () =>
    (await admin('GET', `/api/v1/calls/${recordingId}/control`)).json as { state?: string };
  const login = async (username: string): Promise<string> => {
    const r = await call('POST', '/api/v1/login', { body: { username, password: `${username}-password` } });
    assert.equal(r.status, 200, r.text);
    return (r.headers.get('set-cookie') ?? '').split(';')[0] as string;
  };

  before(async () => {
    server = await startTestServer({ SRS_TRUST_PROXY: 'loopback' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    own = base;
    assert.equal((await admin('POST', '/api/v1/groups', { name: 'csrf-team' })).status, 201);
    for (const [username, role, numbers] of [
      ['agent', 'user', ['alice']],
      ['sup', 'supervisor', []],
    ] as const) {
      const r = await admin('POST', '/api/v1/users', {
        username,
        role,
        group: 'csrf-team',
        password: `${username}-password`,
        numbers: [...numbers],
      });
      assert.equal(r.status, 201, r.text);
      // On demand: the agent's calls may be started, paused, resumed and stopped.
      if (username === 'agent') {
        const m = await admin('PUT', `/api/v1/recording-control/users/${r.json.id as string}`, {
          mode: 'on-demand',
        });
        assert.equal(m.status, 200, m.text);
      }
    }
    supCookie = await login('sup');
    // The supervisor's API token, made from the console (its own origin).
    const t = await call('POST', '/api/v1/tokens', {
      cookie: supCookie,
      body: { name: 'integration' },
      headers: { origin: own, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(t.status, 201, t.text);
    supToken = t.json.token as string;

    // A live call of alice (the agent, in the supervisor's group), 20 s; stopped by the last test.
    const scenario = join(server.dataDir, `${SCENARIO}.xml`);
    await writeSignallingOnlyScenario(scenario);
    callDone = sipp(`127.0.0.1:${server.sipPort}`, scenario, ['-d', '20000']);
    let live: { recordingId: string; streams: { port: number }[] } | undefined;
    for (let i = 0; i < 200 && !live; i++) {
      live = (await admin('GET', '/api/v1/calls')).json.items?.[0] as typeof live;
      if (!live) await sleep(50);
    }
    assert.ok(live, 'the call went live');
    recordingId = live.recordingId;
    senders = live.streams.map((s, i) =>
      sendRtpStream({
        host: '127.0.0.1',
        port: s.port,
        pt: 0,
        codec: 'PCMU',
        samples: tone(i === 0 ? 440 : 1000, 4000, 8000),
        ssrc: 0x5000 + i,
      }),
    );
    assert.equal((await controlState()).state, 'not-started');
    // The record-mode table (who may control which call) is read again every 10 s.
    for (let i = 0; ; i++) {
      const r = await call('GET', `/api/v1/calls/${recordingId}/control`, { bearer: supToken });
      if (r.status === 200) break;
      assert.ok(i < 300, `the supervisor never got control of the call: ${r.text}`);
      await sleep(50);
    }
    const start = await call('POST', `/api/v1/calls/${recordingId}/start`, { bearer: supToken });
    assert.equal(start.status, 200, start.text);
    assert.equal((await controlState()).state, 'recording');
  });

  after(async () => {
    if (recordingId) await admin('POST', `/api/v1/calls/${recordingId}/stop`).catch(() => undefined);
    await Promise.allSettled(senders);
    await callDone?.catch(() => undefined);
    await removeSippErrorLogs(SCENARIO);
    await server?.stop();
  });

  it('refuses a sibling subdomain stopping a recording by number with the supervisor cookie, and nothing changes', async () => {
    const r = await call('POST', '/api/v1/calls/stop?number=alice', {
      cookie: supCookie,
      headers: { ...SIBLING, ...FORM },
    });
    assert.equal(r.status, 403, r.text);
    assert.match(String(r.json.error), /cross-site request refused/);
    // Each header alone is enough: an older browser sends Origin only; Sec-Fetch-Site without Origin.
    const alone: Record<string, string>[] = [
      { origin: 'https://wiki.corp.example' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'null' },
      // Our host on another scheme or port is another origin.
      { origin: `https://127.0.0.1:${server.httpPort}` },
      { origin: `http://127.0.0.1:${server.httpPort + 1}` },
    ];
    for (const headers of alone) {
      const x = await call('POST', `/api/v1/calls/${recordingId}/pause`, {
        cookie: supCookie,
        headers: { ...headers, ...FORM },
      });
      assert.equal(x.status, 403, `${JSON.stringify(headers)}: ${x.text}`);
    }
    assert.equal((await controlState()).state, 'recording', 'the call is still recording');
    assert.equal(await auditCount('recording.stop'), 0);
    assert.equal(await auditCount('recording.stop-refused'), 0);
    assert.equal(await auditCount('recording.pause'), 0);
  });

  it('refuses a cross-site JSON request with the cookie (an API token made for the attacker)', async () => {
    const before = ((await call('GET', '/api/v1/tokens', { bearer: supToken })).json.items ?? []).length;
    const r = await call('POST', '/api/v1/tokens', {
      cookie: supCookie,
      body: { name: 'attacker' },
      headers: SIBLING,
    });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.token, undefined);
    const items = (await call('GET', '/api/v1/tokens', { bearer: supToken })).json.items ?? [];
    assert.equal(items.length, before);
    assert.ok(!items.some((t) => t.name === 'attacker'));
  });

  it('lets reads with the cookie through from any origin (the browser keeps their answers from the page)', async () => {
    const r = await call('GET', '/api/v1/calls', { cookie: supCookie, headers: SIBLING });
    assert.equal(r.status, 200, r.text);
  });

  it('accepts the same changes from the server origin, directly and behind the trusted proxy', async () => {
    const sameOrigin = { origin: own, 'sec-fetch-site': 'same-origin' };
    let r = await call('POST', `/api/v1/calls/${recordingId}/pause`, {
      cookie: supCookie,
      headers: sameOrigin,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await controlState()).state, 'paused');
    // Behind a TLS proxy in SRS_TRUST_PROXY the origin is its scheme and host.
    const proxied = {
      origin: 'https://rec.corp.example',
      'sec-fetch-site': 'same-origin',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'rec.corp.example',
    };
    r = await call('POST', `/api/v1/calls/${recordingId}/resume`, { cookie: supCookie, headers: proxied });
    assert.equal(r.status, 200, r.text);
    assert.equal((await controlState()).state, 'recording');
    r = await call('POST', `/api/v1/calls/${recordingId}/pause`, {
      cookie: supCookie,
      headers: { ...proxied, origin: 'http://rec.corp.example', 'sec-fetch-site': 'same-site' },
    });
    assert.equal(r.status, 403, 'plain HTTP is another origin than the proxy: ' + r.text);
    // Sec-Fetch-Site none (typed by the user) and no header at all (curl with the cookie) pass.
    r = await call('POST', `/api/v1/calls/${recordingId}/pause`, {
      cookie: supCookie,
      headers: { 'sec-fetch-site': 'none' },
    });
    assert.equal(r.status, 200, r.text);
    r = await call('POST', `/api/v1/calls/${recordingId}/resume`, { cookie: supCookie });
    assert.equal(r.status, 200, r.text);
    assert.equal((await controlState()).state, 'recording');
    assert.equal(await auditCount('recording.pause'), 2);
  });

  it('leaves bearer-token requests alone whatever their Origin', async () => {
    const r = await call('POST', `/api/v1/calls/${recordingId}/pause`, {
      bearer: supToken,
      headers: { ...SIBLING, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await controlState()).state, 'paused');
    // A bearer token beside the cookie is what authenticates, so it is not refused either.
    const both = await call('POST', `/api/v1/calls/${recordingId}/resume`, {
      bearer: supToken,
      cookie: supCookie,
      headers: SIBLING,
    });
    assert.equal(both.status, 200, both.text);
    assert.equal((await controlState()).state, 'recording');
  });

  it('refuses a cross-site logout, and logs out from the server origin', async () => {
    const r = await call('POST', '/api/v1/logout', { cookie: supCookie, headers: { ...SIBLING, ...FORM } });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('set-cookie'), null, 'the cookie is not cleared');
    assert.equal((await call('GET', '/api/v1/me', { cookie: supCookie })).status, 200, 'still logged in');
    assert.equal(await auditCount('logout'), 0);
    // The supervisor stops the recording from the console, then logs out.
    const stop = await call('POST', '/api/v1/calls/stop?number=alice', {
      cookie: supCookie,
      headers: { origin: own, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(stop.status, 200, stop.text);
    assert.equal((await controlState()).state, 'stopped');
    const out = await call('POST', '/api/v1/logout', {
      cookie: supCookie,
      headers: { origin: own, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(out.status, 200, out.text);
    assert.equal((await call('GET', '/api/v1/me', { cookie: supCookie })).status, 401);
    assert.equal(await auditCount('logout'), 1);
  });
});
