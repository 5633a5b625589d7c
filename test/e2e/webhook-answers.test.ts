/**
 * What the recording webhook (SRS_HOOK_URL) does with the receiver's answer, on the real server
 * (`srs serve`, a SIPREC call) and real HTTP receivers on loopback:
 * - a 3xx answer is not followed: the document goes only to the configured address, never on to
 *   the address in `Location` (another host, 127.0.0.1, a metadata endpoint); the attempt fails,
 *   logged with the status and where it pointed;
 * - the body of a 2xx answer is not read: a receiver that answers with a huge (or endless) body
 *   sends the server a few socket buffers, not the whole body into its memory;
 * - a receiver that never answers fails the attempt after SRS_HOOK_TIMEOUT_SECONDS, and the
 *   failure names that limit.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { storedToneCall } from '../helpers/tone-call.js';

interface Receiver {
  server: Server;
  url: string;
  requests: { method: string; url: string; body: string }[];
}

async function receiver(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const until = async (what: string, ok: () => boolean, s: TestServer) => {
  const deadline = Date.now() + 60_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${s.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

async function recordCall(s: TestServer): Promise<string> {
  await s.waitFor(/SIPREC recording server ready/, 90_000);
  return (await storedToneCall(s, 500)).id;
}

describe('recording webhook: redirects, huge answers and silent receivers', { timeout: 300_000 }, () => {
  const servers: TestServer[] = [];
  const receivers: Receiver[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const r of receivers) {
      r.server.closeAllConnections();
      await new Promise((res) => r.server.close(res));
    }
  });

  it('does not follow a 3xx answer to the address in its Location', async () => {
    const elsewhere = await receiver((_req, res) => res.end('ok'));
    receivers.push(elsewhere);
    const redirecting = await receiver((req, res) => {
      // 307 keeps the method and body; 302 turns the POST into a GET of the Location.
      const status = redirecting.requests.length % 2 === 1 ? 307 : 302;
      res.writeHead(status, { location: `${elsewhere.url}/latest/meta-data/${req.url ?? ''}` }).end();
    });
    receivers.push(redirecting);
    const s = await startTestServer({ SRS_HOOK_URL: `${redirecting.url}/hook` });
    servers.push(s);
    const id = await recordCall(s);
    // Two attempts answered (307, then 302 on the retry), or the redirect followed.
    await until(
      'two webhook attempts',
      () => redirecting.requests.length >= 2 || elsewhere.requests.length > 0,
      s,
    );
    assert.equal(JSON.parse(redirecting.requests[0]?.body ?? '{}').id, id);
    assert.deepEqual(
      elsewhere.requests.map((r) => `${r.method} ${r.url} ${r.body.length}`),
      [],
      'the document went on to the Location address',
    );
    // Each attempt fails, naming the status and where it pointed.
    await s.waitFor(/answered 30[27] \(a redirect to .*not followed.*recording hook failed/, 60_000);
  });

  it('does not read a huge answer body into memory', async () => {
    const total = 128 * 1024 * 1024;
    let sent = 0;
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    const huge = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => undefined);
      pump();
    });
    receivers.push(huge);
    const s = await startTestServer({ SRS_HOOK_URL: `${huge.url}/hook` });
    servers.push(s);
    const id = await recordCall(s);
    await s.waitFor(
      new RegExp(`"recordingId":"${id}".*recording hook delivered|recording hook delivered.*${id}`),
      60_000,
    );
    // What the receiver could hand to its socket: its own buffers plus what the server took.
    assert.ok(sent < 32 * 1024 * 1024, `the server took ${sent} bytes of the answer body`);
  });

  it('fails the attempt after SRS_HOOK_TIMEOUT_SECONDS when the receiver never answers', async (t) => {
    // Takes the whole request, never answers; when each one came and when the server dropped it.
    const came: number[] = [];
    const dropped: number[] = [];
    const silent = await receiver((_req, res) => {
      came.push(Date.now());
      res.once('close', () => dropped.push(Date.now()));
    });
    receivers.push(silent);
    const s = await startTestServer({ SRS_HOOK_URL: `${silent.url}/hook`, SRS_HOOK_TIMEOUT_SECONDS: '1' });
    servers.push(s);
    const id = await recordCall(s);
    await until('the first webhook request', () => came.length > 0, s);
    const line = await s.waitFor(
      new RegExp(`"recordingId":"${id}".*"msg":"recording hook failed"|recording hook failed.*${id}`),
      60_000,
    );
    const failedAfter = Date.now() - (came[0] as number);
    t.diagnostic(`the attempt failed ${failedAfter} ms after the request reached the receiver`);
    assert.match(line, /no answer within 1 s \(SRS_HOOK_TIMEOUT_SECONDS\)/);
    // The default (30 s) would still be waiting; 1 s plus a loaded machine's delays.
    assert.ok(failedAfter < 10_000, `failed ${failedAfter} ms after the request came`);
    await until('the server to drop the connection', () => dropped.length > 0, s);
    assert.equal(JSON.parse(silent.requests[0]?.body ?? '{}').id, id);
  });
});
