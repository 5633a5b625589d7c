/**
 * Who may record, attacked on the real server (`srs serve`, real TLS and UDP on loopback):
 * - mutual TLS (SIP_TLS_CA): a SIPREC INVITE over TLS with a client certificate signed by the CA is
 *   answered 200 and the recording carries the certificate subject (event `src-tls-identity`);
 *   without a client certificate, or with a self-signed one, the handshake is refused and no SIP
 *   response comes back;
 * - per-source limits: over SRS_MAX_SESSIONS_PER_SOURCE concurrent sessions, and over
 *   SRS_MAX_CPS_PER_SOURCE new sessions a second, an INVITE gets 503 with Retry-After, and the
 *   refusals are counted in /metrics (srs_sip_refused_total);
 * - the connection limits and the header deadline hold from the TLS handshake on: half a ClientHello
 *   used to hold a connection for Node's 120 s, past every limit (3,000 from 50 addresses held 3,041
 *   of the recorder's descriptors).
 * The certificates are made for the test by openssl in a temporary directory.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, run, startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { waitForState } from '../helpers/sipp.js';
import { closedWithin, tcpConnect } from '../helpers/tcp-probe.js';

const id = (): string => randomBytes(6).toString('hex');

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await run('openssl', args, { cwd: dir });
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A throwaway CA, a server certificate and two client certificates (CA-signed, self-signed). */
async function makeCerts(dir: string): Promise<void> {
  const key = (name: string): string[] => [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
  ];
  await openssl(dir, [
    'req',
    '-x509',
    ...key('ca'),
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=SRS Test CA',
  ]);
  await openssl(dir, ['req', ...key('server'), '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await openssl(dir, [
    ...['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-out', 'server.pem', '-days', '2'],
  ]);
  await openssl(dir, [
    'req',
    ...key('client'),
    '-out',
    'client.csr',
    '-subj',
    '/O=Example SBC/CN=src1.example.net',
  ]);
  await openssl(dir, [
    ...['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-out', 'client.pem', '-days', '2'],
  ]);
  await openssl(dir, [
    'req',
    '-x509',
    ...key('rogue'),
    '-out',
    'rogue.pem',
    '-days',
    '2',
    '-subj',
    '/CN=src1.example.net',
  ]);
}

/** One SIP-over-TLS connection: sends requests, collects the messages that come back. */
class TlsSip {
  readonly messages: string[] = [];
  private buf = '';
  private readonly waiters: { re: RegExp; resolve: (m: string) => void }[] = [];
  closed: Promise<void>;
  private constructor(readonly sock: tls.TLSSocket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    this.closed = new Promise((r) => sock.once('close', () => r()));
  }

  /** Connects; resolves with the connection, or with the error when the handshake fails. */
  static connect(port: number, o: tls.ConnectionOptions): Promise<TlsSip | Error> {
    return new Promise((resolve) => {
      const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o });
      const c = new TlsSip(sock);
      sock.once('error', (err) => resolve(err));
      sock.once('secureConnect', () => resolve(c));
    });
  }

  get localPort(): number {
    return this.sock.localPort ?? 0;
  }

  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/^Content-Length:\s*(\d+)/im.exec(this.buf.slice(0, end))?.[1] ?? 0);
      if (this.buf.length < end + 4 + len) return;
      const msg = this.buf.slice(0, end + 4 + len);
      this.buf = this.buf.slice(end + 4 + len);
      this.messages.push(msg);
      for (const w of [...this.waiters])
        if (w.re.test(msg)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(msg);
        }
    }
  }

  waitFor(re: RegExp, ms = 15000): Promise<string> {
    const seen = this.messages.find((m) => re.test(m));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no message matching ${re} in ${ms} ms`)), ms);
      this.waiters.push({
        re,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  send(text: string): void {
    this.sock.write(text);
  }
}

function tlsRequest(
  c: TlsSip,
  o: { method: string; port: number; callId: string; fromTag: string; to: string; cseq: number },
  extra: string[] = [],
  body = '',
): string {
  return (
    [
      `${o.method} sip:srs@127.0.0.1:${o.port};transport=tls SIP/2.0`,
      `Via: SIP/2.0/TLS 127.0.0.1:${c.localPort};branch=z9hG4bK${id()}`,
      `From: "SRC" <sip:src@127.0.0.1>;tag=${o.fromTag}`,
      o.to,
      `Call-ID: ${o.callId}`,
      `CSeq: ${o.cseq} ${o.method}`,
      `Contact: <sip:src@127.0.0.1:${c.localPort};transport=tls>;+sip.src`,
      'Max-Forwards: 70',
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      '',
    ].join('\r\n') + body
  );
}

async function metric(server: TestServer, name: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  assert.equal(r.status, 200);
  return (await r.text())
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('mutual TLS on the SIP TLS port (srs serve)', { timeout: 90000 }, () => {
  let server: TestServer;
  let dir: string;
  let tlsPort: number;
  const certs: Record<string, Buffer> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-mtls-'));
    await makeCerts(dir);
    for (const f of ['ca.pem', 'client.pem', 'client.key', 'rogue.pem', 'rogue.key'])
      certs[f] = await readFile(join(dir, f));
    tlsPort = await freePort();
    server = await startTestServer({
      SIP_TLS_CERT: join(dir, 'server.pem'),
      SIP_TLS_KEY: join(dir, 'server.key'),
      SIP_TLS_CA: join(dir, 'ca.pem'),
      SIP_TLS_PORT: String(tlsPort),
      SIP_MAX_CONNECTIONS_PER_ADDRESS: '8',
      SIP_MAX_CONNECTIONS: '12',
      SIP_HEADER_TIMEOUT_MS: '3000',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  it('applies the connection limits and the header deadline to unfinished TLS handshakes', async () => {
    const halfHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    const open = async (from: string) => {
      const sock = await tcpConnect(tlsPort, from);
      sock.write(halfHello);
      return sock;
    };
    const one = [];
    for (let i = 0; i < 10; i++) one.push(await open('127.0.0.2'));
    const other = [];
    for (let i = 0; i < 6; i++) other.push(await open(`127.0.0.${3 + (i % 2)}`));
    const atOnce = await Promise.all([...one, ...other].map((sock) => closedWithin(sock, 1000)));
    assert.deepEqual(
      [atOnce.slice(0, 8).some(Boolean), atOnce.slice(8, 10).every(Boolean)],
      [false, true],
      `closed at once from one address: ${atOnce.slice(0, 10).filter(Boolean).length} of 10 (expected the last 2)`,
    );
    assert.equal(atOnce.slice(10).filter(Boolean).length, 2, 'the total limit (12) closes 2 of the next 6');
    // The rest never finish their handshake: closed at the 3 s header deadline, not after 120 s.
    const late = await Promise.all([...one, ...other].map((sock) => closedWithin(sock, 6000)));
    assert.equal(late.filter(Boolean).length, 16, 'unfinished handshakes closed at the deadline');
    const refused = await metric(server, 'srs_sip_connections_refused_total');
    assert.match(refused, /per-address-limit"} 2$/m);
    assert.match(refused, /total-limit"} 2$/m);
    assert.match(refused, /header-timeout"} 12$/m);
  });

  after(async () => {
    const code = await server?.stop();
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('records an SRC with a CA-signed client certificate and stores its subject', async () => {
    const c = await TlsSip.connect(tlsPort, {
      cert: certs['client.pem'],
      key: certs['client.key'],
      ca: certs['ca.pem'],
      servername: undefined,
    });
    assert.ok(!(c instanceof Error), `handshake with the CA-signed certificate: ${String(c)}`);
    const d = { port: tlsPort, callId: `mtls-${id()}@127.0.0.1`, fromTag: id() };
    const { contentType, body } = SiprecUac.body({ streams: 1 });
    c.send(
      tlsRequest(
        c,
        { ...d, method: 'INVITE', to: `To: <sip:srs@127.0.0.1:${tlsPort}>`, cseq: 1 },
        ['Require: siprec', `Content-Type: ${contentType}`],
        body,
      ),
    );
    const ok = await c.waitFor(/^SIP\/2\.0 [2-6]\d\d[\s\S]*CSeq: 1 INVITE/);
    assert.match(ok, /^SIP\/2\.0 200 /, ok);
    const to = /^To:.*$/im.exec(ok)?.[0] ?? '';
    c.send(tlsRequest(c, { ...d, method: 'ACK', to, cseq: 1 }));
    c.send(tlsRequest(c, { ...d, method: 'BYE', to, cseq: 2 }));
    assert.match(await c.waitFor(/CSeq: 2 BYE/), /^SIP\/2\.0 200 /);
    c.sock.end();

    // The recording's id from the catalogue, its events from the API (as the console reads them).
    const rec = await waitForState(server, d.callId, 'stored');
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/recordings/${rec.id}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(r.status, 200);
    const { events } = (await r.json()) as { events: { type: string }[] };
    const identity = events.find((e) => e.type === 'src-tls-identity');
    assert.ok(identity, `src-tls-identity event in ${JSON.stringify(events)}`);
    assert.match(JSON.stringify(identity), /CN=src1\.example\.net/);
    assert.match(JSON.stringify(identity), /O=Example SBC/);
  });

  for (const who of ['no client certificate', 'a self-signed client certificate'] as const) {
    it(`refuses the handshake with ${who}: no SIP response`, async () => {
      const o: tls.ConnectionOptions =
        who === 'no client certificate' ? {} : { cert: certs['rogue.pem'], key: certs['rogue.key'] };
      const c = await TlsSip.connect(tlsPort, o);
      // TLS 1.3: the client finishes first, the server's refusal arrives as an alert right after.
      let refused = c instanceof Error;
      if (!refused && !(c instanceof Error)) {
        const d = { port: tlsPort, callId: `rogue-${id()}@127.0.0.1`, fromTag: id() };
        const { contentType, body } = SiprecUac.body({ streams: 1 });
        c.sock.on('error', () => undefined);
        c.send(
          tlsRequest(
            c,
            { ...d, method: 'INVITE', to: `To: <sip:srs@127.0.0.1:${tlsPort}>`, cseq: 1 },
            ['Require: siprec', `Content-Type: ${contentType}`],
            body,
          ),
        );
        const closed = await Promise.race([
          c.closed.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
        ]);
        assert.deepEqual(c.messages, [], 'no SIP response to an unauthenticated SRC');
        refused = closed;
        c.sock.destroy();
      }
      assert.ok(refused, 'the server closed the connection');
    });
  }
});

describe('per-source session and rate limits (srs serve)', { timeout: 90000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ SRS_MAX_SESSIONS_PER_SOURCE: '2', SRS_MAX_CPS_PER_SOURCE: '1' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('answers 503 + Retry-After to a third concurrent session from one source', async () => {
    const uacs = await Promise.all([0, 1, 2].map(() => SiprecUac.open(server.sipPort)));
    // Two sessions open (a second apart, within SRS_MAX_CPS_PER_SOURCE); the third while both are up.
    const first = await uacs[0]!.invite({ streams: 1 });
    assert.equal(first.status, 200, first.text);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await uacs[1]!.invite({ streams: 1 });
    assert.equal(second.status, 200, second.text);
    await new Promise((r) => setTimeout(r, 1100));
    const third = await uacs[2]!.invite({ streams: 1 });
    assert.equal(third.status, 503, third.text);
    assert.match(third.text, /^Retry-After: 5\r?$/m);
    assert.match(third.text, /Warning: 399 srs "source 127\.0\.0\.1 has 2 sessions open/);
    for (const u of uacs.slice(0, 2)) assert.match(await u.request('BYE'), /^SIP\/2\.0 200/);
    for (const u of uacs) u.close();
    assert.match(await metric(server, 'srs_sip_refused_total'), /reason="source-sessions"} 1$/m);
  });

  it('answers 503 + Retry-After to INVITEs over the per-source rate', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const uacs = await Promise.all([0, 1, 2].map(() => SiprecUac.open(server.sipPort)));
    const results = await Promise.all(uacs.map((u) => u.invite({ streams: 1 })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 503, 503], results.map((r) => r.text.split('\r\n')[0]).join(' | '));
    for (const r of results.filter((x) => x.status === 503)) {
      assert.match(r.text, /^Retry-After: 1\r?$/m);
      assert.match(r.text, /over 1 new sessions per second/);
    }
    const answered = uacs[results.findIndex((r) => r.status === 200)]!;
    assert.match(await answered.request('BYE'), /^SIP\/2\.0 200/);
    for (const u of uacs) u.close();
    assert.match(await metric(server, 'srs_sip_refused_total'), /reason="source-rate"} 2$/m);
  });

  it('answers 200 twice and 503 once to three simultaneous INVITEs (no race past the limit)', async () => {
    // A separate limit check: sessions only, all three INVITEs in flight together.
    const s = await startTestServer({ SRS_MAX_SESSIONS_PER_SOURCE: '2', SRS_MAX_CPS_PER_SOURCE: '0' });
    try {
      await s.waitFor(/SIPREC recording server ready/, 60000);
      const uacs = await Promise.all([0, 1, 2].map(() => SiprecUac.open(s.sipPort)));
      const results = await Promise.all(uacs.map((u) => u.invite({ streams: 1 })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 503], results.map((r) => r.text.split('\r\n')[0]).join(' | '));
      const refusedOne = results.find((r) => r.status === 503);
      assert.match(refusedOne?.text ?? '', /^Retry-After: 5\r?$/m);
      for (const [i, u] of uacs.entries())
        if (results[i]?.status === 200) assert.match(await u.request('BYE'), /^SIP\/2\.0 200/);
      for (const u of uacs) u.close();
      assert.match(await metric(s, 'srs_sip_refused_total'), /reason="source-sessions"} 1$/m);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});
