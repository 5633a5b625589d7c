import { pipeline, Transform } from 'node:stream';
import type { ArtifactStore, ByteRange, GetResult } from '../../src/storage/index.js';

/**
 * What the read side asked of a store, and what it served (test/e2e/storage-s3-read.test.ts): the
 * store's gets, the REST API's answers, the files of an export.
 */

/** The real store, noting each get (key, range asked, bytes that came out of the store). */
export class CountingStore implements ArtifactStore {
  gets: { key: string; range: ByteRange | undefined; bytes: number }[] = [];
  constructor(readonly inner: ArtifactStore) {}
  get backend() {
    return this.inner.backend;
  }
  get location() {
    return this.inner.location;
  }
  put: ArtifactStore['put'] = (...a) => this.inner.put(...a);
  head: ArtifactStore['head'] = (k) => this.inner.head(k);
  exists: ArtifactStore['exists'] = (k) => this.inner.exists(k);
  delete: ArtifactStore['delete'] = (k, o) => this.inner.delete(k, o);
  list: ArtifactStore['list'] = (p) => this.inner.list(p);
  close = () => this.inner.close();
  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const r = await this.inner.get(key, range);
    const entry = { key, range, bytes: 0 };
    this.gets.push(entry);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        entry.bytes += chunk.length;
        done(null, chunk);
      },
    });
    pipeline(r.body, counter, () => undefined);
    return { ...r, body: counter };
  }
}

/** The files of a ustar archive. */
export function untar(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= buf.length;) {
    const h = buf.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const str = (o: number, n: number) => h.toString('utf8', o, o + n).replace(/\0.*$/s, '');
    const prefix = str(345, 155);
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    const size = parseInt(str(124, 12), 8);
    out.set(name, buf.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** An answer of the REST API: status, headers, the body's bytes, and its JSON when it is JSON. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  buf: Buffer;
  json: Record<string, unknown> | null;
}

/** A request's method (GET unless given), more headers, and a body sent as JSON. */
export interface ApiRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A request to `${base}/api/v1<path>` with the bearer `token` (a JSON body when given), whatever its answer. */
export async function apiRequest(
  base: string,
  token: string,
  path: string,
  opts: ApiRequestOptions = {},
): Promise<ApiAnswer> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method: opts.method ?? 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json')
    ? (JSON.parse(buf.toString()) as Record<string, unknown>)
    : null;
  return { status: res.status, headers: res.headers, buf, json };
}
