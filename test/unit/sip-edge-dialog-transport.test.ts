// The embedded SIP edge with a real drachtio-srf app: where the requests the server sends inside a
// dialog go, and what the edge lets into the `|`-separated control lines it writes to the app.
// - A SRC connected over TLS (or TCP) gets our BYE on the connection it opened (RFC 5923 / RFC 3261
//   18), not on a new connection to its Contact: a real SBC's Contact names its listening port,
//   not the ephemeral port it connected from. The Contact here names a listener that records
//   whether anything connected to it.
// - A TCP/TLS connection that carries a dialog is not closed as idle; one without is.
// - A request whose Call-ID or From/To tag holds characters RFC 3261 25.1 does not allow there
//   (`|` would split drachtio's control line: `<victim>;from-tag=<tag>|x` registered the attacker's
//   dialog under the victim's id) gets 400 from the edge and never reaches the app.
import { privateCaDir, selfSignedCertDir } from '../helpers/tls-cert.js';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Srf from 'drachtio-srf';
import { startSipEdge, type SipEdge } from '../../src/sip/edge/index.js';
import { ANSWER, HOST, OFFER, Peer, answer, header, sleep, statusOf } from '../helpers/sip-peer.js';

const SECRET = 'edge-dialog-transport';
const IDLE_MS = 400;

interface SrfDialog {
  destroy(): Promise<unknown>;
}

interface Fixture {
  edge: SipEdge;
  srf: InstanceType<typeof Srf>;
  dialogs: SrfDialog[];
  /** Call-IDs of the INVITEs the app was handed. */
  seen: string[];
}

let certDir: string;
let main: Fixture;
let idle: Fixture;

async function fixture(idleTimeoutMs?: number, caDir?: string): Promise<Fixture> {
  const edge = await startSipEdge({
    sip: {
      host: HOST,
      port: 0,
      tls: caDir
        ? {
            port: 0,
            cert: readFileSync(join(caDir, 'edge.pem')),
            key: readFileSync(join(caDir, 'edge.key')),
            ca: readFileSync(join(caDir, 'ca.pem')),
          }
        : {
            port: 0,
            cert: readFileSync(join(certDir, 'cert.pem')),
            key: readFileSync(join(certDir, 'key.pem')),
          },
      ...(idleTimeoutMs ? { limits: { idleTimeoutMs } } : {}),
    },
    control: { host: HOST, port: 0, secret: SECRET },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
    timers: { t1: 50, t2: 400 },
  });
  const srf = new Srf();
  srf.on('error', () => undefined);
  await new Promise<string>((resolve, reject) => {
    srf.on('connect', (err: Error | null, hp: string) => (err ? reject(err) : resolve(hp)));
    void srf.connect({ host: HOST, port: edge.controlPort, secret: SECRET });
  });
  const f: Fixture = { edge, srf, dialogs: [], seen: [] };
  srf.invite((req, res) => {
    f.seen.push(req.get('Call-ID'));
    srf
      .createUAS(req, res, { localSdp: ANSWER })
      .then((d) => void f.dialogs.push(d as unknown as SrfDialog))
      .catch(() => undefined);
  });
  await sleep(100);
  return f;
}

before(async () => {
  certDir = selfSignedCertDir();
  main = await fixture();
  idle = await fixture(IDLE_MS);
});

after(async () => {
  for (const f of [main, idle]) {
    f.srf.disconnect();
    await f.edge.close();
  }
  rmSync(certDir, { recursive: true, force: true });
});

let n = 0;
interface Invite {
  text: string;
  callId: string;
  fromTag: string;
}
function invite(p: Peer, o: { contactPort?: number; callId?: string; fromTag?: string } = {}): Invite {
  n++;
  const callId = o.callId ?? `dt-${n}-${Date.now()}@${HOST}`;
  const fromTag = o.fromTag ?? `f${n}`;
  const t = p.transport;
  const param = t === 'TLS' ? ';transport=tls' : t === 'TCP' ? ';transport=tcp' : '';
  const text =
    [
      `INVITE sip:srs@${HOST}:${p.edgePort}${param} SIP/2.0`,
      `Via: SIP/2.0/${t} ${HOST}:${p.port};branch=z9hG4bK-dt-${n}-${Date.now()};rport`,
      'Max-Forwards: 70',
      `From: <sip:src@${HOST}>;tag=${fromTag}`,
      `To: <sip:srs@${HOST}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:src@${HOST}:${o.contactPort ?? p.port}${param}>;+sip.src`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(OFFER)}`,
    ].join('\r\n') +
    '\r\n\r\n' +
    OFFER;
  return { text, callId, fromTag };
}
function ack(p: Peer, inv: Invite, to: string): string {
  return (
    [
      `ACK sip:srs@${HOST}:${p.edgePort} SIP/2.0`,
      `Via: SIP/2.0/${p.transport} ${HOST}:${p.port};branch=z9hG4bK-dtack-${n}-${Date.now()};rport`,
      'Max-Forwards: 70',
      `From: <sip:src@${HOST}>;tag=${inv.fromTag}`,
      `To: ${to}`,
      `Call-ID: ${inv.callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
    ].join('\r\n') + '\r\n\r\n'
  );
}

async function call(f: Fixture, p: Peer, contactPort?: number): Promise<SrfDialog> {
  const before = f.dialogs.length;
  const inv = invite(p, contactPort ? { contactPort } : {});
  p.send(inv.text);
  const ok = await p.next((m) => statusOf(m) === 200 && /INVITE/.test(header(m, 'CSeq') ?? ''));
  p.send(ack(p, inv, header(ok, 'To') ?? ''));
  const deadline = Date.now() + 3000;
  while (f.dialogs.length === before && Date.now() < deadline) await sleep(10);
  assert.ok(f.dialogs.length > before, 'the app got no dialog');
  return f.dialogs.at(-1) as SrfDialog;
}

/** A TCP listener standing for the SRC's listening port (its Contact): records connections. */
async function contactListener(): Promise<{ port: number; connections: () => number; close: () => void }> {
  let count = 0;
  const socks: net.Socket[] = [];
  const server = net.createServer((s) => {
    count++;
    socks.push(s);
  });
  await new Promise<void>((r) => server.listen(0, HOST, () => r()));
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    connections: () => count,
    close: () => {
      for (const s of socks) s.destroy();
      server.close();
    },
  };
}

describe('requests the server sends in a dialog go over the connection the SRC opened', () => {
  for (const transport of ['TLS', 'TCP'] as const) {
    test(`${transport}: the app ends the call; the BYE arrives on the SRC's connection, nothing connects to its Contact's port`, async () => {
      const listener = await contactListener();
      const edgePort = transport === 'TLS' ? main.edge.tlsPort : main.edge.sipPort;
      const p = await new Peer(transport, edgePort).open();
      try {
        const dialog = await call(main, p, listener.port);
        const bye = dialog.destroy();
        const byeReq = await p.next((m) => m.startsWith('BYE '), 3000);
        assert.match(header(byeReq, 'Via') ?? '', new RegExp(`^SIP/2\\.0/${transport} `));
        p.send(answer(byeReq, 200, 'OK'));
        await bye;
        assert.equal(listener.connections(), 0, "the edge opened a connection to the Contact's port");
      } finally {
        p.close();
        listener.close();
      }
    });
  }

  test('TLS: with the SRC connection gone, the BYE falls back to the Contact', async () => {
    const listener = await contactListener();
    const p = await new Peer('TLS', main.edge.tlsPort).open();
    try {
      const dialog = await call(main, p, listener.port);
      p.close();
      await sleep(100);
      void dialog.destroy().catch(() => undefined);
      const deadline = Date.now() + 3000;
      while (listener.connections() === 0 && Date.now() < deadline) await sleep(10);
      assert.equal(listener.connections(), 1, 'the BYE did not go to the Contact');
    } finally {
      listener.close();
    }
  });

  // 64*T1 is 3.2 s here (T1 = 50 ms).
  test('TCP: with the SRC connection gone and its Contact port closed, the BYE fails at once and is not resent', async () => {
    const listener = await contactListener();
    const closedPort = listener.port;
    listener.close();
    const p = await new Peer('TCP', main.edge.sipPort).open();
    const dialog = await call(main, p, closedPort);
    p.close();
    await sleep(100);
    const before = { ...main.edge.byeFallback };
    const t0 = Date.now();
    await dialog.destroy().catch(() => undefined);
    const ms = Date.now() - t0;
    // Before, a refused connection was only logged and the BYE waited for Timer F.
    assert.ok(ms < 1500, `the app heard of the failed BYE after ${ms} ms`);
    assert.equal(main.edge.byeFallback.notResent, before.notResent + 1);
    assert.equal(main.edge.byeFallback.resent, before.resent);
  });

  test('UDP: a Contact port that never answers: after 64*T1 the BYE goes to the source port, where it is answered', async () => {
    const gone = await new Peer('UDP', main.edge.sipPort).open();
    const closedPort = gone.port;
    gone.close();
    const p = await new Peer('UDP', main.edge.sipPort).open();
    try {
      const dialog = await call(main, p, closedPort);
      const before = { ...main.edge.byeFallback };
      const t0 = Date.now();
      const done = dialog.destroy();
      const byeReq = await p.next((m) => m.startsWith('BYE '), 8000);
      const ms = Date.now() - t0;
      assert.ok(ms >= 3000, `the BYE reached the source after ${ms} ms, before the Contact timed out`);
      assert.match(byeReq, /^CSeq: 3 BYE$/m, 'the resent BYE takes the next CSeq');
      p.send(answer(byeReq, 200, 'OK'));
      await done;
      assert.deepEqual(
        { resent: main.edge.byeFallback.resent, answered: main.edge.byeFallback.answered },
        { resent: before.resent + 1, answered: before.answered + 1 },
      );
    } finally {
      p.close();
    }
  });
});

describe('mutual TLS: the fallback to the Contact uses the private CA and the server certificate', () => {
  let caDir: string;
  let mtls: Fixture;
  before(async () => {
    caDir = privateCaDir();
    mtls = await fixture(undefined, caDir);
  });
  after(async () => {
    mtls.srf.disconnect();
    await mtls.edge.close();
    rmSync(caDir, { recursive: true, force: true });
  });

  test('the BYE reaches an SRC listener whose certificate the CA signed and that requires a client certificate', async () => {
    const pem = (f: string) => readFileSync(join(caDir, f));
    // The SRC's listening port (its Contact): TLS, its certificate signed by the private CA, and
    // it takes only clients with a certificate from that CA.
    const got: string[] = [];
    const clients: string[] = [];
    const server = tls.createServer(
      {
        cert: pem('src.pem'),
        key: pem('src.key'),
        ca: pem('ca.pem'),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (s) => {
        clients.push(String(s.getPeerCertificate().subject?.CN));
        s.on('data', (d: Buffer) => got.push(d.toString('utf8')));
      },
    );
    await new Promise<void>((r) => server.listen(0, HOST, () => r()));
    const contactPort = (server.address() as net.AddressInfo).port;
    const p = await new Peer('TLS', mtls.edge.tlsPort, { cert: pem('src.pem'), key: pem('src.key') }).open();
    try {
      const dialog = await call(mtls, p, contactPort);
      p.close();
      await sleep(100);
      void dialog.destroy().catch(() => undefined);
      const deadline = Date.now() + 3000;
      while (!got.join('').startsWith('BYE ') && Date.now() < deadline) await sleep(10);
      assert.match(got.join(''), /^BYE sip:src@127\.0\.0\.1:\d+;transport=tls SIP\/2\.0/);
      assert.deepEqual(clients, ['edge'], 'the edge presented its own certificate');
    } finally {
      server.close();
    }
  });
});

describe('idle TCP/TLS connections', () => {
  for (const transport of ['TLS', 'TCP'] as const) {
    test(`${transport}: a connection carrying a dialog outlives the idle timeout and carries the BYE; one without is closed`, async () => {
      const edgePort = transport === 'TLS' ? idle.edge.tlsPort : idle.edge.sipPort;
      const listener = await contactListener();
      const bare = await new Peer(transport, edgePort).open();
      const p = await new Peer(transport, edgePort).open();
      try {
        const dialog = await call(idle, p, listener.port);
        await sleep(IDLE_MS * 3);
        assert.ok(bare.closed, 'a connection with no dialog was not closed as idle');
        assert.ok(!p.closed, 'the connection carrying a dialog was closed as idle');
        const bye = dialog.destroy();
        const byeReq = await p.next((m) => m.startsWith('BYE '), 3000);
        p.send(answer(byeReq, 200, 'OK'));
        await bye;
        assert.equal(listener.connections(), 0);
        // With the dialog over, the connection is idle like any other.
        const deadline = Date.now() + IDLE_MS * 4;
        while (!p.closed && Date.now() < deadline) await sleep(20);
        assert.ok(p.closed, 'the connection stayed open after its dialog ended');
      } finally {
        bare.close();
        p.close();
        listener.close();
      }
    });
  }
});

describe('values the edge writes into control lines', () => {
  const bad: [string, Partial<{ callId: string; fromTag: string; toTag: string }>][] = [
    ['a Call-ID with |', { callId: `victim-1@${HOST};from-tag=f1|x` }],
    ['a Call-ID with a space', { callId: `two words@${HOST}` }],
    ['a Call-ID with a lone CR', { callId: `cr\rx@${HOST}` }],
    ['a Call-ID with a non-ASCII character', { callId: `caf\u00e9@${HOST}` }],
    ['a From tag with |', { fromTag: 'f1|x' }],
    ['a To tag with |', { toTag: 'srs|x' }],
  ];
  for (const [name, o] of bad) {
    test(`${name}: 400 from the edge, the app never sees it`, async () => {
      const p = await new Peer('UDP', main.edge.sipPort).open();
      try {
        const inv = invite(p, o);
        let text = inv.text;
        if (o.toTag) {
          text = text.replace(`To: <sip:srs@${HOST}>`, `To: <sip:srs@${HOST}>;tag=${o.toTag}`);
          // A request with a To tag is in a dialog: send it as an UPDATE, a BYE would be 481 anyway.
          text = text.replace(/^INVITE /, 'UPDATE ').replace('CSeq: 1 INVITE', 'CSeq: 1 UPDATE');
        }
        p.send(text);
        const res = await p.next((m) => statusOf(m) >= 200);
        assert.equal(statusOf(res), 400, `answered ${statusOf(res)}`);
        await sleep(100);
        assert.ok(!main.seen.includes(inv.callId), 'the request reached the app');
      } finally {
        p.close();
      }
    });
  }

  test('an ACK with a Call-ID holding | is dropped, not answered', async () => {
    const p = await new Peer('UDP', main.edge.sipPort).open();
    try {
      const inv = invite(p, { callId: `ack|x@${HOST}` });
      p.send(ack(p, inv, `<sip:srs@${HOST}>;tag=abc`));
      await sleep(300);
      assert.equal(
        p.count(() => true),
        0,
      );
    } finally {
      p.close();
    }
  });

  test('a Call-ID using every character RFC 3261 allows in a word is served', async () => {
    const p = await new Peer('UDP', main.edge.sipPort).open();
    try {
      // Every RFC 3261 word character, and = ; , # & $ ^ which SRCs in the field send too.
      const word = 'aZ09-.!%*_+`\'~()<>:\\"/[]?{}=;,#&$^';
      const before = main.dialogs.length;
      const inv = invite(p, { callId: `${word}@${word}` });
      p.send(inv.text);
      const ok = await p.next((m) => statusOf(m) === 200 && /INVITE/.test(header(m, 'CSeq') ?? ''));
      assert.equal(header(ok, 'Call-ID'), `${word}@${word}`);
      p.send(ack(p, inv, header(ok, 'To') ?? ''));
      const deadline = Date.now() + 3000;
      while (main.dialogs.length === before && Date.now() < deadline) await sleep(10);
      const d = main.dialogs.at(-1) as SrfDialog;
      const bye = d.destroy();
      const byeReq = await p.next((m) => m.startsWith('BYE '));
      assert.equal(header(byeReq, 'Call-ID'), `${word}@${word}`);
      p.send(answer(byeReq, 200, 'OK'));
      await bye;
    } finally {
      p.close();
    }
  });
});
