/**
 * Answers the edge gives itself on the server side, where RFC 3261 decides before any app: a
 * request no app takes (405, 501, 481), a re-INVITE that overlaps another INVITE in its dialog
 * (500 with Retry-After, 491), and an app's response too large for the UDP datagram it must go in.
 */
import net from 'node:net';
import type { AppConn } from './control.js';
import { ALLOW } from './context.js';
import type { EdgeContext } from './context.js';
import type { DialogLayer } from './dialog-layer.js';
import type { Dialog } from './dialogs.js';
import { getHeader } from './message.js';
import type { ServerTxn } from './transactions.js';

/** Methods of RFC 3261 and its extensions (3262, 3265/6665, 3311, 3428, 3515, 3903, 6086). */
const KNOWN_METHODS = new Set([
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
]);

/** Methods that only make sense inside a dialog (or a subscription): 481 outside one. */
const DIALOG_ONLY = new Set(['BYE', 'UPDATE', 'INFO', 'PRACK', 'NOTIFY']);

/** The largest UDP payload: 65,535 less the IP and UDP headers (IPv6 has no header in its length). */
export function maxUdpPayload(address: string): number {
  return net.isIPv6(address) ? 65_527 : 65_507;
}

/**
 * A request outside a dialog that no app has a route for. OPTIONS gets 200 (health checks), an
 * INVITE 503 (no app to take calls now), a method used only in dialogs 481, another known method
 * 405 with Allow (RFC 3261 8.2.1), an unknown one 501 (21.5.2). A 503 for these would read as
 * "overloaded" and send SRCs and proxies to fail over (RFC 3263).
 */
export function answerUnrouted(ctx: EdgeContext, txn: ServerTxn): void {
  const req = txn.request;
  const m = req.method;
  const respond = (status: number, extra: { name: string; value: string }[] = []): void =>
    ctx.txns.respond(txn, status, ctx.edgeResponse(req, status, txn.toTag, extra));
  if (m === 'OPTIONS')
    respond(200, [
      { name: 'Allow', value: ALLOW },
      { name: 'Accept', value: 'application/sdp, multipart/mixed' },
    ]);
  else if (m === 'INVITE') {
    ctx.o.log.warn(
      { method: m, callId: getHeader(req, 'call-id') },
      'no application for request; answering 503',
    );
    respond(503);
  } else if (DIALOG_ONLY.has(m)) respond(481);
  else if (KNOWN_METHODS.has(m)) respond(405, [{ name: 'Allow', value: ALLOW }]);
  else respond(501, [{ name: 'Allow', value: ALLOW }]);
}

/**
 * RFC 3261 14.2: a re-INVITE that arrives while an earlier INVITE of the dialog still awaits its
 * final response gets 500 with a Retry-After of 0 to 10 s; while an INVITE the app sent in the
 * dialog is pending, 491 (glare). Answered here, so the app never holds two offers at once.
 * True when the re-INVITE was answered.
 */
export function overlappingInvite(
  ctx: EdgeContext,
  dialogs: DialogLayer,
  txn: ServerTxn,
  dialog: Dialog,
): boolean {
  const req = txn.request;
  const earlier = ctx.txns
    .pendingServers()
    .some((t) => t !== txn && t.method === 'INVITE' && t.dialogId === dialog.id);
  if (earlier) {
    ctx.o.log.info({ callId: dialog.callId }, 're-INVITE while another is pending; answering 500');
    const retry = String(Math.floor(Math.random() * 11));
    ctx.txns.respond(
      txn,
      500,
      ctx.edgeResponse(req, 500, txn.toTag, [{ name: 'Retry-After', value: retry }]),
    );
    return true;
  }
  if (dialogs.ownInvitePending(dialog)) {
    ctx.o.log.info({ callId: dialog.callId }, 're-INVITE while ours is pending; answering 491');
    ctx.txns.respond(txn, 491, ctx.edgeResponse(req, 491, txn.toTag));
    return true;
  }
  return false;
}

/**
 * An app's response that does not fit the UDP datagram it must go back in (RFC 3261 18.2.2: the
 * way the request came). Sent, it would fail at every retransmission and the SRC would see only
 * 100 Trying while the call held its ports. The SRC gets 513 with a Warning instead, the app NOK
 * (an INVITE's recording then ends unanswered), and a dialog the response was in is ended with a
 * BYE: the app may have applied the offer that the SRC now takes as refused.
 */
export function refuseOversizeUdp(
  ctx: EdgeContext,
  dialogs: DialogLayer,
  conn: AppConn,
  msgId: string,
  txn: ServerTxn,
  appStatus: number,
  bytes: number,
): void {
  const dialog = txn.dialogId ? dialogs.store.findById(txn.dialogId) : undefined;
  ctx.o.log.error(
    {
      callId: dialog?.callId,
      method: txn.method,
      status: appStatus,
      bytes,
      remoteAddress: txn.peer.address,
      remotePort: txn.peer.port,
    },
    'sip response too large for a UDP datagram; answering 513 and ending the call (the SRC should use TCP)',
  );
  const warning = `399 ${ctx.o.advertised} "the ${appStatus} response (${bytes} bytes) does not fit a UDP datagram; use TCP"`;
  ctx.txns.respond(
    txn,
    513,
    ctx.edgeResponse(txn.request, 513, txn.toTag, [{ name: 'Warning', value: warning }]),
  );
  conn.reply(msgId, `NOK|response of ${bytes} bytes is too large for UDP`);
  if (dialog && appStatus < 300)
    dialogs.byeFromEdge(dialog, 'SIP;cause=513;text="response too large for UDP"');
}
