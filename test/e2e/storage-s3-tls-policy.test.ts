/**
 * The S3 clients (the artifact store, an S3 delivery destination) follow the TLS policy
 * (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS): an https endpoint below it never gets a request. The
 * endpoint is a bare node:https server held to TLS 1.2 that records the requests it gets, with a
 * certificate of a private CA (trusted by `srs serve` through NODE_EXTRA_CA_CERTS).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Destination } from '../../src/config/s3-destination.js';
import { DEFAULT_TLS_CIPHERS } from '../../src/config/tls-policy.js';
import { S3DestinationClient } from '../../src/delivery/s3.js';
import { withTlsPolicy } from '../../src/delivery/tls-policy.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { privateCaDir } from '../helpers/tls-cert.js';

describe('S3 clients: TLS policy', { timeout: 120_000 }, () => {
  const ca = privateCaDir();
  const credentialsFile = join(ca, 'credentials.json');
  writeFileSync(credentialsFile, JSON.stringify({ accessKeyId: 'AKTEST', secretAccessKey: 'secret' }));
  const requests: string[] = [];
  const endpoint = https.createServer(
    {
      cert: readFileSync(join(ca, 'edge.pem')),
      key: readFileSync(join(ca, 'edge.key')),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    },
    (req, res) => {
      requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.end();
    },
  );
  let url = '';
  const servers: TestServer[] = [];
  before(async () => {
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of servers) await s.stop();
    endpoint.closeAllConnections();
    await new Promise((r) => endpoint.close(r));
    rmSync(ca, { recursive: true, force: true });
  });

  const serve = async (env: Record<string, string>) => {
    const s = await startTestServer({
      SRS_STORAGE: 's3',
      S3_BUCKET: 'recordings',
      S3_ENDPOINT: url,
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREDENTIALS_FILE: credentialsFile,
      S3_MAX_ATTEMPTS: '1',
      NODE_EXTRA_CA_CERTS: join(ca, 'ca.pem'),
      ...env,
    });
    servers.push(s);
    return s;
  };

  it('srs serve does not send its bucket check to a TLS 1.2 endpoint when SRS_TLS_MIN_VERSION is TLSv1.3', async () => {
    requests.length = 0;
    const s = await serve({ SRS_TLS_MIN_VERSION: 'TLSv1.3' });
    // It exits at start, or (taking the endpoint) sends its HEAD and goes on.
    let code: number | null | undefined;
    s.proc.once('exit', (c) => (code = c));
    const deadline = Date.now() + 60_000;
    while (code === undefined && requests.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(requests, [], 'the endpoint got a request');
    assert.ok(code !== undefined && code !== 0, `exit code ${code}`);
    assert.match(
      s.output(),
      /the S3 endpoint offers no TLS version or cipher that SRS_TLS_MIN_VERSION \(TLSv1\.3\)/,
    );
  });

  it('srs serve checks the bucket at the same endpoint under the default policy', async () => {
    requests.length = 0;
    const s = await serve({});
    const deadline = Date.now() + 60_000;
    while (requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(requests, ['HEAD /recordings/'], s.output().slice(-2000));
  });

  it('an S3 delivery destination sends nothing to a TLS 1.2 endpoint when the policy asks TLS 1.3', async () => {
    requests.length = 0;
    const dest = {
      type: 's3',
      bucket: 'export',
      prefix: '',
      region: 'us-east-1',
      endpoint: url,
      forcePathStyle: true,
      credentialsFile,
      partSizeMiB: 16,
      maxAttempts: 1,
    } as S3Destination;
    const c = new S3DestinationClient(
      withTlsPolicy(dest, { minVersion: 'TLSv1.3', ciphers: DEFAULT_TLS_CIPHERS }),
    );
    try {
      await assert.rejects(
        c.probe(),
        /the S3 endpoint offers no TLS version or cipher that SRS_TLS_MIN_VERSION/,
      );
    } finally {
      await c.close();
    }
    assert.deepEqual(requests, []);
  });
});
