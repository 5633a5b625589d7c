/**
 * The edge's server side: requests from the network (new, in-dialog, ACK, CANCEL, malformed),
 * handed to an app or answered by the edge, and the responses apps send back, completed the way
 * drachtio-server 0.9 completes them (complete-response.ts).
 */
import type { AppConn } from './control.js';
import { REASONS, hostPort, stamp } from './context.js';
import { completeResponse } from './complete-response.js';
import type { EdgeContext } from './context.js';
import type { DialogLayer } from './dialog-layer.js';
import { randomToken } from './dialogs.js';
import {
  getHeader,
  getParam,
  getTag,
  parseCSeq,
  parseNameAddr,
  parseVia,
  serializeMessage,
  splitList,
  stringifyVia,
} from './message.js';
import type { SipHeader, SipRequest, SipResponse } from './message.js';
import { dialogFields } from './request-fields.js';
import { answerUnrouted, maxUdpPayload, overlappingInvite, refuseOversizeUdp } from './server-rules.js';
import { serverKey } from './transactions.js';
import type { Peer } from './transactions.js';
import type { Inbound } from './transport.js';

export class ServerSide {
  constructor(
    private readonly ctx: EdgeContext,
    private readonly dialogs: DialogLayer,
  ) {}

  /**
   * Answer 400 (or `status`: 513 for a message over the TCP limit) when the head names enough to
   * address a response; else drop it with a log line.
   */
  onUnparseable(inb: Inbound, reason: string, status: 400 | 513 = 400): void {
    const text = inb.data.toString('utf8', 0, Math.min(inb.data.length, 16384));
    const head = text.split(/\r?\n\r?\n/)[0] ?? '';
    const lines = head.split(/\r?\n/);
    const pick = (re: RegExp): string[] =>
      lines.filter((l) => re.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim());
    const vias = pick(/^(via|v)\s*:/i);
    const from = pick(/^(from|f)\s*:/i)[0];
    const to = pick(/^(to|t)\s*:/i)[0];
    const callId = pick(/^(call-id|i)\s*:/i)[0];
    const cseq = pick(/^cseq\s*:/i)[0];
    const isRequest = /^[A-Za-z]+ \S+ SIP\/2\.0/.test(lines[0] ?? '') && !/^ACK /i.test(lines[0] ?? '');
    const where = { remoteAddress: inb.remoteAddress, remotePort: inb.remotePort, transport: inb.transport };
    // Via, Call-ID and CSeq are what a client matches a response with (RFC 3261 17.1.3); a
    // missing or broken From/To must not leave the request unanswered.
    if (!isRequest || vias.length === 0 || !callId || !cseq) {
      this.ctx.o.log.warn({ ...where, reason }, 'dropped unparseable sip message');
      return;
    }
    this.ctx.o.log.warn({ ...where, reason, status }, 'answering malformed sip request');
    const toBase = to || '<sip:invalid@invalid>';
    const toValue = getTag(toBase) ? toBase : `${toBase};tag=${randomToken()}`;
    const headers: SipHeader[] = [
      ...vias.map((v) => ({ name: 'Via', value: v })),
      { name: 'From', value: from || '<sip:invalid@invalid>' },
      { name: 'To', value: toValue },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: cseq },
      {
        name: 'Warning',
        value: `399 ${this.ctx.o.advertised} "${reason.replace(/["\\]/g, "'").slice(0, 120)}"`,
      },
      { name: 'Content-Length', value: '0' },
    ];
    const res: SipResponse = {
      type: 'response',
      version: '2.0',
      status,
      reason: REASONS[status] ?? 'Bad Request',
      headers,
      body: Buffer.alloc(0),
    };
    this.ctx.o.send(
      { transport: inb.transport, address: inb.remoteAddress, port: inb.remotePort },
      serializeMessage(res),
    );
  }

  onNetworkRequest(req: SipRequest, inb: Inbound): void {
    const { viaHeader, from, to, callId, cseq } = dialogFields(req);

    // RFC 3261 18.2.1: record where the request really came from in the top Via; RFC 3581: the
    // source port only when the client asked for it with rport.
    const values = splitList(viaHeader.value);
    const via = parseVia(values[0] ?? '');
    if (via.host !== inb.remoteAddress) {
      const i = via.params.findIndex(([k]) => k === 'received');
      if (i === -1) via.params.push(['received', inb.remoteAddress]);
      else via.params[i] = ['received', inb.remoteAddress];
    }
    const ri = via.params.findIndex(([k]) => k === 'rport');
    if (ri !== -1) via.params[ri] = ['rport', String(inb.remotePort)];
    values[0] = stringifyVia(via);
    viaHeader.value = values.map((v) => v.trim()).join(', ');
    delete viaHeader.raw;
    const raw = serializeMessage(req);

    // Where responses go. Over TCP/TLS: the connection. Over UDP (RFC 3261 18.2.2, RFC 3581 4):
    // the source address (the `received`), and the source port only with rport; without it, the
    // Via's sent-by port (5060 when it names none), where the client said it listens.
    const source: Peer = { transport: inb.transport, address: inb.remoteAddress, port: inb.remotePort };
    const peer: Peer = inb.transport === 'udp' && ri === -1 ? { ...source, port: via.port ?? 5060 } : source;
    const branch = getParam(via.params, 'branch') ?? '';
    const sentBy = hostPort(via.host, via.port ?? 5060);
    const fromTag = getTag(from) ?? '';
    const toTag = getTag(to);
    const keyFor = (method: string): string =>
      branch.startsWith('z9hG4bK')
        ? serverKey(branch, sentBy, method)
        : serverKey(`legacy:${callId}|${cseq.seq}|${fromTag}|${branch}`, sentBy, method);

    if (req.method === 'ACK') {
      this.onAck(req, raw, inb, keyFor('INVITE'), callId, fromTag, toTag, cseq.seq);
      return;
    }
    const key = keyFor(req.method);
    const existing = this.ctx.txns.findServer(key);
    if (existing) {
      this.ctx.txns.retransmitted(existing);
      return;
    }
    const base = { key, request: req, raw, receivedLength: inb.data.length, peer, source };
    if (req.version !== '2.0') {
      // RFC 3261 8.2.1 (and 21.5.7): only SIP/2.0 is spoken here.
      const txn = this.ctx.txns.createServer({ ...base, toTag: randomToken() });
      this.ctx.txns.respond(txn, 505, this.ctx.edgeResponse(req, 505, txn.toTag));
      return;
    }

    if (req.method === 'CANCEL') {
      this.onCancel(req, raw, inb, keyFor('INVITE'), base);
      return;
    }

    // RFC 3261 8.2.2.2: a request without a To tag whose Call-ID, From tag and CSeq are those of
    // a request already on another transaction (a forking proxy's second branch, an SBC's
    // fail-over path) is a merged request: 482. Answered, it would make a second dialog under the
    // same drachtio dialog id (`<Call-ID>;from-tag=<tag>`), and a BYE of either would end the
    // other's recording. The first request counts while its transaction or its dialog lasts.
    const requestId = toTag ? undefined : `${callId}\n${fromTag}\n${cseq.seq} ${cseq.method}`;
    if (requestId !== undefined) {
      const first = this.ctx.txns.findServerByRequestId(requestId);
      const dialog = first ? undefined : this.dialogs.store.findByRequestId(requestId);
      if (dialog && dialog.createdBy?.txnKey === key) {
        // A stray copy of the very INVITE that made the dialog, after its transaction ended.
        this.ctx.o.log.debug({ callId }, 'late retransmission of a dialog-creating request dropped');
        return;
      }
      if (first || dialog) {
        this.ctx.o.log.warn(
          { callId, method: req.method, remoteAddress: inb.remoteAddress, remotePort: inb.remotePort },
          'merged request (same Call-ID, From tag and CSeq on another branch); answering 482',
        );
        const txn = this.ctx.txns.createServer({ ...base, toTag: randomToken() });
        this.ctx.txns.respond(txn, 482, this.ctx.edgeResponse(req, 482, txn.toTag));
        return;
      }
    }

    if (toTag) {
      const dialog = this.dialogs.store.find(callId, toTag, fromTag);
      const txn = this.ctx.txns.createServer({ ...base, toTag });
      if (!dialog) {
        this.ctx.txns.respond(txn, 481, this.ctx.edgeResponse(req, 481, toTag));
        return;
      }
      if (req.method === 'INVITE')
        this.ctx.txns.respond(txn, 100, this.ctx.edgeResponse(req, 100, undefined));
      if (cseq.seq < dialog.remoteCseq) {
        this.ctx.txns.respond(txn, 500, this.ctx.edgeResponse(req, 500, toTag));
        return;
      }
      if (req.method === 'INVITE' && overlappingInvite(this.ctx, this.dialogs, txn, dialog)) return;
      dialog.remoteCseq = cseq.seq;
      txn.dialogId = dialog.id;
      if (req.method === 'INVITE' || req.method === 'UPDATE') {
        const contact = getHeader(req, 'contact');
        if (contact) {
          try {
            dialog.remoteTarget = parseNameAddr(contact).uri; // target refresh, RFC 3261 12.2.2
          } catch {
            /* keep the old target */
          }
        }
      }
      const app = this.ctx.pickApp(req.method, dialog.owner);
      if (!app) {
        if (req.method === 'BYE') {
          // No application left to tell: end the dialog here rather than leave the caller hanging.
          this.ctx.o.log.warn({ callId }, 'BYE for a dialog whose app is gone; answering 200 from the edge');
          this.dialogs.endDialog(dialog);
          this.ctx.txns.respond(txn, 200, this.ctx.edgeResponse(req, 200, toTag));
        } else this.ctx.txns.respond(txn, 503, this.ctx.edgeResponse(req, 503, toTag));
        return;
      }
      txn.owner = app;
      dialog.owner = app;
      this.ctx.toApp(
        app,
        `sip|network|${txn.receivedLength}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${txn.id}|${dialog.id}|`,
        raw,
      );
      return;
    }

    const txn = this.ctx.txns.createServer({ ...base, toTag: randomToken(), requestId });
    if (req.method === 'INVITE') this.ctx.txns.respond(txn, 100, this.ctx.edgeResponse(req, 100, undefined));
    const app = this.ctx.pickApp(req.method);
    if (!app) {
      // OPTIONS 200 (health checks), BYE 481 (RFC 3261 15.1.2), others 405/501/481/503.
      answerUnrouted(this.ctx, txn);
      return;
    }
    txn.owner = app;
    this.ctx.toApp(
      app,
      `sip|network|${txn.receivedLength}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${txn.id}||${this.ctx.o.advertised}|${this.ctx.portFor(inb.transport)}|`,
      raw,
    );
  }

  private onAck(
    req: SipRequest,
    raw: Buffer,
    inb: Inbound,
    inviteKey: string,
    callId: string,
    fromTag: string,
    toTag: string | undefined,
    seq: number,
  ): void {
    // ACK of a non-2xx final: same branch as the INVITE, ends the server transaction (17.2.1).
    const invite = this.ctx.txns.findServer(inviteKey);
    if (invite && invite.state === 'completed') {
      this.ctx.txns.acknowledged(invite);
      return;
    }
    if (!toTag) return;
    const dialog = this.dialogs.store.find(callId, toTag, fromTag);
    if (!dialog) {
      this.ctx.o.log.debug({ callId }, 'ACK for no known dialog dropped');
      return;
    }
    // The ACK names its INVITE by CSeq: it stops that 2xx's retransmissions and no other's.
    const pending = this.dialogs.takeAck(dialog, seq);
    if (!pending || !this.ctx.txns.acknowledged(pending)) return; // a retransmitted ACK
    dialog.state = 'confirmed';
    // With its transport, as drachtio-server sends it: an ACK may bring an SDP answer with SRTP
    // keys, which SRS_SDES_REQUIRE_TLS takes only over TLS.
    this.ctx.toApp(
      this.ctx.pickApp('ACK', dialog.owner),
      `sip|network|${inb.data.length}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${pending.id}|${dialog.id}|`,
      raw,
    );
  }

  private onCancel(
    req: SipRequest,
    raw: Buffer,
    inb: Inbound,
    inviteKey: string,
    base: { key: string; request: SipRequest; raw: Buffer; receivedLength: number; peer: Peer },
  ): void {
    const invite = this.ctx.txns.findServer(inviteKey);
    const txn = this.ctx.txns.createServer({ ...base, toTag: invite?.toTag ?? randomToken() });
    if (!invite) {
      this.ctx.txns.respond(txn, 481, this.ctx.edgeResponse(req, 481, txn.toTag));
      return;
    }
    this.ctx.txns.respond(txn, 200, this.ctx.edgeResponse(req, 200, txn.toTag));
    if (invite.state !== 'proceeding') return;
    // RFC 3261 9.2: the app learns of it as drachtio-server tells it, by the CANCEL itself
    // (drachtio-srf then emits 'cancel' on the pending request). An INVITE that makes a dialog
    // ends here with 487. A re-INVITE is the app's to end: it may have applied the offer already,
    // and then its 200 stands (the CANCEL has no effect, section 9.2); else it answers 487. A 487
    // from here could cross an applied change, leaving the SRC and the recorder disagreeing.
    invite.canceled = true;
    if (!getTag(getHeader(invite.request, 'to'))) {
      this.ctx.txns.respond(invite, 487, this.ctx.edgeResponse(invite.request, 487, invite.toTag));
      if (invite.dialogId) {
        const d = this.dialogs.store.findById(invite.dialogId);
        if (d && d.state === 'early') this.dialogs.store.remove(d);
      }
    }
    this.ctx.toApp(
      invite.owner as AppConn | undefined,
      `sip|network|${inb.data.length}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${txn.id}||${this.ctx.o.advertised}|${this.ctx.portFor(inb.transport)}|`,
      raw,
    );
  }

  appResponse(conn: AppConn, msgId: string, txnId: string, app: SipResponse): void {
    const txn = this.ctx.txns.findServerById(txnId);
    if (!txn || txn.state !== 'proceeding') {
      conn.reply(msgId, `NOK|transaction ${txnId} not found or already completed`);
      return;
    }
    const req = txn.request;
    const status = app.status;
    const out = completeResponse(this.ctx, txn, app);
    const sent = serializeMessage(out);
    if (txn.peer.transport === 'udp' && sent.length > maxUdpPayload(txn.peer.address)) {
      refuseOversizeUdp(this.ctx, this.dialogs, conn, msgId, txn, status, sent.length);
      return;
    }
    let dialog = txn.dialogId ? this.dialogs.store.findById(txn.dialogId) : undefined;
    // Only an INVITE outside a dialog makes one: a 2xx to a re-INVITE whose dialog a BYE ended
    // meanwhile must not bring it back (it would then live on with no app behind it).
    if (!dialog && !txn.dialogId && req.method === 'INVITE' && status > 100 && status < 300) {
      dialog = this.dialogs.createUasDialog(txn, out, conn);
      txn.dialogId = dialog.id;
    }
    this.ctx.txns.respond(txn, status, sent);

    if (req.method === 'INVITE' && dialog) {
      if (status >= 200 && status < 300) {
        dialog.state = dialog.state === 'early' ? 'confirmed' : dialog.state;
        const d = dialog;
        const seq = parseCSeq(getHeader(req, 'cseq')).seq;
        this.dialogs.expectAck(d, seq, txn);
        txn.onAckTimeout = () => this.dialogs.ackTimeout(d, seq, txn);
      } else if (status >= 300 && dialog.state === 'early') {
        this.dialogs.store.remove(dialog);
      }
    }
    if (req.method === 'BYE' && status >= 200 && status < 300 && dialog) this.dialogs.endDialog(dialog);

    const transport = req.method === 'INVITE' ? txn.peer.transport : '';
    const dialogId = req.method === 'INVITE' && dialog ? dialog.id : '';
    conn.reply(
      msgId,
      `OK|application|${sent.length}|${transport}|${txn.peer.address}|${txn.peer.port}|${stamp()}|${txn.id}|${dialogId}||Msg sent:|\r\n${sent.toString('utf8')}`,
    );
  }

  /** An app connection went away: answer what it left unanswered. */
  onAppClose(conn: AppConn): void {
    for (const txn of this.ctx.txns.pendingServers()) {
      if (txn.owner !== conn) continue;
      this.ctx.txns.respond(txn, 503, this.ctx.edgeResponse(txn.request, 503, txn.toTag));
    }
  }
}
