// The embedded SIP edge end to end: a real drachtio-srf app on the control side and a raw SIP
// client of our own on the network side (test/helpers/sip-peer.ts), all over loopback UDP/TCP on
// random ports.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import Srf from 'drachtio-srf';
import { startSipEdge } from '../../src/sip/edge/index.js';
import type { SipEdge } from '../../src/sip/edge/index.js';
import {
  SECRET,
  T1,
  HOST,
  ANSWER,
  OFFER,
  logger,
  header,
  statusOf,
  bodyOf,
  Peer,
  ids,
  request,
  answer,
  sleep,
  waitFor,
  type SrfMsg,
  type SrfRes,
  type SrfDialog,
  type SrfApp,
} from '../helpers/sip-peer.js';

// ------------------------------------------------------------------ fixture
let edge: SipEdge;
let srf: SrfApp;
const logs: { level: string; o: object; msg?: string }[] = [];
type Handler = (req: SrfMsg, res: SrfRes) => void;
let onInvite: Handler = () => undefined;
const dialogs: SrfDialog[] = [];

async function connectApp(
  secret: string,
  port: number,
): Promise<{ app: SrfApp; err: Error | null; hostport?: string }> {
  const app = new Srf() as unknown as SrfApp;
  app.on('error', () => undefined);
  const done = new Promise<{ err: Error | null; hostport?: string }>((resolve) => {
    app.on('connect', (err, hostport) => resolve({ err, hostport }));
  });
  app.connect({ host: HOST, port, secret, reconnect: { maxAttempts: 1 } });
  return { app, ...(await done) };
}

before(async () => {
  edge = await startSipEdge({
    sip: { host: HOST, port: 0 },
    control: { host: HOST, port: 0, secret: SECRET },
    log: logger(logs),
    timers: { t1: T1, t2: 8 * T1 },
  });
  const c = await connectApp(SECRET, edge.controlPort);
  assert.equal(c.err, null);
  assert.equal(c.hostport, `tcp/${HOST}:${edge.sipPort},udp/${HOST}:${edge.sipPort}`);
  srf = c.app;
  srf.invite((req, res) => onInvite(req, res));
  srf.options((_req, res) => res.send(200, { headers: { 'X-App': 'srftest' } }));
  // let the route messages reach the edge
  await new Promise((r) => setTimeout(r, 100));
});

after(async () => {
  srf.disconnect();
  await edge.close();
  await edge.close(); // twice is fine
});

/** The To tag of a response. */
function toTagOf(m: string): string | undefined {
  return /tag=([^;>\s]+)/.exec(header(m, 'To') ?? '')?.[1];
}

/** A dialog set up from `p`: INVITE with OFFER, its 200, the ACK; the ids, the 200 and its To tag. */
async function establish(
  p: Peer,
): Promise<{ c: ReturnType<typeof ids>; ok: string; toTag: string | undefined }> {
  const c = ids();
  p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
  const ok = await p.next((m) => statusOf(m) === 200);
  const toTag = toTagOf(ok);
  p.send(request(p, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack` }));
  return { c, ok, toTag };
}

/** The caller's BYE (CSeq 2) gets 200 and the app's dialog ends with "normal release". */
async function byeEndsDialog(
  p: Peer,
  dialog: SrfDialog,
  c: Parameters<typeof request>[3],
  toTag: string,
): Promise<void> {
  const destroyed = new Promise<string | undefined>((r) => dialog.on('destroy', (_m, reason) => r(reason)));
  p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 2, branch: `${c.branch}bye` }));
  const byeOk = await p.next((m) => /BYE/.test(header(m, 'CSeq') ?? ''));
  assert.equal(`${statusOf(byeOk)} ${header(byeOk, 'CSeq')}`, '200 2 BYE');
  assert.equal(await destroyed, 'normal release');
}

/** Answers as uas() does and counts the INVITEs the app is handed. */
function countingUas(): { invites: number } {
  const seen = { invites: 0 };
  const inner = uas();
  onInvite = (req, res) => {
    seen.invites++;
    inner(req, res);
  };
  return seen;
}

function uas(sdp = ANSWER, headers: Record<string, string> = {}): Handler {
  dialogs.length = 0;
  return (req, res) => {
    srf
      .createUAS(req, res, { localSdp: sdp, headers })
      .then((d) => void dialogs.push(d))
      .catch(() => undefined);
  };
}

// ------------------------------------------------------------------ tests
describe('sip edge with a drachtio-srf app', () => {
  test('OPTIONS is answered by the app, completed by the edge', async () => {
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    p.send(request(p, edge.sipPort, 'OPTIONS', c));
    const res = await p.next((m) => statusOf(m) === 200);
    assert.equal(header(res, 'X-App'), 'srftest');
    assert.match(header(res, 'To') ?? '', /;tag=[A-Za-z0-9]{13}$/);
    assert.equal(header(res, 'Via'), `SIP/2.0/UDP ${HOST}:${p.port};branch=${c.branch};rport=${p.port}`);
    assert.equal(header(res, 'CSeq'), '1 OPTIONS');
    p.close();
  });

  test('INVITE: 100, then 200 with To-tag, Contact, SDP; 2xx resent until ACK; BYE ends the dialog', async () => {
    onInvite = uas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
    const trying = await p.next((m) => statusOf(m) === 100);
    assert.equal(header(trying, 'CSeq'), '1 INVITE');
    const ok = await p.next((m) => statusOf(m) === 200);
    const toTag = toTagOf(ok);
    assert.ok(toTag);
    assert.equal(header(ok, 'Contact'), `<sip:${HOST}:${edge.sipPort}>`);
    assert.equal(header(ok, 'Content-Type'), 'application/sdp');
    assert.equal(Number(header(ok, 'Content-Length')), Buffer.byteLength(ANSWER));
    assert.equal(bodyOf(ok), ANSWER);
    // retransmissions at T1, 2*T1... until ACK
    await p.next((m) => statusOf(m) === 200, 1000);
    await p.next((m) => statusOf(m) === 200, 1000);
    const dialog = await waitFor(() => dialogs.at(-1));
    const acked = new Promise<void>((r) => dialog.on('ack', () => r()));
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack` }));
    await acked;
    await sleep(4 * T1);
    const before = p.count((m) => statusOf(m) === 200);
    await sleep(10 * T1);
    assert.equal(
      p.count((m) => statusOf(m) === 200),
      before,
      'no 2xx retransmission after ACK',
    );

    await byeEndsDialog(p, dialog, c, toTag);
    // the dialog is gone at the edge: another BYE gets 481
    p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 3, branch: `${c.branch}bye2` }));
    await p.next((m) => statusOf(m) === 481);
    p.close();
  });

  test("the app's Contact is honoured, placeholder host replaced and params kept", async () => {
    onInvite = uas(ANSWER, { Contact: '<sip:srs@placeholder>;+sip.srs' });
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
    const ok = await p.next((m) => statusOf(m) === 200);
    assert.equal(header(ok, 'Contact'), `<sip:srs@${HOST}:${edge.sipPort}>;+sip.srs`);
    const toTag = toTagOf(ok);
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack` }));
    p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 2, branch: `${c.branch}bye` }));
    await p.next((m) => statusOf(m) === 200 && /BYE/.test(m));
    p.close();
  });

  test('re-INVITE in the dialog reaches the app and gets its SDP back', async () => {
    onInvite = uas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const { c, toTag } = await establish(p);
    p.send(request(p, edge.sipPort, 'INVITE', c, { toTag, cseq: 2, branch: `${c.branch}re`, body: OFFER }));
    const ok2 = await p.next((m) => statusOf(m) === 200 && /^CSeq: 2 INVITE/im.test(m));
    assert.equal(bodyOf(ok2), ANSWER);
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, cseq: 2, branch: `${c.branch}ack2` }));
    p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 3, branch: `${c.branch}bye` }));
    await p.next((m) => statusOf(m) === 200 && /BYE/.test(m));
    p.close();
  });

  test('a 2xx the app sends to a re-INVITE after the dialog ended does not bring the dialog back', async () => {
    // The app answers re-INVITEs late, so the caller's BYE ends the dialog first.
    dialogs.length = 0;
    onInvite = (req, res) => {
      srf
        .createUAS(req, res, { localSdp: ANSWER })
        .then((d) => {
          dialogs.push(d);
          d.on('modify', (_r, mres) => setTimeout(() => mres.send(200, { body: ANSWER }), 200));
        })
        .catch(() => undefined);
    };
    const p = await new Peer('UDP', edge.sipPort).open();
    const { c, toTag } = await establish(p);
    await waitFor(() => dialogs[0]);
    p.send(request(p, edge.sipPort, 'INVITE', c, { toTag, cseq: 2, branch: `${c.branch}re`, body: OFFER }));
    const destroyed = new Promise<void>((r) => dialogs[0]!.on('destroy', () => r()));
    p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 3, branch: `${c.branch}bye` }));
    const byeOk = await p.next((m) => /^CSeq: 3 BYE/im.test(m));
    assert.equal(statusOf(byeOk), 200);
    await destroyed;
    const late = await p.next((m) => statusOf(m) === 200 && /^CSeq: 2 INVITE/im.test(m));
    // A UA ACKs every 2xx it gets.
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, cseq: 2, branch: `${c.branch}ack2` }));
    assert.equal(bodyOf(late), ANSWER);
    // The dialog is gone: a request in it gets 481 from the edge (RFC 3261 section 12.2.2).
    p.send(request(p, edge.sipPort, 'UPDATE', c, { toTag, cseq: 4, branch: `${c.branch}up` }));
    const up = await p.next((m) => /^CSeq: 4 UPDATE/im.test(m) && statusOf(m) >= 200, 3000);
    assert.equal(statusOf(up), 481, up);
    p.close();
  });

  test('CANCEL: 200 to the CANCEL, 487 to the INVITE, and the app sees req "cancel"', async () => {
    let canceled!: () => void;
    const sawCancel = new Promise<void>((r) => (canceled = r));
    onInvite = (req) => req.on('cancel', () => canceled());
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
    await p.next((m) => statusOf(m) === 100);
    await sleep(50);
    p.send(request(p, edge.sipPort, 'CANCEL', c));
    const cancelOk = await p.next((m) => statusOf(m) === 200);
    assert.equal(header(cancelOk, 'CSeq'), '1 CANCEL');
    const terminated = await p.next((m) => statusOf(m) === 487);
    assert.equal(header(terminated, 'CSeq'), '1 INVITE');
    await sawCancel;
    // the ACK for the 487 (same branch) stops its retransmission
    const toTag = toTagOf(terminated);
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag }));
    await sleep(3 * T1);
    const n = p.count((m) => statusOf(m) === 487);
    await sleep(8 * T1);
    assert.equal(
      p.count((m) => statusOf(m) === 487),
      n,
    );
    p.close();
  });

  test('merged request (RFC 3261 8.2.2.2): the same INVITE on a second branch gets 482, one dialog, the BYE ends it', async () => {
    const seen = countingUas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    const other = `${c.branch}fork`;
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER, branch: other }));
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER })); // a retransmission: absorbed
    const loop = await p.next((m) => statusOf(m) >= 200 && (header(m, 'Via') ?? '').includes(other));
    assert.equal(statusOf(loop), 482);
    assert.equal(header(loop, 'CSeq'), '1 INVITE');
    const ok = await p.next((m) => statusOf(m) === 200 && (header(m, 'Via') ?? '').includes(`${c.branch};`));
    const toTag = toTagOf(ok);
    assert.ok(toTag);
    // the 482 is acknowledged on its own branch and not resent after that
    const loopTag = toTagOf(loop);
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag: loopTag, branch: other }));
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack` }));
    const dialog = await waitFor(() => dialogs.at(-1));
    await sleep(6 * T1);
    assert.equal(seen.invites, 1, 'the app saw one INVITE');
    assert.equal(dialogs.length, 1, 'one dialog at the app');
    assert.equal(
      p.count((m) => statusOf(m) === 200 && /^CSeq: 1 INVITE/im.test(m) && !m.includes(`tag=${toTag}`)),
      0,
      'no 200 with another To tag',
    );
    const n482 = p.count((m) => statusOf(m) === 482);
    await sleep(8 * T1);
    assert.equal(
      p.count((m) => statusOf(m) === 482),
      n482,
      'no 482 retransmission after its ACK',
    );

    await byeEndsDialog(p, dialog, c, toTag);
    p.close();
  });

  test('merged request after the first INVITE transaction has ended: 482 for as long as its dialog lasts', async () => {
    const seen = countingUas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const { c, toTag } = await establish(p);
    await sleep(64 * T1 + 4 * T1); // past Timer L: the INVITE transaction is gone, the dialog is not
    const other = `${c.branch}late`;
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER, branch: other }));
    const loop = await p.next((m) => statusOf(m) >= 200 && (header(m, 'Via') ?? '').includes(other));
    assert.equal(statusOf(loop), 482);
    assert.equal(seen.invites, 1);
    p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 2, branch: `${c.branch}bye` }));
    assert.equal(statusOf(await p.next((m) => /BYE/.test(header(m, 'CSeq') ?? ''))), 200);
    p.close();
  });

  test('a second call with the Call-ID and From tag of a live dialog and a new CSeq: its own dialog at the app', async () => {
    onInvite = uas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    const calls: { toTag: string; dialog: SrfDialog }[] = [];
    for (const cseq of [1, 2]) {
      const branch = `${c.branch}c${cseq}`;
      p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER, cseq, branch }));
      const ok = await p.next(
        (m) => statusOf(m) === 200 && new RegExp(`^CSeq: ${cseq} INVITE`, 'im').test(m),
      );
      const toTag = toTagOf(ok) ?? '';
      p.send(request(p, edge.sipPort, 'ACK', c, { toTag, cseq, branch: `${branch}ack` }));
      calls.push({ toTag, dialog: await waitFor(() => dialogs[cseq - 1]) });
    }
    assert.notEqual(calls[0]!.toTag, calls[1]!.toTag);
    assert.notEqual(calls[0]!.dialog, calls[1]!.dialog);
    const ended: number[] = [];
    calls.forEach((x, i) => x.dialog.on('destroy', () => ended.push(i)));
    // The first call's BYE ends the first call, and only it.
    p.send(
      request(p, edge.sipPort, 'BYE', c, { toTag: calls[0]!.toTag, cseq: 3, branch: `${c.branch}bye1` }),
    );
    assert.equal(statusOf(await p.next((m) => /^CSeq: 3 BYE/im.test(m))), 200);
    await waitFor(() => (ended.length > 0 ? true : undefined));
    await sleep(4 * T1);
    assert.deepEqual(ended, [0]);
    p.send(
      request(p, edge.sipPort, 'BYE', c, { toTag: calls[1]!.toTag, cseq: 4, branch: `${c.branch}bye2` }),
    );
    assert.equal(statusOf(await p.next((m) => /^CSeq: 4 BYE/im.test(m))), 200);
    await waitFor(() => (ended.length > 1 ? true : undefined));
    assert.deepEqual(ended, [0, 1]);
    p.close();
  });

  test('UDP without rport (RFC 3261 18.2.2): responses go to the Via sent-by port, and no rport is added', async () => {
    onInvite = uas();
    const sender = await new Peer('UDP', edge.sipPort).open();
    const listener = await new Peer('UDP', edge.sipPort).open();
    const o = ids();
    sender.send(request(sender, edge.sipPort, 'OPTIONS', o, { rport: false, viaPort: listener.port }));
    const res = await listener.next((m) => statusOf(m) === 200);
    assert.equal(header(res, 'Via'), `SIP/2.0/UDP ${HOST}:${listener.port};branch=${o.branch}`);

    const c = ids();
    sender.send(
      request(sender, edge.sipPort, 'INVITE', c, { rport: false, viaPort: listener.port, body: OFFER }),
    );
    await listener.next((m) => statusOf(m) === 100);
    const ok = await listener.next((m) => statusOf(m) === 200);
    await listener.next((m) => statusOf(m) === 200, 1000); // the 2xx is resent there too
    const toTag = toTagOf(ok);
    sender.send(request(sender, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack`, rport: false }));
    sender.send(
      request(sender, edge.sipPort, 'BYE', c, {
        toTag,
        cseq: 2,
        branch: `${c.branch}bye`,
        rport: false,
        viaPort: listener.port,
      }),
    );
    assert.equal(statusOf(await listener.next((m) => /BYE/.test(header(m, 'CSeq') ?? ''))), 200);
    assert.equal(
      sender.count((m) => statusOf(m) > 0),
      0,
      'nothing answered to the source port',
    );

    // with rport, the source port it is, and rport says so
    const r = ids();
    sender.send(request(sender, edge.sipPort, 'OPTIONS', r, { viaPort: listener.port }));
    const res2 = await sender.next((m) => statusOf(m) === 200);
    assert.equal(
      header(res2, 'Via'),
      `SIP/2.0/UDP ${HOST}:${listener.port};branch=${r.branch};rport=${sender.port}`,
    );
    sender.close();
    listener.close();
  });

  test('BYE for an unknown dialog gets 481 from the edge', async () => {
    const p = await new Peer('UDP', edge.sipPort).open();
    p.send(request(p, edge.sipPort, 'BYE', ids(), { toTag: 'nosuchtag', cseq: 2 }));
    const res = await p.next((m) => statusOf(m) > 0);
    assert.equal(statusOf(res), 481);
    p.close();
  });

  test('garbage: junk is dropped with a log line; a malformed request with a Via gets 400', async () => {
    const p = await new Peer('UDP', edge.sipPort).open();
    p.send('hello there\r\n\r\n');
    await waitFor(() => logs.find((l) => l.msg === 'dropped unparseable sip message'));
    const c = ids();
    const bad = request(p, edge.sipPort, 'OPTIONS', c).replace('CSeq: 1 OPTIONS', 'CSeq: one OPTIONS');
    p.send(bad);
    const res = await p.next((m) => statusOf(m) > 0);
    assert.equal(statusOf(res), 400);
    assert.equal(header(res, 'Call-ID'), c.callId);
    // Content-Length larger than the datagram
    p.send(request(p, edge.sipPort, 'OPTIONS', ids()).replace('Content-Length: 0', 'Content-Length: 50'));
    assert.equal(statusOf(await p.next((m) => statusOf(m) > 0)), 400);
    p.close();
  });

  test('TCP: two requests in one write, one INVITE split over two writes', async () => {
    onInvite = uas();
    const p = await new Peer('TCP', edge.sipPort).open();
    const a = ids();
    const b = ids();
    p.writeRaw('\r\n\r\n' + request(p, edge.sipPort, 'OPTIONS', a) + request(p, edge.sipPort, 'OPTIONS', b));
    const r1 = await p.next((m) => header(m, 'Call-ID') === a.callId && statusOf(m) === 200);
    const r2 = await p.next((m) => header(m, 'Call-ID') === b.callId && statusOf(m) === 200);
    assert.equal(header(r1, 'X-App'), 'srftest');
    assert.equal(header(r2, 'X-App'), 'srftest');

    const c = ids();
    const inv = request(p, edge.sipPort, 'INVITE', c, { body: OFFER });
    p.writeRaw(inv.slice(0, 100));
    await sleep(30);
    p.writeRaw(inv.slice(100));
    const ok = await p.next((m) => statusOf(m) === 200 && header(m, 'Call-ID') === c.callId);
    assert.equal(header(ok, 'Contact'), `<sip:${HOST}:${edge.sipPort};transport=tcp>`);
    assert.equal(bodyOf(ok), ANSWER);
    const toTag = toTagOf(ok);
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack` }));
    p.send(request(p, edge.sipPort, 'BYE', c, { toTag, cseq: 2, branch: `${c.branch}bye` }));
    await p.next((m) => statusOf(m) === 200 && /BYE/.test(header(m, 'CSeq') ?? ''));
    p.close();
  });

  test('app hangs up with dialog.destroy(): the caller gets a BYE, its 200 resolves the promise', async () => {
    onInvite = uas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
    const ok = await p.next((m) => statusOf(m) === 200);
    const toTag = toTagOf(ok);
    const dialog = await waitFor(() => dialogs.at(-1));
    p.send(request(p, edge.sipPort, 'ACK', c, { toTag, branch: `${c.branch}ack` }));
    await sleep(20);
    const done = dialog.destroy();
    const bye = await p.next((m) => m.startsWith('BYE '));
    assert.ok(bye.startsWith(`BYE sip:src@${HOST}:${p.port} SIP/2.0`));
    assert.equal(header(bye, 'CSeq'), '2 BYE');
    assert.equal(header(bye, 'Call-ID'), c.callId);
    assert.equal(header(bye, 'From'), `<sip:srs@${HOST}:${edge.sipPort}>;tag=${toTag}`);
    assert.equal(header(bye, 'To'), `<sip:src@${HOST}>;tag=${c.fromTag}`);
    await sleep(2 * T1); // let one retransmission happen; the transaction absorbs it
    p.send(answer(bye, 200, 'OK'));
    await done;
    p.close();
  });

  test('Timer H: an unacknowledged 2xx ends the call with a BYE and tells the app', async () => {
    onInvite = uas();
    const p = await new Peer('UDP', edge.sipPort).open();
    const c = ids();
    p.send(request(p, edge.sipPort, 'INVITE', c, { body: OFFER }));
    await p.next((m) => statusOf(m) === 200);
    const dialog = await waitFor(() => dialogs.at(-1));
    const destroyed = new Promise<string | undefined>((r) => dialog.on('destroy', (_m, reason) => r(reason)));
    const bye = await p.next((m) => m.startsWith('BYE '), 64 * T1 + 2000);
    assert.equal(header(bye, 'Reason'), 'SIP;cause=200;text="ACK timeout"');
    assert.match(
      header(bye, 'Via') ?? '',
      new RegExp(`^SIP/2.0/UDP ${HOST}:${edge.sipPort};rport;branch=z9hG4bK`),
    );
    p.send(answer(bye, 200, 'OK'));
    assert.equal(await destroyed, 'ACK timeout');
    p.close();
  });
});

describe('sip edge without an app', () => {
  test('OPTIONS gets 200 from the edge; INVITE gets 503', async () => {
    const lonely = await startSipEdge({
      sip: { host: HOST, port: 0, transports: ['udp'] },
      control: { host: HOST, port: 0, secret: SECRET },
      log: logger([]),
      timers: { t1: T1 },
    });
    const p = await new Peer('UDP', lonely.sipPort).open();
    p.send(request(p, lonely.sipPort, 'OPTIONS', ids()));
    assert.equal(statusOf(await p.next((m) => statusOf(m) > 0)), 200);
    p.send(request(p, lonely.sipPort, 'INVITE', ids(), { body: OFFER }));
    assert.equal(statusOf(await p.next((m) => statusOf(m) >= 200)), 503);
    p.close();
    await lonely.close();
  });
});

describe('drachtio control protocol', () => {
  test('a wrong secret is refused (drachtio-srf reports it; the socket is closed)', async () => {
    const c = await connectApp('not-the-secret', edge.controlPort);
    assert.match(String(c.err), /failed to authenticate/);
    const s = net.connect({ host: HOST, port: edge.controlPort });
    await once(s, 'connect');
    const payload = 'id1|authenticate|wrong|';
    s.write(`${Buffer.byteLength(payload)}#${payload}`);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    await once(s, 'close');
    assert.match(got, /^\d+#[0-9a-f-]{36}\|response\|id1\|NOK\|/);
  });

  test('frames: several in one write, one split over writes, lengths in UTF-8 bytes', async () => {
    const s = net.connect({ host: HOST, port: edge.controlPort });
    await once(s, 'connect');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    const frame = (p: string): string => `${Buffer.byteLength(p)}#${p}`;
    s.write(frame(`a1|authenticate|${SECRET}|`) + frame('a2|ping') + frame('a3|route|invité'));
    const split = frame('a4|ping');
    s.write(split.slice(0, 3));
    await sleep(20);
    s.write(split.slice(3));
    await waitFor(() => (/\|response\|a4\|OK/.test(got) ? true : undefined));
    assert.match(got, /\|response\|a1\|OK\|tcp\/127\.0\.0\.1:\d+,udp\/127\.0\.0\.1:\d+\|v\d+\.\d+\.\d+/);
    assert.match(got, /\|response\|a2\|OK/);
    assert.match(got, /\|response\|a3\|OK/);
    // each reply's length prefix counts bytes of what follows
    let rest = Buffer.from(got);
    while (rest.length) {
      const hash = rest.indexOf('#');
      const n = Number(rest.subarray(0, hash).toString());
      assert.ok(n > 0 && rest.length >= hash + 1 + n);
      rest = rest.subarray(hash + 1 + n);
    }
    s.destroy();
  });
});
