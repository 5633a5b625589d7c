/**
 * The edge's client side: responses from the network matched to client transactions, and the
 * requests apps send (in a dialog or new), completed the way drachtio-server 0.9 completes them.
 */
import type { AppConn } from './control.js';
import { hostPort, stamp } from './context.js';
import type { EdgeContext } from './context.js';
import type { DialogLayer } from './dialog-layer.js';
import { newBranch, randomToken } from './dialogs.js';
import { getHeader, getHeaders, getParam, getTag, parseCSeq, parseVia, serializeMessage } from './message.js';
import type { SipHeader, SipRequest, SipResponse } from './message.js';
import type { Inbound } from './transport.js';
import { uriPeer } from './resolve.js';

export class ClientSide {
  constructor(
    private readonly ctx: EdgeContext,
    private readonly dialogs: DialogLayer,
  ) {}

  onNetworkResponse(res: SipResponse, inb: Inbound): void {
    const via = parseVia(getHeader(res, 'via') ?? '');
    const branch = getParam(via.params, 'branch') ?? '';
    const cseq = parseCSeq(getHeader(res, 'cseq'));
    if (!this.ctx.txns.receiveResponse(branch, cseq.method, res.status, inb.data)) {
      this.ctx.o.log.debug({ status: res.status, branch }, 'stray sip response dropped');
    }
  }

  async appInDialogRequest(conn: AppConn, msgId: string, dialogId: string, app: SipRequest): Promise<void> {
    const d = this.dialogs.store.findById(dialogId);
    if (!d || d.state === 'terminated') {
      conn.reply(msgId, `NOK|unable to find dialog for ${app.method} with id ${dialogId}`);
      return;
    }
    try {
      // A target that does not resolve: sendInDialog decides (a BYE goes to the INVITE's source).
      const transport = await this.dialogs.resolvePeer(d).then(
        (p) => p.transport,
        () => (d.source ?? d.peer).transport,
      );
      const extra = this.ctx.requestExtras(app, transport);
      const { sent, peer, txn } = await this.dialogs.sendInDialog(
        d,
        app.method,
        extra,
        app.body,
        (t, _status, raw) => {
          this.ctx.toApp(
            conn,
            `sip|network|${raw.length}|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${t.id}|${d.id}|`,
            raw,
          );
        },
        conn,
      );
      conn.reply(
        msgId,
        `OK|application|${sent.length}|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${txn?.id ?? ''}|${d.id}||Msg sent:|\r\n${sent.toString('utf8')}`,
      );
    } catch (err) {
      // A BYE that cannot go out (no route to the SRC at all) still ends the dialog, as
      // the app has ended its side: kept, a later request in it would reach the app as a new
      // INVITE (drachtio-srf knows no such dialog) and start a second recording. Now it gets 481.
      if (app.method === 'BYE') {
        this.ctx.o.log.warn(
          { callId: d.callId, err: String((err as Error).message) },
          'BYE could not be sent; the dialog ends here',
        );
        this.dialogs.endDialog(d);
      }
      conn.reply(msgId, `NOK|failed to send ${app.method}: ${String((err as Error).message)}`);
    }
  }

  appCancel(conn: AppConn, msgId: string, txnId: string): void {
    // Cancelling an app-originated INVITE is not offered by the embedded edge (SRS is a UAS).
    conn.reply(msgId, `NOK|CANCEL of transaction ${txnId} is not supported by the embedded SIP edge`);
  }

  /** An out-of-dialog request from the app (Srf#request / createUAC): fill what drachtio fills. */
  async appNewRequest(conn: AppConn, msgId: string, app: SipRequest): Promise<void> {
    try {
      const peer = await uriPeer(app.uri);
      const transport = peer.transport;
      const branch = newBranch();
      const localTag = randomToken();
      const fromApp = getHeader(app, 'from');
      const from = fromApp
        ? getTag(fromApp)
          ? fromApp
          : `${fromApp};tag=${localTag}`
        : `<sip:${hostPort(this.ctx.o.advertised, this.ctx.port)}>;tag=${localTag}`;
      const to = getHeader(app, 'to') ?? `<${app.uri}>`;
      const callId = getHeader(app, 'call-id') ?? `${randomToken(20)}@${this.ctx.o.advertised}`;
      const cseqNum = Number(/^\s*(\d+)/.exec(getHeader(app, 'cseq') ?? '')?.[1] ?? 1);
      const headers: SipHeader[] = [
        { name: 'Via', value: this.ctx.ourVia(transport, branch) },
        ...getHeaders(app, 'route').map((r) => ({ name: 'Route', value: r })),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: from },
        { name: 'To', value: to },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${cseqNum} ${app.method}` },
        ...this.ctx.requestExtras(app, transport),
      ];
      const msg: SipRequest = {
        type: 'request',
        method: app.method,
        uri: app.uri,
        version: '2.0',
        headers,
        body: app.body,
      };
      const sent = serializeMessage(msg);
      const txn = this.ctx.txns.sendRequest(
        { branch, method: app.method, peer, request: sent, owner: conn },
        {
          onResponse: (tx, status, raw) => {
            let dialogId = '';
            if (app.method === 'INVITE' && status > 100 && status < 300) {
              dialogId = this.dialogs.createUacDialog(msg, raw, peer, conn, cseqNum, tx)?.id ?? '';
            }
            this.ctx.toApp(
              conn,
              `sip|network|${raw.length}|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${tx.id}|${dialogId}|`,
              raw,
            );
          },
          onTimeout: (tx) => {
            this.ctx.toApp(
              conn,
              `sip|network|0|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${tx.id}||`,
              this.ctx.synthesize408(msg),
            );
          },
          buildNon2xxAck: (_tx, raw) => this.ctx.non2xxAck(msg, raw),
        },
      );
      conn.reply(
        msgId,
        `OK|application|${sent.length}|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${txn.id}|||Msg sent:|\r\n${sent.toString('utf8')}`,
      );
    } catch (err) {
      conn.reply(msgId, `NOK|failed to send ${app.method}: ${String((err as Error).message)}`);
    }
  }
}
