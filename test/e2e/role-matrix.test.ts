/**
 * The role matrix: every route of the OpenAPI document, called on the real server as nobody and as
 * each role (record-only, user, supervisor, admin, each with its own API token), answers as its
 * documented minimum role says: 401 without a credential, 403 "needs the ... role" below it, never
 * either at or above it. The document and the router must agree: a documented route the router does
 * not know (404 "no such endpoint" or 405) fails, and so does a route written in src/api that the
 * document does not list.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTROL_ACTIONS } from '../../src/recording/control-policy.js';
import { ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const ROLES = ['record-only', 'user', 'supervisor', 'admin'] as const;
type Role = (typeof ROLES)[number];
const rank = (r: Role | 'anyone') => (r === 'anyone' ? -1 : ROLES.indexOf(r));

interface Operation {
  description?: string;
  security?: unknown[];
}

/** Every route written in src/api (route tables and the recording-route and audio builders). */
async function routesInSource(): Promise<Set<string>> {
  const dir = join(ROOT, 'src', 'api');
  const files = [
    ...(await readdir(dir)).map((f) => join(dir, f)),
    ...(await readdir(join(dir, 'resources'))).map((f) => join(dir, 'resources', f)),
  ].filter((f) => f.endsWith('.ts'));
  const out = new Set<string>();
  for (const f of files) {
    const src = await readFile(f, 'utf8');
    for (const m of src.matchAll(/method: '(GET|POST|PUT|PATCH|DELETE)',\s*path: '([^']+)'/g))
      out.add(`${m[1]} ${m[2]}`);
    for (const m of src.matchAll(/onRecording\(\s*'(GET|POST|PUT|PATCH|DELETE)',\s*'([^']+)'/g))
      out.add(`${m[1]} ${m[2]}`);
    // The audio builder: path `/recordings/:id/${name}` for each audioRoute('<name>', ...).
    if (src.includes('path: `/recordings/:id/${name}`'))
      for (const m of src.matchAll(/audioRoute\(\s*'(\w+)'/g)) out.add(`GET /recordings/:id/${m[1]}`);
    // The recording-control builders: a route per action of CONTROL_ACTIONS.
    for (const m of src.matchAll(/path: `([^`]*)\$\{action\}([^`]*)`/g))
      for (const a of CONTROL_ACTIONS) out.add(`POST ${m[1]}${a}${m[2]}`);
    const unresolved = [...src.matchAll(/path: `([^`]+)`/g)].filter(
      (m) => m[1] !== '/recordings/:id/${name}' && !m[1]?.includes('${action}'),
    );
    assert.deepEqual(
      unresolved.map((m) => m[1]),
      [],
      `${f}: a route path this test cannot read`,
    );
  }
  return out;
}

describe('role matrix over the OpenAPI document (real server)', { timeout: 240000 }, () => {
  let server: TestServer;
  let base: string;
  const tokens = {} as Record<Role, string>;

  before(async () => {
    server = await startTestServer({ SRS_ADMIN_PASSWORD: 'matrix-admin-password' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}/api/v1`;
    for (const role of ROLES) {
      const username = `m-${role}`;
      const post = (path: string, body: unknown, headers: Record<string, string>) =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
      const made = await post(
        '/users',
        { username, password: `${username}-password`, role, numbers: [username] },
        { authorization: `Bearer ${server.token}` },
      );
      assert.equal(made.status, 201);
      const login = await post('/login', { username, password: `${username}-password` }, {});
      assert.equal(login.status, 200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const t = await post('/tokens', { name: 'matrix' }, { cookie });
      assert.equal(t.status, 201);
      tokens[role] = ((await t.json()) as { token: string }).token;
    }
  });

  after(async () => {
    await server?.stop();
  });

  it('the document lists exactly the routes written in src/api', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    const written = await routesInSource();
    assert.deepEqual(
      [...written].filter((r) => !documented.has(r)).sort(),
      [],
      'routes written but missing from the document',
    );
    assert.deepEqual(
      [...documented].filter((r) => !written.has(r)).sort(),
      [],
      'documented routes written nowhere',
    );
  });

  it('answers every documented route as its minimum role says, for nobody and each role', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const rows: string[] = [];
    let calls = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const documented = /Minimum role: (any authenticated principal|user|supervisor|admin)\./.exec(
          op.description ?? '',
        )?.[1];
        const min: Role | 'anyone' =
          op.security && op.security.length === 0
            ? 'anyone'
            : documented === 'any authenticated principal'
              ? 'record-only'
              : (documented as Role);
        assert.ok(min, `${method} ${path}: no documented role`);
        // Unknown ids: the role check comes first, and nothing real is touched.
        const url = `${base}${path.replace(/\{\w+\}/g, () => randomUUID())}`;
        const send = async (who: Role | null) => {
          const r = await fetch(url, {
            method: method.toUpperCase(),
            headers: {
              ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}),
              ...(['post', 'put', 'patch'].includes(method) ? { 'content-type': 'application/json' } : {}),
            },
            ...(['post', 'put', 'patch'].includes(method) ? { body: '{}' } : {}),
          });
          const text = await r.text();
          calls++;
          return { status: r.status, text };
        };
        for (const who of [null, ...ROLES]) {
          const r = await send(who);
          const where = `${method.toUpperCase()} ${path} as ${who ?? 'nobody'} (min ${min}): ${r.status} ${r.text.slice(0, 160)}`;
          rows.push(where);
          assert.ok(
            !/no such endpoint/.test(r.text) && r.status !== 405,
            `the router does not know ${where}`,
          );
          if (min === 'anyone') {
            assert.notEqual(r.status, 401, where);
            assert.notEqual(r.status, 403, where);
          } else if (who === null) assert.equal(r.status, 401, where);
          else if (who === 'record-only' && path.startsWith('/recordings')) {
            // Record-only sees no recording at all: its routes answer 404, as for a recording
            // that does not exist (docs/recording-control.md).
            assert.equal(r.status, 404, where);
          } else if (rank(who) < rank(min)) {
            assert.equal(r.status, 403, where);
            assert.match(r.text, /needs the .* role or higher/, where);
          } else {
            assert.notEqual(r.status, 401, where);
            assert.ok(!(r.status === 403 && /role or higher/.test(r.text)), where);
          }
        }
      }
    assert.ok(calls >= 5 * 30, `every route called as nobody and 4 roles (${calls} calls)`);
  });
});
