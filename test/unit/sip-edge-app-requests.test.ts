// The embedded edge with a real drachtio-srf app: requests the app sends inside a dialog
// (re-INVITE via dialog.modify, UPDATE via dialog.request, BYE via dialog.destroy) reach the SRC
// with the dialog's identifiers and their answers come back to the app; and SIP over TLS with a
// self-signed certificate made by `openssl` for this test.
import { selfSignedCertDir } from '../helpers/tls-cert.js';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Srf from 'drachtio-srf';
import { startSipEdge, type SipEdge } from '../../src/sip/edge/index.js';
import { ANSWER, HOST, OFFER, Peer, header, statusOf } from '../helpers/sip-peer.js';

const SECRET = 'edge-app-requests';

interface SrfDialog {
  modify(sdp: string): Promise<string>;
  request(o: {
    method: string;
    body?: string;
    headers?: Record<string, string>;
  }): Promise<{ status: number }>;
  destroy(): Promise<unknown>;
}
let n = 0;
function invite(p: Peer, body = OFFER): { text: string; callId: string; fromTag: string } {
  n++;
  const callId = `app-req-${n}-${Date.now()}@${HOST}`;
  const fromTag = `f${n}`;
  const t = p.transport;
  const text =
    [
      `INVITE sip:srs@${HOST}:${p.edgePort}${t === 'TLS' ? ';transport=tls' : ''} SIP/2.0`,
      `Via: SIP/2.0/${t} ${HOST}:${p.port};branch=z9hG4bK-ar-${n};rport`,
      'Max-Forwards: 70',
      `From: <sip:src@${HOST}>;tag=${fromTag}`,
      `To: <sip:srs@${HOST}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:src@${HOST}:${p.port}${t === 'TLS' ? ';transport=tls' : ''}>;+sip.src`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(body)}`,
    ].join('\r\n') +
    '\r\n\r\n' +
    body;
  return { text, callId, fromTag };
}
function ack(p: Peer, callId: string, fromTag: string, to: string): string {
  return (
    [
      `ACK sip:srs@${HOST}:${p.edgePort} SIP/2.0`,
      `Via: SIP/2.0/${p.transport} ${HOST}:${p.port};branch=z9hG4bK-ack-${callId.length}-${Date.now()};rport`,
      'Max-Forwards: 70',
      `From: <sip:src@${HOST}>;tag=${fromTag}`,
      `To: ${to}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
    ].join('\r\n') + '\r\n\r\n'
  );
}
/** The peer's answer to a request the edge sent it. */
function reply(req: string, status: number, body = '', contentType = 'application/sdp'): string {
  const vias = (req.split('\r\n\r\n')[0] ?? '').split('\r\n').filter((l) => /^via:/i.test(l));
  return (
    [
      `SIP/2.0 ${status} OK`,
      ...vias,
      `From: ${header(req, 'From')}`,
      `To: ${header(req, 'To')}`,
      `Call-ID: ${header(req, 'Call-ID')}`,
      `CSeq: ${header(req, 'CSeq')}`,
      ...(body ? [`Content-Type: ${contentType}`] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ].join('\r\n') +
    '\r\n\r\n' +
    body
  );
}

let edge: SipEdge;
let srf: InstanceType<typeof Srf>;
let certDir: string;
const dialogs: SrfDialog[] = [];

before(async () => {
  certDir = selfSignedCertDir();
  edge = await startSipEdge({
    sip: {
      host: HOST,
      port: 0,
      tls: {
        port: 0,
        cert: readFileSync(join(certDir, 'cert.pem')),
        key: readFileSync(join(certDir, 'key.pem')),
      },
    },
    control: { host: HOST, port: 0, secret: SECRET },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
    timers: { t1: 50, t2: 400 },
  });
  srf = new Srf();
  srf.on('error', () => undefined);
  const hostport = await new Promise<string>((resolve, reject) => {
    srf.on('connect', (err: Error | null, hp: string) => (err ? reject(err) : resolve(hp)));
    void srf.connect({ host: HOST, port: edge.controlPort, secret: SECRET });
  });
  assert.match(hostport, new RegExp(`tls/${HOST}:${edge.tlsPort}`));
  srf.invite((req, res) => {
    srf
      .createUAS(req, res, { localSdp: ANSWER, headers: { Contact: ';+sip.srs' } })
      .then((d) => void dialogs.push(d as unknown as SrfDialog))
      .catch(() => undefined);
  });
  await new Promise((r) => setTimeout(r, 100));
});

after(async () => {
  srf.disconnect();
  await edge.close();
  rmSync(certDir, { recursive: true, force: true });
});

async function call(p: Peer): Promise<{ dialog: SrfDialog; ok: string }> {
  const before = dialogs.length;
  const inv = invite(p);
  p.send(inv.text);
  const ok = await p.next((m) => statusOf(m) === 200 && /INVITE/.test(header(m, 'CSeq') ?? ''));
  p.send(ack(p, inv.callId, inv.fromTag, header(ok, 'To') ?? ''));
  const deadline = Date.now() + 3000;
  while (dialogs.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(dialogs.length > before, 'the app got no dialog');
  return { dialog: dialogs.at(-1) as SrfDialog, ok };
}

describe('requests the app sends inside a dialog', () => {
  test('re-INVITE (dialog.modify): the SRC gets it in the dialog, its answer and our ACK complete it', async () => {
    const p = await new Peer('UDP', edge.sipPort).open();
    const { dialog, ok } = await call(p);
    const pending = dialog.modify(ANSWER.replace('40000', '40002'));
    const reinvite = await p.next((m) => m.startsWith('INVITE '));
    assert.equal(header(reinvite, 'Call-ID'), header(ok, 'Call-ID'));
    assert.match(header(reinvite, 'CSeq') ?? '', /^\d+ INVITE$/);
    assert.match(header(reinvite, 'From') ?? '', /tag=/);
    assert.equal(header(reinvite, 'To'), `<sip:src@${HOST}>;tag=f${n}`);
    assert.match(reinvite, /m=audio 40002 /);
    p.send(reply(reinvite, 200, OFFER.replace('30000', '30002')));
    const remote = await pending;
    assert.match(remote, /m=audio 30002 /);
    const ackMsg = await p.next((m) => m.startsWith('ACK '));
    assert.equal(header(ackMsg, 'Call-ID'), header(ok, 'Call-ID'));
    assert.match(header(ackMsg, 'CSeq') ?? '', /ACK$/);
    const bye = dialog.destroy();
    const byeReq = await p.next((m) => m.startsWith('BYE '));
    p.send(reply(byeReq, 200));
    await bye;
    p.close();
  });

  test('UPDATE (dialog.request) asking for a metadata snapshot: delivered with its body, 200 returned to the app', async () => {
    const p = await new Peer('UDP', edge.sipPort).open();
    const { dialog, ok } = await call(p);
    const body = '<?xml version="1.0"?><requestsnapshot xmlns="urn:ietf:params:xml:ns:recording:1"/>\r\n';
    const pending = dialog.request({
      method: 'UPDATE',
      body,
      headers: { 'Content-Type': 'application/rs-metadata-request' },
    });
    const upd = await p.next((m) => m.startsWith('UPDATE '));
    assert.equal(header(upd, 'Call-ID'), header(ok, 'Call-ID'));
    assert.equal(header(upd, 'Content-Type'), 'application/rs-metadata-request');
    assert.ok(upd.endsWith(body), 'UPDATE body changed on the way');
    p.send(reply(upd, 200));
    const res = await pending;
    assert.equal(res.status, 200);
    const bye = dialog.destroy();
    p.send(reply(await p.next((m) => m.startsWith('BYE ')), 200));
    await bye;
    p.close();
  });
});

describe('SIP over TLS', () => {
  test('a SIPREC INVITE over TLS is answered over the same connection, Via TLS and Contact transport=tls', async () => {
    const p = await new Peer('TLS', edge.tlsPort).open();
    const { dialog, ok } = await call(p);
    assert.match(header(ok, 'Via') ?? '', /^SIP\/2\.0\/TLS /);
    assert.match(
      header(ok, 'Contact') ?? '',
      new RegExp(`<sip:${HOST}:${edge.tlsPort};transport=tls>;\\+sip\\.srs`),
    );
    const bye = dialog.destroy();
    const byeReq = await p.next((m) => m.startsWith('BYE '));
    assert.match(header(byeReq, 'Via') ?? '', new RegExp(`^SIP/2\\.0/TLS ${HOST}:${edge.tlsPort};`));
    p.send(reply(byeReq, 200));
    await bye;
    p.close();
  });

  test('a plain TCP client on the TLS port is refused without harm', async () => {
    const { connect } = await import('node:net');
    const s = connect({ host: HOST, port: edge.tlsPort });
    await new Promise((r) => s.once('connect', r));
    const udpPeer = await new Peer('UDP', edge.sipPort).open();
    s.write(invite(udpPeer).text);
    udpPeer.close();
    const closed = await new Promise<boolean>((resolve) => {
      s.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    s.destroy();
    assert.ok(closed, 'the TLS port kept a plaintext connection open');
    // The edge still serves TLS afterwards.
    const p = await new Peer('TLS', edge.tlsPort).open();
    const { dialog } = await call(p);
    const bye = dialog.destroy();
    p.send(reply(await p.next((m) => m.startsWith('BYE ')), 200));
    await bye;
    p.close();
  });
});
