/**
 * A client of the real server (`srs serve`, startTestServer) as the attack tests use it
 * (test/e2e/security.test.ts): an HTTP request with a session cookie or bearer token and a client
 * address, whatever its answer, and a /monitor WebSocket that keeps the messages it is sent.
 */
import WebSocket from 'ws';

/** An answer: status, headers, the body as JSON (an empty object when it is not JSON) and as text. */
export interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown> & { items?: Record<string, unknown>[] };
  text: string;
}

/** What a request carries: a session cookie, a bearer token, a JSON body, more headers, a client address (X-Forwarded-For). */
export interface CallOptions {
  cookie?: string;
  bearer?: string;
  body?: unknown;
  headers?: Record<string, string>;
  from?: string;
}

/** `method` `${base}${path}` with what `o` says. */
export async function callServer(
  base: string,
  method: string,
  path: string,
  o: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.cookie !== undefined) headers.cookie = o.cookie;
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.from) headers['x-forwarded-for'] = o.from;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await r.text();
  let json = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, json, text };
}

/**
 * A WebSocket to ws://127.0.0.1:`port`/monitor`query` with `headers`: its text messages (parsed),
 * `opened` (101, the status of an HTTP refusal, or 0 on an error) and `closed` (the close code).
 */
export function openMonitor(port: number, headers: Record<string, string>, query = '') {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/monitor${query}`, { headers });
  const msgs: { type: string; [k: string]: unknown }[] = [];
  ws.on('message', (d, binary) => {
    if (!binary) msgs.push(JSON.parse(String(d)) as { type: string });
  });
  const opened = new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, msgs, opened, closed };
}
