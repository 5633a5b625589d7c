/**
 * The TLS policy as settings (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS), on the real server (`srs
 * serve` with SIP over TLS and HTTPS on loopback) and on the TLS connections the server opens:
 * - with SRS_TLS_MIN_VERSION=TLSv1.3 a TLS 1.2 client fails the handshake on both listeners, and a
 *   TLS 1.3 one gets through;
 * - a cipher OpenSSL does not know, a list it refuses, and TLSv1.1 stop `srs serve` at start with a
 *   line naming the setting;
 * - the edge's own TLS connections (the BYE to an SRC's Contact when the SRC's connection is gone)
 *   hold to the policy: with TLSv1.3 the server does not talk to a Contact that takes TLS 1.2 only;
 *   with the default policy it refuses a TLS 1.2 server offering only AES128-SHA (RSA key exchange,
 *   CBC), which Node's defaults took, and a TLS 1.1 one;
 * - a node's liveness check of a peer (nodeAnswers) does not: a peer whose https:// address our
 *   policy refuses is alive (its live calls are left to it), a closed port is not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { SRS_BIN, freePort, run, serveEnv, startTestServer, type TestServer } from '../helpers/server.js';
import { handshake, privateCaDir } from '../helpers/tls-cert.js';
import { Peer, header, ids, request, statusOf } from '../helpers/sip-peer.js';
import { SipTransport } from '../../src/sip/edge/transport.js';
import { DEFAULT_TLS_CIPHERS } from '../../src/config/tls-policy.js';
import { nodeAnswers } from '../../src/cluster/index.js';

/** A TLS listener standing for an SRC's Contact (or a peer node): what reached it. */
interface Listener {
  port: number;
  secure: number;
  failed: string[];
  data: string;
  close: () => void;
}
async function tlsListener(caDir: string, o: tls.TlsOptions): Promise<Listener> {
  const l: Listener = { port: 0, secure: 0, failed: [], data: '', close: () => undefined };
  const socks: net.Socket[] = [];
  const server = tls.createServer(
    { cert: readFileSync(join(caDir, 'src.pem')), key: readFileSync(join(caDir, 'src.key')), ...o },
    (s) => {
      l.secure++;
      socks.push(s);
      s.on('data', (d: Buffer) => (l.data += d.toString('utf8')));
      s.on('error', () => undefined);
    },
  );
  server.on('tlsClientError', (err) => l.failed.push(err.message));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  l.port = (server.address() as net.AddressInfo).port;
  l.close = () => {
    for (const s of socks) s.destroy();
    server.close();
  };
  return l;
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** TLS 1.0/1.1 only, as OpenSSL 3 still allows at security level 0. */
const OLD_TLS: tls.TlsOptions = {
  minVersion: 'TLSv1',
  maxVersion: 'TLSv1.1',
  ciphers: 'DEFAULT:@SECLEVEL=0',
};
/** TLS 1.2 with only RSA key exchange and CBC (no forward secrecy). */
const WEAK_CIPHER: tls.TlsOptions = { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' };

describe('SRS_TLS_MIN_VERSION and SRS_TLS_CIPHERS (srs serve)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let caDir: string;
  let sipTls: number;

  before(async () => {
    caDir = privateCaDir();
    sipTls = await freePort();
    server = await startTestServer({
      SIP_TLS_CERT: join(caDir, 'edge.pem'),
      SIP_TLS_KEY: join(caDir, 'edge.key'),
      SIP_TLS_PORT: String(sipTls),
      HTTP_TLS_CERT: join(caDir, 'edge.pem'),
      HTTP_TLS_KEY: join(caDir, 'edge.key'),
      SRS_TLS_MIN_VERSION: 'TLSv1.3',
      // Calls end (BYE from the server) 2 s in; the SRCs' Contact certificates are the test CA's.
      SRS_MAX_DURATION: '2',
      NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
    });
    await server.waitFor(/SIPREC recording server ready/, 90_000);
  });
  after(async () => {
    const code = await server?.stop();
    rmSync(caDir, { recursive: true, force: true });
    assert.equal(code, 0, 'an orderly shutdown');
  });

  it('with TLSv1.3 refuses a TLS 1.2 client on the SIP TLS and HTTPS ports and takes TLS 1.3', async () => {
    for (const [name, port] of [
      ['SIP TLS', sipTls],
      ['HTTPS', server.httpPort],
    ] as const) {
      const v12 = await handshake(port, { maxVersion: 'TLSv1.2' });
      assert.equal(v12.ok, false, `${name}: TLS 1.2 refused (${JSON.stringify(v12)})`);
      const v13 = await handshake(port, {});
      assert.deepEqual(
        v13.ok && { ok: v13.ok, version: v13.version },
        { ok: true, version: 'TLSv1.3' },
        name,
      );
    }
  });

  it('does not send its BYE to a Contact that takes TLS 1.2 only, and sends it to one on TLS 1.3', async () => {
    const old = await tlsListener(caDir, { maxVersion: 'TLSv1.2' });
    const good = await tlsListener(caDir, {});
    const srcs: Peer[] = [];
    try {
      for (const contact of [old, good]) {
        // The SRC connects over TLS, its Contact names its listener; it goes away once answered, so
        // the server's BYE must open a connection of its own to the Contact.
        const p = await new Peer('TLS', sipTls).open();
        srcs.push(p);
        const c = ids();
        const sdp =
          'v=0\r\no=SRC 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
          'm=audio 30000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n';
        const invite = request(p, sipTls, 'INVITE', c, { body: sdp, extra: ['Require: siprec'] }).replace(
          /^Contact: .*$/m,
          `Contact: <sip:src@127.0.0.1:${contact.port};transport=tls>;+sip.src`,
        );
        p.send(invite);
        const ok = await p.next((m) => statusOf(m) >= 200 && header(m, 'CSeq') === '1 INVITE', 20_000);
        assert.equal(statusOf(ok), 200, ok.split('\r\n')[0]);
        const toTag = /;tag=([^;>\s]+)/.exec(header(ok, 'To') ?? '')?.[1] ?? '';
        p.send(request(p, sipTls, 'ACK', c, { toTag, branch: `${c.branch}-ack` }));
      }
      await new Promise((r) => setTimeout(r, 200));
      for (const p of srcs) p.close();
      await until('the BYE at the TLS 1.3 Contact', () => good.data.startsWith('BYE '));
      await until('the handshake attempt at the TLS 1.2 Contact', () => old.failed.length > 0);
      assert.equal(old.secure, 0, 'no TLS 1.2 connection was made');
      assert.equal(old.data, '', 'nothing was sent to the TLS 1.2 Contact');
    } finally {
      for (const p of srcs) p.close();
      old.close();
      good.close();
    }
  });

  it('refuses to start with an unknown cipher, a list OpenSSL refuses or TLSv1.1, naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srs-tls-settings-'));
    try {
      const env = await serveEnv(join(dir, 'data'));
      const cases = [
        [
          { SRS_TLS_CIPHERS: 'ECDHE-RSA-AES128-GCM-SHA256:NO-SUCH-CIPHER' },
          /security\.tlsCiphers: OpenSSL .*knows no cipher NO-SUCH-CIPHER.*SRS_TLS_CIPHERS=/,
        ],
        [{ SRS_TLS_CIPHERS: '!ALL' }, /security\.tlsCiphers: OpenSSL refuses the list.*SRS_TLS_CIPHERS=/],
        [
          { SRS_TLS_MIN_VERSION: 'TLSv1.1' },
          /security\.tlsMinVersion: expected TLSv1\.2 or TLSv1\.3.*SRS_TLS_MIN_VERSION=/,
        ],
      ] as const;
      // Side by side: each is refused before anything starts (a configuration error, exit 2).
      const results = await Promise.all(
        cases.map(([more]) =>
          run(process.execPath, [SRS_BIN, 'serve'], { env: { ...env, ...more }, timeoutMs: 60_000 }),
        ),
      );
      for (const [i, [more, re]] of cases.entries()) {
        const r = results[i]!;
        assert.equal(r.code, 2, `${JSON.stringify(more)}: exit ${r.code}`);
        assert.match(r.stderr, re);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TLS connections the server opens hold to the default policy', { timeout: 60_000 }, () => {
  let caDir: string;
  before(() => {
    caDir = privateCaDir();
  });
  after(() => rmSync(caDir, { recursive: true, force: true }));

  it('the SIP edge refuses a TLS 1.2 server offering only AES128-SHA and a TLS 1.1 server', async () => {
    const pem = (f: string) => readFileSync(join(caDir, f));
    const noop = () => undefined;
    const log = { info: noop, warn: noop, error: noop, debug: noop };
    const policy = { minVersion: 'TLSv1.2' as const, ciphers: DEFAULT_TLS_CIPHERS };
    // Its listener's CA is the one its peers' certificates chain to (as with SIP_TLS_CA).
    const edge = await SipTransport.start({
      host: '127.0.0.1',
      port: 0,
      transports: ['udp'],
      tls: { port: 0, cert: pem('edge.pem'), key: pem('edge.key'), ca: pem('ca.pem'), ...policy },
      tlsClient: policy,
      log,
      onMessage: noop,
    });
    const weak = await tlsListener(caDir, WEAK_CIPHER);
    const old = await tlsListener(caDir, OLD_TLS);
    const good = await tlsListener(caDir, { maxVersion: 'TLSv1.2' });
    try {
      for (const l of [weak, old, good])
        edge.send('tls', '127.0.0.1', l.port, Buffer.from('OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n'));
      await until('OPTIONS at the ECDHE TLS 1.2 server', () => good.data.startsWith('OPTIONS '));
      await until('the handshake attempts', () => weak.failed.length > 0 && old.failed.length > 0);
      assert.deepEqual(
        [weak.secure, old.secure, weak.data, old.data],
        [0, 0, '', ''],
        'no connection to the AES128-SHA or TLS 1.1 server',
      );
    } finally {
      await edge.close();
      for (const l of [weak, old, good]) l.close();
    }
  });

  it('a node counts a peer https address that our TLS policy refuses as answering, a closed port as not (nodeAnswers)', async () => {
    const pem = (f: string) => readFileSync(join(caDir, f));
    // Peers whose TLS a policy of TLS 1.3 at least (SRS_TLS_MIN_VERSION=TLSv1.3) refuses:
    // AES128-SHA, TLS 1.1, TLS 1.2 at most; and one it takes (TLS 1.3).
    const servers = await Promise.all(
      [WEAK_CIPHER, OLD_TLS, { maxVersion: 'TLSv1.2' as const }, {}].map(async (o) => {
        const s = https.createServer({ cert: pem('src.pem'), key: pem('src.key'), ...o }, (_q, res) =>
          res.end('ok'),
        );
        s.on('tlsClientError', () => undefined);
        await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
        return s;
      }),
    );
    try {
      const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
      const policy = { minVersion: 'TLSv1.3' as const, ciphers: DEFAULT_TLS_CIPHERS };
      const held = await Promise.all(ports.map((p) => handshake(p, policy)));
      assert.deepEqual(
        held.map((h) => h.ok),
        [false, false, false, true],
        'the policy refuses the first three for data',
      );
      const urls = ports.map((p) => `https://127.0.0.1:${p}`);
      // A port nobody listens on: a node killed a moment ago.
      urls.push(`https://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`);
      const alive: boolean[] = [];
      for (const u of urls) alive.push(await nodeAnswers(u, 5000));
      // Alive is a question about the process, not about whether we would exchange data with it:
      // a peer we would not talk TLS with still holds its live calls (their spools). A closed
      // port is a dead process.
      assert.deepEqual(alive, [true, true, true, true, false, false]);
    } finally {
      for (const s of servers) s.close();
    }
  });
});
