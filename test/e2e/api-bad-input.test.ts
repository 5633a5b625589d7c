/**
 * Bad input to the REST API on the real server: every documented route answers a request carrying
 * a NUL character (in its path parameters, its query string, or any string of its JSON body) with
 * a 4xx that names the problem, never a 500 (Postgres refuses NUL in text, so such a value must
 * not reach it); so it answers ids that are not ids (36 dashes, 300 characters, traversal, quotes),
 * query dates Postgres cannot hold and integers past what the columns and OFFSET take (a 400
 * naming the parameter), and bodies of the wrong shape or with values out of range; a request target that is no URL is a 400; and a body over the limit is answered 413 with `Connection: close`, so a client
 * that keeps connections alive never sends its next request on a connection the server drops.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Schema {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  $ref?: string;
}
interface Operation {
  parameters?: { in: string; name: string; schema?: { type?: string; format?: string; pattern?: string } }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const NUL = 'a\u0000b';

const IDS = [
  '-'.repeat(36),
  'x'.repeat(300),
  '..%2F..%2Fetc%2Fpasswd',
  "'%3B%20drop%20table%20recordings--",
  '00000000-0000-0000-0000-00000000000g',
  '1e21',
];
const DATES = ['-100000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '0000-01-01T00:00:00Z', '99999-12-31'];
const INTS = ['1e21', '99999999999999999999', '9007199254740993', '-1', '1.5', '0x10'];
/** Hostile values for a body field of each JSON type. */
const BODY_VALUES: Record<string, unknown[]> = {
  string: ['x'.repeat(20000), 12, null],
  integer: [1e21, -1e21, 2 ** 63, 1.5, '7'],
  number: [1e308, -1e308, 'NaN'],
  boolean: ['yes', 1],
  array: [[{}], 'x', new Array(500).fill('-'.repeat(36))],
  object: [[], 'x', { ['-'.repeat(36)]: 1e21 }],
  'date-time': ['-100000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z'],
};

/** A body for `schema` with NUL in every string it can hold (object keys and array items too). */
function nulBody(schema: Schema | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema?.properties ?? {}))
    out[k] =
      v.type === 'array'
        ? [NUL]
        : v.type === 'object'
          ? { [NUL]: NUL }
          : v.type === 'boolean'
            ? true
            : v.type === 'integer' || v.type === 'number'
              ? 1
              : NUL;
  // And one more field, for a schema that lets unknown fields through.
  out[NUL] = NUL;
  return out;
}

/** One request on `agent` (keep-alive, one socket): status, headers and body. */
function call(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
  /** Sent in two writes: chunked, with no Content-Length for the server to refuse it by. */
  chunked = false,
): Promise<{ status: number; connection: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const timer = setTimeout(
      () => reject(new Error(`${method} ${path}: no complete answer in 15 s (${seen.join(', ')})`)),
      15000,
    );
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      seen.push(`response ${res.statusCode}`);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => seen.push(`response error ${err.message}`));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    // The server may answer (and close) before the whole body is sent: that is not an error here.
    req.on('error', (err: NodeJS.ErrnoException) => {
      seen.push(`request error ${err.code}`);
      if (err.code === 'EPIPE') return;
      clearTimeout(timer);
      reject(err);
    });
    req.on('finish', () => seen.push('body sent'));
    req.on('close', () => seen.push('closed'));
    if (chunked && body) {
      req.write(body.subarray(0, 1000));
      req.end(body.subarray(1000));
    } else req.end(body);
  });
}

describe('REST API bad input (real server)', { timeout: 180000 }, () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer({ SRS_ADMIN_PASSWORD: 'bad-input-admin-password' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}/api/v1`;
  });

  after(async () => {
    await server?.stop();
  });

  it('answers a NUL character anywhere in a request with a 4xx on every route, never a 500', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as OpenApi;
    const resolve = (s: Schema | undefined) =>
      s?.$ref ? doc.components?.schemas?.[s.$ref.split('/').pop() as string] : s;
    const failures: string[] = [];
    let requests = 0;
    let nulNamed = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const hasBody = ['post', 'put', 'patch'].includes(method);
        const query = (op.parameters ?? [])
          .filter((p) => p.in === 'query')
          .map((p) => `${p.name}=x%00y`)
          .join('&');
        const variants = [
          'body',
          ...(query ? ['query'] : []),
          ...(path.includes('{') ? ['path'] : []),
        ] as const;
        for (const variant of variants) {
          if (variant === 'body' && !hasBody) continue;
          const ids = path.replace(/\{\w+\}/g, variant === 'path' ? 'x%00y' : randomUUID());
          const url = `${base}${ids}${variant === 'query' ? `?${query}` : ''}`;
          const schema = resolve(op.requestBody?.content?.['application/json']?.schema);
          const r = await fetch(url, {
            method: method.toUpperCase(),
            headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
            ...(hasBody ? { body: JSON.stringify(variant === 'body' ? nulBody(schema) : {}) } : {}),
          });
          const text = await r.text();
          requests++;
          if (/NUL/.test(text)) nulNamed++;
          // 503 is delivery's documented answer when no delivery service runs (the body is never read).
          const allowed = r.status < 500 || (r.status === 503 && path === '/delivery/retry');
          if (!allowed)
            failures.push(`${method.toUpperCase()} ${path} (NUL in the ${variant}): ${r.status} ${text}`);
        }
      }
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.ok(requests >= 60, `every route tried (${requests} requests)`);
    assert.ok(nulNamed > 0, 'the 400s name the NUL character');
    // The server is still up and never logged an internal error for any of them.
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status, 200);
    assert.doesNotMatch(server.output(), /"msg":"internal error|invalid byte sequence/);
  });

  /** Sends one request as the admin; the answer's status and text. */
  const send = async (method: string, path: string, body?: unknown) => {
    const withBody = ['POST', 'PUT', 'PATCH'].includes(method);
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      ...(withBody ? { body: typeof body === 'string' ? body : JSON.stringify(body ?? {}) } : {}),
    });
    return { status: r.status, text: (await r.text()).slice(0, 200) };
  };
  const docPaths = async () => ((await (await fetch(`${base}/openapi.json`)).json()) as OpenApi).paths;

  it('answers ids that are not ids with a 4xx on every route with a path parameter', async () => {
    const failures: string[] = [];
    let routes = 0;
    for (const [path, ops] of Object.entries(await docPaths()))
      for (const [method, op] of Object.entries(ops)) {
        const names = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        if (names.length > 0) routes++;
        for (const name of names)
          for (const id of IDS) {
            const target = path.replace(/\{(\w+)\}/g, (_, p: string) => (p === name ? id : randomUUID()));
            const r = await send(method.toUpperCase(), target);
            if (r.status < 400 || r.status >= 500)
              failures.push(`${method} ${target.slice(0, 90)}: ${r.status} ${r.text}`);
          }
      }
    assert.deepEqual(failures, []);
    assert.ok(routes >= 40, `routes with ids: ${routes}`);
  });

  it('answers query dates and integers out of range with a 400 naming the parameter', async () => {
    const failures: string[] = [];
    let tried = 0;
    for (const [path, ops] of Object.entries(await docPaths()))
      for (const [method, op] of Object.entries(ops)) {
        if (method !== 'get' || path.includes('{')) continue;
        for (const p of op.parameters ?? []) {
          const date = p.schema?.format === 'date-time';
          const int = p.schema?.pattern === '^[0-9]+$' || p.schema?.type === 'integer';
          for (const v of date ? DATES : int ? INTS : []) {
            tried++;
            const r = await send('GET', `${path}?${p.name}=${encodeURIComponent(v)}`);
            if (r.status !== 400 || !new RegExp(`["; ]${p.name}: `).test(r.text))
              failures.push(`GET ${path}?${p.name}=${v}: ${r.status} ${r.text}`);
          }
        }
      }
    assert.deepEqual(failures, []);
    assert.ok(tried >= 60, `values tried: ${tried}`);
  });

  it('answers bodies of the wrong shape or out of range without a 500', async () => {
    const failures: string[] = [];
    let bodies = 0;
    for (const [path, ops] of Object.entries(await docPaths()))
      for (const [method, op] of Object.entries(ops)) {
        if (!['post', 'put', 'patch'].includes(method) || path === '/login') continue;
        const target = path.replace(/\{\w+\}/g, randomUUID());
        const schema = op.requestBody?.content?.['application/json']?.schema;
        const shapes: unknown[] = ['{"unclosed": ', '[]', '"x"', '0', 'null'];
        for (const [name, s] of Object.entries(schema?.properties ?? {}))
          for (const v of BODY_VALUES[s.format === 'date-time' ? 'date-time' : (s.type ?? 'string')] ?? [])
            shapes.push({ [name]: v });
        for (const body of shapes) {
          bodies++;
          const r = await send(method.toUpperCase(), target, body);
          // 503 is delivery's documented answer when no delivery service runs (the body is never read).
          if (r.status >= 500 && !(r.status === 503 && path === '/delivery/retry'))
            failures.push(`${method} ${path} ${JSON.stringify(body).slice(0, 60)}: ${r.status} ${r.text}`);
        }
      }
    assert.deepEqual(failures, []);
    assert.ok(bodies >= 200, `bodies sent: ${bodies}`);
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status, 200);
    assert.doesNotMatch(server.output(), /"msg":"internal error/);
  });

  it('answers a request target that is no URL with 400, not 500', async () => {
    for (const target of ['http://[', 'http://[::1', 'http://x:99999/']) {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect(server.httpPort, '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n') && /\}$/.test(got)) s.end();
        });
        s.on('end', () => resolve(got));
        s.on('error', reject);
        s.setTimeout(5000, () => s.destroy(new Error(`no answer to ${target}: ${got}`)));
        s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      assert.match(reply, /^HTTP\/1\.1 400 /, `${target}: ${reply}`);
      assert.match(reply, /the request target is not a URL/, target);
    }
    assert.doesNotMatch(server.output(), /"msg":"request failed"/);
  });

  it('answers a body over the limit with 413 and Connection: close; the next request on a kept-alive client succeeds', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const auth = { authorization: `Bearer ${server.token}` };
    try {
      // Declared length (refused before reading) and chunked (refused once the limit is read).
      for (const chunked of [false, true, false, true]) {
        const big = await call(
          agent,
          server.httpPort,
          'POST',
          '/api/v1/users',
          { ...auth, 'content-type': 'application/json' },
          Buffer.alloc(2_000_000, 0x20),
          chunked,
        );
        assert.equal(big.status, 413, `${chunked ? 'chunked' : 'declared'}: ${big.text}`);
        assert.match(big.text, /request body larger than 65536 bytes/);
        assert.equal(big.connection, 'close');
        const next = await call(agent, server.httpPort, 'GET', '/api/v1/users', auth);
        assert.equal(next.status, 200, next.text);
        assert.match(next.text, /"username":"admin"/);
      }
    } finally {
      agent.destroy();
    }
  });
});
