/**
 * Dialogs the edge holds for its apps (RFC 3261 section 12): creating them from a 2xx on either
 * side, sending requests inside them on client transactions, waiting for the ACK of a 2xx the
 * edge sent (BYE on Timer H), and ending them.
 */
import type { AppConn } from './control.js';
import type { EdgeContext } from './context.js';
import { hostPort, stamp } from './context.js';
import { DialogStore, inDialogHeaders, newBranch } from './dialogs.js';
import type { Dialog } from './dialogs.js';
import {
  getHeader,
  getHeaders,
  getTag,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  serializeMessage,
} from './message.js';
import type { SipHeader, SipRequest, SipResponse } from './message.js';
import type { ClientTxn, Peer, ServerTxn } from './transactions.js';
import { dialogPeer } from './resolve.js';
import { ByeFallback } from './bye-fallback.js';

export class DialogLayer {
  readonly store = new DialogStore();
  /**
   * INVITE server transactions whose 2xx awaits an ACK, by dialog id and CSeq number: the ACK of
   * one re-INVITE's 2xx must not stop another's retransmissions (its CSeq tells them apart).
   */
  private readonly awaitingAck = new Map<string, ServerTxn>();
  /** Dialog id -> INVITE client transaction whose 2xx the app will ACK. */
  readonly uacInvites = new Map<string, ClientTxn>();
  /** Where a BYE goes when its remote target fails, and the counts of what followed. */
  readonly byeFallback: ByeFallback;

  constructor(private readonly ctx: EdgeContext) {
    this.byeFallback = new ByeFallback(ctx.o.log, ctx.o.hasConnection);
  }

  clear(): void {
    this.store.clear();
    this.awaitingAck.clear();
    this.uacInvites.clear();
  }

  createUasDialog(txn: ServerTxn, out: SipResponse, conn: AppConn): Dialog {
    const req = txn.request;
    const callId = getHeader(req, 'call-id') ?? '';
    const from = getHeader(req, 'from') ?? '';
    const contact = getHeader(req, 'contact');
    let remoteTarget = '';
    try {
      remoteTarget = contact ? parseNameAddr(contact).uri : '';
    } catch {
      /* no usable Contact: requests go back to the source address */
    }
    if (!remoteTarget) remoteTarget = `sip:${hostPort(txn.peer.address, txn.peer.port)}`;
    const seq = parseCSeq(getHeader(req, 'cseq')).seq;
    // drachtio's dialog id names the Call-ID and From tag only. A second call that reuses both with
    // a new CSeq while the first dialog lives (an SRC retrying with the same Call-ID) is a dialog of
    // its own (RFC 3261 section 12: the To tag tells them apart), so its id names the To tag too:
    // under one id, the first call's BYE would end the second's recording.
    const plain = `${callId};from-tag=${getTag(from) ?? ''}`;
    const d: Dialog = {
      id: this.store.findById(plain) ? `${plain};to-tag=${txn.toTag}` : plain,
      callId,
      localTag: txn.toTag,
      remoteTag: getTag(from) ?? '',
      local: getHeader(out, 'to') ?? '',
      remote: from,
      remoteTarget,
      routeSet: getHeaders(req, 'record-route'),
      // drachtio-server numbers its first request in the dialog one above the INVITE's CSeq.
      localCseq: seq,
      remoteCseq: seq,
      peer: txn.peer,
      ...(txn.source ? { source: txn.source } : {}),
      owner: conn,
      state: 'early',
      ...(txn.requestId !== undefined ? { createdBy: { requestId: txn.requestId, txnKey: txn.key } } : {}),
    };
    this.store.add(d);
    return d;
  }

  createUacDialog(
    req: SipRequest,
    raw: Buffer,
    peer: Peer,
    conn: AppConn,
    cseq: number,
    txn: ClientTxn,
  ): Dialog | undefined {
    try {
      const res = parseMessage(raw);
      const callId = getHeader(req, 'call-id') ?? '';
      const from = getHeader(req, 'from') ?? '';
      const to = getHeader(res, 'to') ?? '';
      const localTag = getTag(from) ?? '';
      const remoteTag = getTag(to);
      if (!remoteTag) return undefined;
      const existing = this.store.find(callId, localTag, remoteTag);
      if (existing) return existing;
      const contact = getHeader(res, 'contact');
      const d: Dialog = {
        id: `${callId};from-tag=${localTag}`,
        callId,
        localTag,
        remoteTag,
        local: from,
        remote: to,
        remoteTarget: contact ? parseNameAddr(contact).uri : req.uri,
        // RFC 3261 12.1.2: the UAC's route set is the Record-Route of the response, reversed.
        routeSet: getHeaders(res, 'record-route').reverse(),
        localCseq: cseq,
        remoteCseq: 0,
        peer,
        owner: conn,
        state: 'confirmed',
        lastInviteCseq: cseq,
      };
      this.store.add(d);
      this.uacInvites.set(d.id, txn);
      return d;
    } catch {
      return undefined;
    }
  }

  /** A 2xx to the INVITE with CSeq `seq` was sent in the dialog: its ACK is awaited. */
  expectAck(d: Dialog, seq: number, txn: ServerTxn): void {
    this.awaitingAck.set(`${d.id}\n${seq}`, txn);
  }

  /** The transaction whose 2xx the ACK with CSeq `seq` acknowledges (then no longer awaited). */
  takeAck(d: Dialog, seq: number): ServerTxn | undefined {
    const k = `${d.id}\n${seq}`;
    const txn = this.awaitingAck.get(k);
    this.awaitingAck.delete(k);
    return txn;
  }

  /** An INVITE the edge sent for the app in this dialog still awaits its final response. */
  ownInvitePending(d: Dialog): boolean {
    const t = this.uacInvites.get(d.id);
    return !!t && (t.state === 'calling' || t.state === 'proceeding');
  }

  endDialog(d: Dialog): void {
    this.store.remove(d);
    for (const [k, pending] of this.awaitingAck) {
      if (!k.startsWith(`${d.id}\n`)) continue;
      this.awaitingAck.delete(k);
      this.ctx.txns.acknowledged(pending);
    }
    this.uacInvites.delete(d.id);
  }

  /** Timer H over a 2xx: BYE the caller and tell the app, as drachtio-server does. */
  ackTimeout(d: Dialog, seq: number, txn: ServerTxn): void {
    if (this.awaitingAck.get(`${d.id}\n${seq}`) !== txn) return;
    this.awaitingAck.delete(`${d.id}\n${seq}`);
    this.ctx.o.log.warn({ callId: d.callId }, 'no ACK for 2xx within 64*T1; sending BYE');
    this.byeFromEdge(d, 'SIP;cause=200;text="ACK timeout"');
  }

  /** End a dialog from the edge: BYE the caller with this Reason and tell the app of the BYE. */
  byeFromEdge(d: Dialog, reason: string): void {
    const extra: SipHeader[] = [
      { name: 'Reason', value: reason },
      { name: 'Content-Length', value: '0' },
    ];
    void this.sendInDialog(d, 'BYE', extra, Buffer.alloc(0), undefined)
      .then(({ sent, peer }) => {
        this.ctx.toApp(
          this.ctx.pickApp('BYE', d.owner),
          `sip|application|${sent.length}|${peer.transport}|${this.ctx.o.advertised}|${this.ctx.port}|${stamp()}|unsolicited|${d.id}|`,
          sent,
        );
      })
      .catch((err: unknown) =>
        this.ctx.o.log.error({ err: String(err), callId: d.callId }, 'failed to send BYE'),
      )
      .finally(() => this.endDialog(d));
  }

  resolvePeer(d: Dialog): Promise<Peer> {
    return dialogPeer(d, this.ctx.o.hasConnection);
  }

  /**
   * Build and send a request within a dialog on a client transaction; `onResponse` gets
   * each response (the first copy) and synthesized 408 on timeout. A BYE whose remote target
   * fails (does not resolve, a transport error, a timeout, a 408) is resent once to the INVITE's
   * source (bye-fallback.ts); its responses are reported under the first transaction.
   */
  async sendInDialog(
    d: Dialog,
    method: string,
    extra: SipHeader[],
    body: Buffer,
    onResponse: ((txn: ClientTxn, status: number, raw: Buffer) => void) | undefined,
    owner?: AppConn,
  ): Promise<{ sent: Buffer; peer: Peer; txn?: ClientTxn }> {
    const bye = method === 'BYE';
    let peer: Peer;
    let atSource = false;
    try {
      peer = await this.resolvePeer(d);
    } catch (err) {
      const to = bye ? this.byeFallback.target(d, undefined, String((err as Error).message)) : undefined;
      if (!to) throw err;
      peer = to;
      atSource = true;
    }
    const compose = (to: Peer): { msg: SipRequest; sent: Buffer; branch: string } => {
      const branch = newBranch();
      const cseq = method === 'ACK' ? (d.lastInviteCseq ?? d.localCseq) : ++d.localCseq;
      if (method === 'INVITE') d.lastInviteCseq = cseq;
      const headers = inDialogHeaders(d, method, cseq, this.ctx.ourVia(to.transport, branch), extra);
      const msg: SipRequest = { type: 'request', method, uri: d.remoteTarget, version: '2.0', headers, body };
      return { msg, sent: serializeMessage(msg), branch };
    };
    const first = compose(peer);
    if (method === 'ACK') {
      this.ctx.o.send(peer, first.sent);
      const inv = this.uacInvites.get(d.id);
      if (inv) inv.ack = first.sent;
      return { sent: first.sent, peer };
    }
    let reportAs: ClientTxn | undefined;
    const attempt = (to: Peer, m: { msg: SipRequest; sent: Buffer; branch: string }): ClientTxn => {
      // The BYE failed here: once more to the INVITE's source, if this was not already it.
      const retried = (t: ClientTxn, why: string): boolean => {
        if (!bye || atSource) return false;
        const again = this.byeFallback.target(d, to, why);
        if (!again) return false;
        atSource = true;
        reportAs ??= t;
        try {
          attempt(again, compose(again));
        } catch (err) {
          this.ctx.o.log.warn({ callId: d.callId, err: String(err) }, 'BYE could not be resent');
          return false;
        }
        return true;
      };
      // `answered`: a response from the network, not a timeout or a transport error.
      const final = (t: ClientTxn, status: number, raw: Buffer, answered = true): void => {
        if (bye) {
          if (atSource) this.byeFallback.outcome(d, answered ? status : 0);
          this.endDialog(d);
        }
        onResponse?.(reportAs ?? t, status, raw);
      };
      return this.ctx.txns.sendRequest(
        { branch: m.branch, method, peer: to, request: m.sent, owner, dialogId: d.id },
        {
          onResponse: (t, status, raw) => {
            if (status < 200) onResponse?.(reportAs ?? t, status, raw);
            else if (!(status === 408 && retried(t, '408 response'))) final(t, status, raw);
          },
          onTimeout: (t) => {
            if (!retried(t, 'timeout')) final(t, 408, this.ctx.synthesize408(m.msg), false);
          },
          ...(bye
            ? {
                onTransportError: (t: ClientTxn, err: Error) => {
                  if (!retried(t, err.message)) final(t, 408, this.ctx.synthesize408(m.msg), false);
                },
              }
            : {}),
          buildNon2xxAck: (_t, raw) => this.ctx.non2xxAck(m.msg, raw),
        },
      );
    };
    const txn = attempt(peer, first);
    if (method === 'INVITE') this.uacInvites.set(d.id, txn);
    return { sent: first.sent, peer, txn };
  }
}
