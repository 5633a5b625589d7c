/**
 * The recording webhook (SRS_HOOK_URL) to an https:// receiver follows the TLS policy
 * (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS): a receiver below it gets nothing, and the hook job fails
 * with a message naming the setting. Real `srs serve`, a SIPREC call, node:https receivers on
 * loopback with certificates of a private CA (trusted through NODE_EXTRA_CA_CERTS).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { after, describe, it } from 'node:test';
import { postWebhook, type HookDocument } from '../../src/pipeline/hooks.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { privateCaDir } from '../helpers/tls-cert.js';
import { storedToneCall } from '../helpers/tone-call.js';

interface Receiver {
  server: https.Server;
  url: string;
  bodies: string[];
}

async function receiver(ca: string, maxVersion: SecureVersion): Promise<Receiver> {
  const bodies: string[] = [];
  const server = https.createServer(
    {
      cert: readFileSync(join(ca, 'edge.pem')),
      key: readFileSync(join(ca, 'edge.key')),
      minVersion: maxVersion,
      maxVersion,
    },
    (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

describe('recording webhook: TLS policy', { timeout: 180_000 }, () => {
  const ca = privateCaDir();
  const servers: TestServer[] = [];
  const receivers: Receiver[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const r of receivers) {
      r.server.closeAllConnections();
      await new Promise((res) => r.server.close(res));
    }
    rmSync(ca, { recursive: true, force: true });
  });

  it('does not post to a TLS 1.2 receiver when SRS_TLS_MIN_VERSION is TLSv1.3, and says why', async () => {
    const r = await receiver(ca, 'TLSv1.2');
    receivers.push(r);
    const s = await startTestServer({
      SRS_HOOK_URL: r.url,
      SRS_TLS_MIN_VERSION: 'TLSv1.3',
      NODE_EXTRA_CA_CERTS: join(ca, 'ca.pem'),
    });
    servers.push(s);
    await s.waitFor(/SIPREC recording server ready/, 90_000);
    const { id } = await storedToneCall(s, 500);
    const line = await s.waitFor(/recording hook (failed|delivered)/, 60_000);
    assert.deepEqual(r.bodies, [], 'the receiver got the document');
    assert.match(line, new RegExp(id));
    assert.match(
      line,
      /webhook receiver offers no TLS version or cipher that SRS_TLS_MIN_VERSION \(TLSv1\.3\)/,
    );
  });

  it('posts to a TLS 1.3 receiver under the default policy', async () => {
    const r = await receiver(ca, 'TLSv1.3');
    receivers.push(r);
    // In this process: the receiver's CA for the default agent (the server gets NODE_EXTRA_CA_CERTS).
    https.globalAgent.options.ca = readFileSync(join(ca, 'ca.pem'));
    const doc = { event: 'recording.stored', id: 'r1' } as HookDocument;
    await postWebhook(r.url, doc, 10);
    assert.deepEqual(
      r.bodies.map((b) => (JSON.parse(b) as HookDocument).id),
      ['r1'],
    );
  });
});
