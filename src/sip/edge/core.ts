/**
 * The SIP core of the edge: joins the network side (transport, transactions, dialogs) to the
 * applications connected over the drachtio protocol, completing responses and in-dialog
 * requests the way drachtio-server 0.9 does. It composes the server side (server-side.ts), the
 * client side (client-side.ts) and the dialogs (dialog-layer.ts) over what they share
 * (context.ts); where requests go (DNS) is in resolve.ts.
 */
import { ParseError } from '../../errors.js';
import type { ByeFallbackCounters } from './bye-fallback.js';
import { ClientSide } from './client-side.js';
import { EdgeContext } from './context.js';
import type { CoreOptions } from './context.js';
import type { AppConn } from './control.js';
import { DialogLayer } from './dialog-layer.js';
import { parseMessage } from './message.js';
import type { SipMessage } from './message.js';
import { ServerSide } from './server-side.js';
import type { Inbound, TransportName } from './transport.js';

export type { CoreOptions } from './context.js';

export class EdgeCore {
  private readonly ctx: EdgeContext;
  private readonly dialogs: DialogLayer;
  private readonly server: ServerSide;
  private readonly client: ClientSide;

  constructor(o: CoreOptions) {
    this.ctx = new EdgeContext(o);
    this.dialogs = new DialogLayer(this.ctx);
    this.server = new ServerSide(this.ctx, this.dialogs);
    this.client = new ClientSide(this.ctx, this.dialogs);
  }

  /** What followed BYEs whose remote target failed (bye-fallback.ts), for /metrics. */
  get byeFallback(): Readonly<ByeFallbackCounters> {
    return this.dialogs.byeFallback.counters;
  }

  close(): void {
    this.ctx.txns.clear();
    this.dialogs.clear();
  }

  onNetwork(inb: Inbound): void {
    if (inb.refused) {
      this.server.onUnparseable(inb, inb.refused.reason, inb.refused.status);
      return;
    }
    let msg: SipMessage;
    try {
      msg = parseMessage(inb.data);
    } catch (err) {
      this.server.onUnparseable(inb, err instanceof ParseError ? err.message : String(err));
      return;
    }
    try {
      if (msg.type === 'response') this.client.onNetworkResponse(msg, inb);
      else this.server.onNetworkRequest(msg, inb);
    } catch (err) {
      if (err instanceof ParseError) this.server.onUnparseable(inb, err.message);
      else
        this.ctx.o.log.error(
          { err: String(err), stack: (err as Error).stack },
          'failed to handle sip message',
        );
    }
  }

  onAppSip(conn: AppConn, msgId: string, leader: string[], sip: string): void {
    const txnId = leader[2] ?? '';
    const dialogId = leader[3] ?? '';
    let msg: SipMessage;
    try {
      msg = parseMessage(Buffer.from(sip, 'utf8'), { ignoreContentLength: true });
    } catch (err) {
      conn.reply(msgId, `NOK|unable to parse sip message: ${String((err as Error).message)}`);
      return;
    }
    if (msg.type === 'response') this.server.appResponse(conn, msgId, txnId, msg);
    else if (dialogId) void this.client.appInDialogRequest(conn, msgId, dialogId, msg);
    else if (msg.method === 'CANCEL' && txnId) this.client.appCancel(conn, msgId, txnId);
    else void this.client.appNewRequest(conn, msgId, msg);
  }

  /** Whether a dialog not yet ended has this peer (the connection it came on, or we opened). */
  carriesDialog(transport: TransportName, address: string, port: number): boolean {
    return this.dialogs.store
      .all()
      .some(
        (d) =>
          d.state !== 'terminated' &&
          d.peer.transport === transport &&
          d.peer.address === address &&
          d.peer.port === port,
      );
  }

  /** An app connection went away: answer what it left unanswered. */
  onAppClose(conn: AppConn): void {
    this.server.onAppClose(conn);
  }
}
