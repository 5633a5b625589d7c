/**
 * The REST API's operations side (real HTTP, real embedded Postgres): delivery status and retry,
 * errors as JSON, the OpenAPI document against the routes, /api/v1 entry points, and metrics.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { buildConsoleApi, type ConsoleApi } from '../../src/api/index.js';
import { startHttpServer } from '../../src/api/server.js';
import { deliveryStatus } from '../../src/delivery/status.js';
import type { Database } from '../../src/store/db.js';
import { startApiHarness, createApiUsers, log, type ApiHarness, type Live } from '../helpers/api-harness.js';

describe('REST API operations (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let dataDir: string;
  let db: Database;
  let stack: ConsoleApi;
  let base: string;
  let live: Live;
  const call: ApiHarness['call'] = (...a) => h.call(...a);

  before(async () => {
    h = await startApiHarness();
    ({ dataDir, db, stack, base, live } = h);
    await createApiUsers(h);
  });

  after(async () => {
    await h?.close();
  });

  it('shows delivery status to admins; retry answers 503 when delivery is off', async () => {
    assert.equal((await call('GET', '/api/v1/delivery', { as: 'sup' })).status, 403);
    const st = await call('GET', '/api/v1/delivery', { as: 'admin' });
    assert.equal(st.status, 200, JSON.stringify(st.json));
    assert.equal(st.json.enabled, false);
    assert.ok(Array.isArray(st.json.offload.batches));
    assert.equal(typeof st.json.notifications.sent, 'number');
    assert.equal((await call('POST', '/api/v1/delivery/retry', { as: 'sup' })).status, 403);
    const r = await call('POST', '/api/v1/delivery/retry', { as: 'admin' });
    assert.equal(r.status, 503);
    assert.match(r.json.error, /delivery is off/);
    // With delivery running (here the store's own re-queue), the retry answers its counts and is audited.
    const on = await buildConsoleApi({
      db,
      live,
      stats: () => undefined,
      dataDir,
      adminToken: 'the-admin-token',
      sessionTtlMinutes: 60,
      loadKey: null,
      deliveryStatus: () => deliveryStatus(db.offload),
      delivery: { retryFailed: (actor) => db.offload.retryFailed(actor) },
      log,
    });
    const srv = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      log,
      health: async () => ({ ok: true, details: {} }),
      api: on.api,
    });
    try {
      const a = srv.address();
      const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/api/v1`;
      const auth = { authorization: `Bearer the-admin-token` };
      const st2 = (await (await fetch(`${url}/delivery`, { headers: auth })).json()) as {
        enabled: boolean;
      };
      assert.equal(st2.enabled, true);
      const res = await fetch(`${url}/delivery/retry`, { method: 'POST', headers: auth });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { retried: unknown }).retried, {
        offload: 0,
        export: 0,
        notifications: 0,
        journal: 0,
      });
      // A tar export needs the key: 503 on a server without the passphrase, before anything is sent.
      const noKey = await fetch(`${url}/recordings/export?format=tar`, { headers: auth });
      assert.equal(noKey.status, 503);
    } finally {
      on.ops.close();
      await new Promise((res) => srv.close(res));
    }
    const audited = await call('GET', '/api/v1/audit?action=delivery.retry', { as: 'admin' });
    assert.ok(
      audited.json.items.some(
        (e: { actor: string; via: string }) => e.actor === 'admin-token' && e.via === 'admin-token',
      ),
      JSON.stringify(audited.json.items),
    );
  });

  it('answers errors as JSON with clear statuses; serves OpenAPI and metrics', async () => {
    const nf = await call('GET', '/api/v1/nothing', { bearer: 'the-admin-token' });
    assert.deepEqual([nf.status, typeof nf.json.error], [404, 'string']);
    const m = await call('PUT', '/api/v1/recordings', { bearer: 'the-admin-token' });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET');
    const badJson = await call('POST', '/api/v1/login', { body: '{nope' });
    assert.deepEqual([badJson.status, badJson.json.error], [400, 'request body is not valid JSON']);
    const spec = await call('GET', '/api/v1/openapi.json');
    assert.equal(spec.json.openapi, '3.1.0');
    assert.ok(spec.json.paths['/recordings/{id}/audio'].get);
    assert.deepEqual(Object.keys(spec.json.paths['/recordings/export'].get.responses['200'].content), [
      'text/csv',
      'application/x-tar',
    ]);
    assert.ok(spec.json.paths['/delivery'].get && spec.json.paths['/delivery/retry'].post);
    live.calls = [
      {
        recordingId: 'r-live',
        callId: 'c',
        sessionId: null,
        srcAddress: 'x',
        startedAt: new Date().toISOString(),
        participants: [{ participantId: 'a', aor: 'sip:bob@x', name: 'Bob', sendsLabels: [] }],
        streams: [],
      },
    ];
    assert.equal((await call('GET', '/api/v1/calls', { bearer: 'the-admin-token' })).json.items.length, 1);
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    assert.match(metrics, /^srs_active_calls 1$/m);
    assert.match(metrics, /# TYPE srs_rtp_packets_received_total counter/);
  });

  it('answers /api/v1 with its entry points; the OpenAPI document has every routed path and no other', async () => {
    for (const path of ['/api/v1', '/api/v1/']) {
      const r = await call('GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.json.openapi, '/api/v1/openapi.json');
      const entries = r.json.entryPoints as { path: string; methods: string[] }[];
      assert.deepEqual(
        entries.find((e) => e.path === '/api/v1/recordings')?.methods,
        ['GET'],
        JSON.stringify(entries),
      );
      assert.ok(entries.some((e) => e.path === '/api/v1/users' && e.methods.includes('POST')));
    }
    const spec = (await call('GET', '/api/v1/openapi.json')).json as {
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[] }>>;
    };
    const documented = Object.entries(spec.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const routed = stack.api.routes.map((r) => `${r.method} ${r.path.replace(/:([a-zA-Z]+)/g, '{$1}')}`);
    assert.deepEqual([...documented].sort(), [...routed].sort());
    assert.ok(routed.length >= 36, `${routed.length} routes`);
    // Every documented operation reaches a handler (not the router's 404 or 405).
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      const url = `/api/v1${path.replace(/\{[a-zA-Z]+\}/g, randomUUID())}`;
      const r = await call(method, url, {
        bearer: 'the-admin-token',
        body: method === 'GET' ? undefined : {},
      });
      assert.ok(r.status !== 405 && !/no such endpoint/.test(String(r.json?.error)), `${op}: ${r.status}`);
    }
    // The query parameters come from the schemas the routes validate with.
    const search = spec.paths['/recordings']?.get?.parameters.map((p) => p.name) ?? [];
    assert.ok(search.includes('minDurationMs') && search.includes('limit'), search.join());
    const bad = await call('GET', '/api/v1/recordings?limit=0', { bearer: 'the-admin-token' });
    assert.deepEqual([bad.status, bad.json.error], [400, 'limit: must be an integer 1-1000']);
  });

  it('renders the listen-in latency as a Prometheus histogram', async () => {
    for (const ms of [40, 120, 120, 2000]) stack.ops.audioLatency(ms);
    const text = await fetch(`${base}/metrics`).then((r) => r.text());
    const series = (name: string) => text.split('\n').filter((l) => l.startsWith(name));
    assert.match(text, /^# TYPE srs_listen_latency_ms histogram$/m);
    assert.doesNotMatch(text, /# TYPE srs_listen_latency_ms_(bucket|sum|count)/);
    assert.deepEqual(series('srs_listen_latency_ms_bucket'), [
      'srs_listen_latency_ms_bucket{le="50"} 1',
      'srs_listen_latency_ms_bucket{le="100"} 1',
      'srs_listen_latency_ms_bucket{le="150"} 3',
      'srs_listen_latency_ms_bucket{le="200"} 3',
      'srs_listen_latency_ms_bucket{le="300"} 3',
      'srs_listen_latency_ms_bucket{le="500"} 3',
      'srs_listen_latency_ms_bucket{le="1000"} 3',
      'srs_listen_latency_ms_bucket{le="+Inf"} 4',
    ]);
    assert.deepEqual(series('srs_listen_latency_ms_sum'), ['srs_listen_latency_ms_sum 2280']);
    assert.deepEqual(series('srs_listen_latency_ms_count'), ['srs_listen_latency_ms_count 4']);
  });
});
