/**
 * The SIP core of the edge: joins the network side (transport, transactions, dialogs) to the
 * applications connected over the drachtio protocol, completing responses and in-dialog
 * requests the way drachtio-server 0.9 does. Where requests go (DNS) is in resolve.ts.
 */
import net from 'node:net';
import { ParseError } from '../../errors.js';
import type { AppConn } from './control.js';
import { DialogStore, inDialogHeaders, newBranch, randomToken } from './dialogs.js';
import type { Dialog } from './dialogs.js';
import {
  canonicalName,
  displayName,
  getHeader,
  getHeaders,
  getParam,
  getTag,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseSipUri,
  parseVia,
  serializeMessage,
  splitList,
  stringifyVia,
} from './message.js';
import type { SipHeader, SipMessage, SipRequest, SipResponse } from './message.js';
import { TransactionLayer, serverKey } from './transactions.js';
import type { ClientTxn, Peer, ServerTxn, Timers } from './transactions.js';
import type { Inbound, TransportName } from './transport.js';
import type { EdgeLogger } from './types.js';
import { dialogPeer, uriPeer } from './resolve.js';

export interface CoreOptions {
  log: EdgeLogger;
  timers: Timers;
  /** Address put in Via, Contact and hostports. */
  advertised: string;
  port: () => number;
  /** Bound TLS port (0 when TLS is off). */
  tlsPort?: () => number;
  send: (peer: Peer, data: Buffer) => void;
  hasConnection: (address: string, port: number) => boolean;
  appsFor: (method: string) => AppConn[];
}

/** Headers the edge writes itself; an app's copy of them is ignored or merged. */
const EDGE_OWNED = new Set([
  'via',
  'from',
  'to',
  'call-id',
  'cseq',
  'contact',
  'content-length',
  'content-type',
  'record-route',
  'route',
  'max-forwards',
]);

/** Standard headers: written before Content-Type/Content-Length, extension headers after. */
const KNOWN = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'alert-info',
  'allow',
  'allow-events',
  'authentication-info',
  'authorization',
  'call-info',
  'content-disposition',
  'content-encoding',
  'content-language',
  'date',
  'error-info',
  'event',
  'expires',
  'in-reply-to',
  'mime-version',
  'min-expires',
  'min-se',
  'organization',
  'priority',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-require',
  'rack',
  'reason',
  'refer-to',
  'referred-by',
  'reply-to',
  'require',
  'retry-after',
  'rseq',
  'server',
  'session-expires',
  'subject',
  'subscription-state',
  'supported',
  'timestamp',
  'unsupported',
  'user-agent',
  'warning',
  'www-authenticate',
]);

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, NOTIFY, MESSAGE, REFER';
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE']);
const CONTACT_METHODS = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);
const REASONS: Record<number, string> = {
  100: 'Trying',
  200: 'OK',
  400: 'Bad Request',
  408: 'Request Timeout',
  481: 'Call/Transaction Does Not Exist',
  487: 'Request Terminated',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
};

/** drachtio's timestamp in leader lines: `HH:MM:SS.uuuuuu`. */
function stamp(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

function hostPort(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Split an app's headers into the standard ones and extension ones, dropping edge-owned ones. */
function appHeaders(msg: SipMessage): { known: SipHeader[]; extension: SipHeader[] } {
  const known: SipHeader[] = [];
  const extension: SipHeader[] = [];
  for (const h of msg.headers) {
    const c = canonicalName(h.name);
    if (EDGE_OWNED.has(c)) continue;
    if (KNOWN.has(c)) known.push({ name: displayName(c), value: h.value });
    else extension.push({ name: h.name, value: h.value });
  }
  return { known, extension };
}

export class EdgeCore {
  readonly txns: TransactionLayer;
  readonly dialogs = new DialogStore();
  /** Dialog id -> INVITE server transaction whose 2xx awaits an ACK. */
  private readonly awaitingAck = new Map<string, ServerTxn>();
  /** Dialog id -> INVITE client transaction whose 2xx the app will ACK. */
  private readonly uacInvites = new Map<string, ClientTxn>();
  private rr = 0;

  constructor(private readonly o: CoreOptions) {
    this.txns = new TransactionLayer(o.timers, o.send);
  }

  close(): void {
    this.txns.clear();
    this.dialogs.clear();
    this.awaitingAck.clear();
    this.uacInvites.clear();
  }

  private get port(): number {
    return this.o.port();
  }

  /** The port a transport listens on: TLS has its own (5061), UDP and TCP share one. */
  private portFor(transport: TransportName | ''): number {
    return transport === 'tls' ? (this.o.tlsPort?.() ?? this.port) : this.port;
  }

  private ourContact(transport: TransportName): string {
    const param = transport === 'udp' ? '' : `;transport=${transport}`;
    return `<sip:${hostPort(this.o.advertised, this.portFor(transport))}${param}>`;
  }

  private ourVia(transport: TransportName, branch: string): string {
    return `SIP/2.0/${transport.toUpperCase()} ${hostPort(this.o.advertised, this.portFor(transport))};rport;branch=${branch}`;
  }

  /**
   * The Contact for a message the app sent: the app's own Contact when it names a real host,
   * otherwise ours; a Contact of parameters only (`;+sip.srs`) is merged into ours.
   */
  private mergeContact(app: string | undefined, transport: TransportName): string {
    const ours = this.ourContact(transport);
    if (!app || !app.trim()) return ours;
    const v = app.trim();
    if (v.startsWith(';')) return ours + v;
    try {
      const na = parseNameAddr(v);
      const uri = parseSipUri(na.uri);
      if (['placeholder', 'localhost', '0.0.0.0', 'invalid'].includes(uri.host.toLowerCase())) {
        const user = uri.user !== undefined ? `${uri.user}@` : '';
        const params = uri.params.map(([k, val]) => (val === undefined ? `;${k}` : `;${k}=${val}`)).join('');
        const rest = na.params.map(([k, val]) => (val === undefined ? `;${k}` : `;${k}=${val}`)).join('');
        return `${na.display ? na.display + ' ' : ''}<${uri.scheme}:${user}${hostPort(this.o.advertised, this.port)}${params}>${rest}`;
      }
      return v;
    } catch {
      return ours;
    }
  }

  private toApp(conn: AppConn | undefined, leader: string, sip: Buffer | string): void {
    if (!conn || conn.closed) return;
    conn.send(`${leader}\r\n${typeof sip === 'string' ? sip : sip.toString('utf8')}`);
  }

  private pickApp(method: string, preferred?: unknown): AppConn | undefined {
    const p = preferred as AppConn | undefined;
    if (p && !p.closed) return p;
    const apps = this.o.appsFor(method);
    if (apps.length === 0) return undefined;
    return apps[this.rr++ % apps.length];
  }

  // ================================================================ from the network

  onNetwork(inb: Inbound): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(inb.data);
    } catch (err) {
      this.onUnparseable(inb, err instanceof ParseError ? err.message : String(err));
      return;
    }
    try {
      if (msg.type === 'response') this.onNetworkResponse(msg, inb);
      else this.onNetworkRequest(msg, inb);
    } catch (err) {
      if (err instanceof ParseError) this.onUnparseable(inb, err.message);
      else
        this.o.log.error({ err: String(err), stack: (err as Error).stack }, 'failed to handle sip message');
    }
  }

  /** Answer 400 when the head names enough to address a response; else drop it with a log line. */
  private onUnparseable(inb: Inbound, reason: string): void {
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
      this.o.log.warn({ ...where, reason }, 'dropped unparseable sip message');
      return;
    }
    this.o.log.warn({ ...where, reason }, 'answering malformed sip request with 400');
    const toBase = to || '<sip:invalid@invalid>';
    const toValue = getTag(toBase) ? toBase : `${toBase};tag=${randomToken()}`;
    const headers: SipHeader[] = [
      ...vias.map((v) => ({ name: 'Via', value: v })),
      { name: 'From', value: from || '<sip:invalid@invalid>' },
      { name: 'To', value: toValue },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: cseq },
      { name: 'Warning', value: `399 ${this.o.advertised} "${reason.replace(/["\\]/g, "'").slice(0, 120)}"` },
      { name: 'Content-Length', value: '0' },
    ];
    const res: SipResponse = {
      type: 'response',
      version: '2.0',
      status: 400,
      reason: 'Bad Request',
      headers,
      body: Buffer.alloc(0),
    };
    this.o.send(
      { transport: inb.transport, address: inb.remoteAddress, port: inb.remotePort },
      serializeMessage(res),
    );
  }

  /** A response the edge builds itself from a request (100, 481, 487, 503, OPTIONS 200...). */
  private edgeResponse(
    req: SipRequest,
    status: number,
    toTag: string | undefined,
    extra: SipHeader[] = [],
  ): Buffer {
    const headers: SipHeader[] = [];
    for (const h of req.headers)
      if (canonicalName(h.name) === 'via') headers.push({ name: 'Via', value: h.value });
    const to = getHeader(req, 'to') ?? '';
    headers.push(
      { name: 'From', value: getHeader(req, 'from') ?? '' },
      { name: 'To', value: toTag && !getTag(to) ? `${to};tag=${toTag}` : to },
      { name: 'Call-ID', value: getHeader(req, 'call-id') ?? '' },
      { name: 'CSeq', value: getHeader(req, 'cseq') ?? '' },
      ...extra,
      { name: 'Content-Length', value: '0' },
    );
    return serializeMessage({
      type: 'response',
      version: '2.0',
      status,
      reason: REASONS[status] ?? 'Unknown',
      headers,
      body: Buffer.alloc(0),
    });
  }

  private onNetworkRequest(req: SipRequest, inb: Inbound): void {
    // RFC 3261 8.2/16.3 minimum: a request we can answer needs these.
    const viaHeader = req.headers.find((h) => canonicalName(h.name) === 'via');
    if (!viaHeader) throw new ParseError('request without Via');
    const from = getHeader(req, 'from');
    const to = getHeader(req, 'to');
    const callId = getHeader(req, 'call-id');
    if (!from || !to || !callId) throw new ParseError('request lacks From, To or Call-ID');
    const cseq = parseCSeq(getHeader(req, 'cseq'));
    if (cseq.method !== req.method) throw new ParseError('CSeq method does not match the request');
    parseNameAddr(from);
    parseNameAddr(to);

    // RFC 3581 + RFC 3261 18.2.1: record where the request really came from in the top Via.
    const values = splitList(viaHeader.value);
    const via = parseVia(values[0] ?? '');
    if (via.host !== inb.remoteAddress) {
      const i = via.params.findIndex(([k]) => k === 'received');
      if (i === -1) via.params.push(['received', inb.remoteAddress]);
      else via.params[i] = ['received', inb.remoteAddress];
    }
    const ri = via.params.findIndex(([k]) => k === 'rport');
    if (ri === -1) via.params.push(['rport', String(inb.remotePort)]);
    else via.params[ri] = ['rport', String(inb.remotePort)];
    values[0] = stringifyVia(via);
    viaHeader.value = values.map((v) => v.trim()).join(', ');
    delete viaHeader.raw;
    const raw = serializeMessage(req);

    const peer: Peer = { transport: inb.transport, address: inb.remoteAddress, port: inb.remotePort };
    const branch = getParam(via.params, 'branch') ?? '';
    const sentBy = hostPort(via.host, via.port ?? 5060);
    const fromTag = getTag(from) ?? '';
    const toTag = getTag(to);
    const keyFor = (method: string): string =>
      branch.startsWith('z9hG4bK')
        ? serverKey(branch, sentBy, method)
        : serverKey(`legacy:${callId}|${cseq.seq}|${fromTag}|${branch}`, sentBy, method);

    if (req.method === 'ACK') {
      this.onAck(req, raw, inb, keyFor('INVITE'), callId, fromTag, toTag);
      return;
    }
    const key = keyFor(req.method);
    const existing = this.txns.findServer(key);
    if (existing) {
      this.txns.retransmitted(existing);
      return;
    }
    const base = { key, request: req, raw, receivedLength: inb.data.length, peer };

    if (req.method === 'CANCEL') {
      this.onCancel(req, raw, inb, keyFor('INVITE'), base);
      return;
    }

    if (toTag) {
      const dialog = this.dialogs.find(callId, toTag, fromTag);
      const txn = this.txns.createServer({ ...base, toTag });
      if (!dialog) {
        this.txns.respond(txn, 481, this.edgeResponse(req, 481, toTag));
        return;
      }
      if (req.method === 'INVITE') this.txns.respond(txn, 100, this.edgeResponse(req, 100, undefined));
      if (cseq.seq < dialog.remoteCseq) {
        this.txns.respond(txn, 500, this.edgeResponse(req, 500, toTag));
        return;
      }
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
      const app = this.pickApp(req.method, dialog.owner);
      if (!app) {
        if (req.method === 'BYE') {
          // No application left to tell: end the dialog here rather than leave the caller hanging.
          this.o.log.warn({ callId }, 'BYE for a dialog whose app is gone; answering 200 from the edge');
          this.endDialog(dialog);
          this.txns.respond(txn, 200, this.edgeResponse(req, 200, toTag));
        } else this.txns.respond(txn, 503, this.edgeResponse(req, 503, toTag));
        return;
      }
      txn.owner = app;
      dialog.owner = app;
      this.toApp(
        app,
        `sip|network|${txn.receivedLength}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${txn.id}|${dialog.id}|`,
        raw,
      );
      return;
    }

    const txn = this.txns.createServer({ ...base, toTag: randomToken() });
    if (req.method === 'INVITE') this.txns.respond(txn, 100, this.edgeResponse(req, 100, undefined));
    const app = this.pickApp(req.method);
    if (!app) {
      if (req.method === 'OPTIONS') {
        // Health checks get an answer even with no application attached.
        this.txns.respond(
          txn,
          200,
          this.edgeResponse(req, 200, txn.toTag, [
            { name: 'Allow', value: ALLOW },
            { name: 'Accept', value: 'application/sdp, multipart/mixed' },
          ]),
        );
      } else if (req.method === 'BYE') {
        // RFC 3261 15.1.2: a BYE that matches no dialog gets 481.
        this.txns.respond(txn, 481, this.edgeResponse(req, 481, txn.toTag));
      } else {
        this.o.log.warn({ method: req.method, callId }, 'no application for request; answering 503');
        this.txns.respond(txn, 503, this.edgeResponse(req, 503, txn.toTag));
      }
      return;
    }
    txn.owner = app;
    this.toApp(
      app,
      `sip|network|${txn.receivedLength}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${txn.id}||${this.o.advertised}|${this.portFor(inb.transport)}|`,
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
  ): void {
    // ACK of a non-2xx final: same branch as the INVITE, ends the server transaction (17.2.1).
    const invite = this.txns.findServer(inviteKey);
    if (invite && invite.state === 'completed') {
      this.txns.acknowledged(invite);
      return;
    }
    if (!toTag) return;
    const dialog = this.dialogs.find(callId, toTag, fromTag);
    if (!dialog) {
      this.o.log.debug({ callId }, 'ACK for no known dialog dropped');
      return;
    }
    const pending = this.awaitingAck.get(dialog.id);
    if (!pending || !this.txns.acknowledged(pending)) return; // a retransmitted ACK
    this.awaitingAck.delete(dialog.id);
    dialog.state = 'confirmed';
    this.toApp(
      this.pickApp('ACK', dialog.owner),
      `sip|network|${inb.data.length}||${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${pending.id}|${dialog.id}|`,
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
    const invite = this.txns.findServer(inviteKey);
    const txn = this.txns.createServer({ ...base, toTag: invite?.toTag ?? randomToken() });
    if (!invite) {
      this.txns.respond(txn, 481, this.edgeResponse(req, 481, txn.toTag));
      return;
    }
    this.txns.respond(txn, 200, this.edgeResponse(req, 200, txn.toTag));
    if (invite.state !== 'proceeding') return;
    // RFC 3261 9.2: the INVITE ends with 487; the app learns of it as drachtio-server tells it,
    // by the CANCEL itself (drachtio-srf then emits 'cancel' on the pending request).
    invite.canceled = true;
    this.txns.respond(invite, 487, this.edgeResponse(invite.request, 487, invite.toTag));
    if (invite.dialogId) {
      const d = this.dialogs.findById(invite.dialogId);
      if (d && d.state === 'early') this.dialogs.remove(d);
    }
    this.toApp(
      invite.owner as AppConn | undefined,
      `sip|network|${inb.data.length}|${inb.transport}|${inb.remoteAddress}|${inb.remotePort}|${stamp()}|${txn.id}||${this.o.advertised}|${this.portFor(inb.transport)}|`,
      raw,
    );
  }

  private onNetworkResponse(res: SipResponse, inb: Inbound): void {
    const via = parseVia(getHeader(res, 'via') ?? '');
    const branch = getParam(via.params, 'branch') ?? '';
    const cseq = parseCSeq(getHeader(res, 'cseq'));
    if (!this.txns.receiveResponse(branch, cseq.method, res.status, inb.data)) {
      this.o.log.debug({ status: res.status, branch }, 'stray sip response dropped');
    }
  }

  // ================================================================ from the application

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
    if (msg.type === 'response') this.appResponse(conn, msgId, txnId, msg);
    else if (dialogId) void this.appInDialogRequest(conn, msgId, dialogId, msg);
    else if (msg.method === 'CANCEL' && txnId) this.appCancel(conn, msgId, txnId);
    else void this.appNewRequest(conn, msgId, msg);
  }

  /** Headers of a response the edge completes for the app, in drachtio-server's order. */
  private completeResponse(txn: ServerTxn, app: SipResponse): SipResponse {
    const req = txn.request;
    const status = app.status;
    const headers: SipHeader[] = [];
    for (const h of req.headers)
      if (canonicalName(h.name) === 'via') headers.push({ name: 'Via', value: h.value });
    const formsDialog = DIALOG_METHODS.has(req.method) && status > 100 && status < 300;
    if (formsDialog)
      for (const rr of getHeaders(req, 'record-route')) headers.push({ name: 'Record-Route', value: rr });
    const to = getHeader(req, 'to') ?? '';
    let toValue = to;
    if (status > 100 && !getTag(to)) {
      const appTag = getTag(getHeader(app, 'to'));
      if (appTag) txn.toTag = appTag;
      toValue = `${to};tag=${txn.toTag}`;
    }
    headers.push(
      { name: 'From', value: getHeader(req, 'from') ?? '' },
      { name: 'To', value: toValue },
      { name: 'Call-ID', value: getHeader(req, 'call-id') ?? '' },
      { name: 'CSeq', value: getHeader(req, 'cseq') ?? '' },
    );
    const appContact = getHeaders(app, 'contact');
    if (formsDialog || (req.method === 'UPDATE' && status >= 200 && status < 300)) {
      headers.push({
        name: 'Contact',
        value: this.mergeContact(appContact.join(', ') || undefined, txn.peer.transport),
      });
    } else if (appContact.length) {
      headers.push({ name: 'Contact', value: appContact.join(', ') });
    }
    const { known, extension } = appHeaders(app);
    headers.push(...known);
    const ct = getHeader(app, 'content-type') ?? (app.body.length ? 'application/sdp' : undefined);
    if (ct) headers.push({ name: 'Content-Type', value: ct });
    headers.push({ name: 'Content-Length', value: String(app.body.length) }, ...extension);
    return {
      type: 'response',
      version: '2.0',
      status,
      reason: app.reason || REASONS[status] || '',
      headers,
      body: app.body,
    };
  }

  private appResponse(conn: AppConn, msgId: string, txnId: string, app: SipResponse): void {
    const txn = this.txns.findServerById(txnId);
    if (!txn || txn.state !== 'proceeding') {
      conn.reply(msgId, `NOK|transaction ${txnId} not found or already completed`);
      return;
    }
    const req = txn.request;
    const status = app.status;
    const out = this.completeResponse(txn, app);
    let dialog = txn.dialogId ? this.dialogs.findById(txn.dialogId) : undefined;
    if (!dialog && req.method === 'INVITE' && status > 100 && status < 300) {
      dialog = this.createUasDialog(txn, out, conn);
      txn.dialogId = dialog.id;
    }
    const sent = serializeMessage(out);
    this.txns.respond(txn, status, sent);

    if (req.method === 'INVITE' && dialog) {
      if (status >= 200 && status < 300) {
        dialog.state = dialog.state === 'early' ? 'confirmed' : dialog.state;
        this.awaitingAck.set(dialog.id, txn);
        const d = dialog;
        txn.onAckTimeout = () => this.ackTimeout(d, txn);
      } else if (status >= 300 && dialog.state === 'early') {
        this.dialogs.remove(dialog);
      }
    }
    if (req.method === 'BYE' && status >= 200 && status < 300 && dialog) this.endDialog(dialog);

    const transport = req.method === 'INVITE' ? txn.peer.transport : '';
    const dialogId = req.method === 'INVITE' && dialog ? dialog.id : '';
    conn.reply(
      msgId,
      `OK|application|${sent.length}|${transport}|${txn.peer.address}|${txn.peer.port}|${stamp()}|${txn.id}|${dialogId}||Msg sent:|\r\n${sent.toString('utf8')}`,
    );
  }

  private createUasDialog(txn: ServerTxn, out: SipResponse, conn: AppConn): Dialog {
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
    const d: Dialog = {
      id: `${callId};from-tag=${getTag(from) ?? ''}`,
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
      owner: conn,
      state: 'early',
    };
    this.dialogs.add(d);
    return d;
  }

  private endDialog(d: Dialog): void {
    this.dialogs.remove(d);
    const pending = this.awaitingAck.get(d.id);
    if (pending) {
      this.awaitingAck.delete(d.id);
      this.txns.acknowledged(pending);
    }
    this.uacInvites.delete(d.id);
  }

  /** Timer H over a 2xx: BYE the caller and tell the app, as drachtio-server does. */
  private ackTimeout(d: Dialog, txn: ServerTxn): void {
    if (this.awaitingAck.get(d.id) !== txn) return;
    this.awaitingAck.delete(d.id);
    this.o.log.warn({ callId: d.callId }, 'no ACK for 2xx within 64*T1; sending BYE');
    const extra: SipHeader[] = [
      { name: 'Reason', value: 'SIP;cause=200;text="ACK timeout"' },
      { name: 'Content-Length', value: '0' },
    ];
    void this.sendInDialog(d, 'BYE', extra, Buffer.alloc(0), undefined)
      .then(({ sent, peer }) => {
        this.toApp(
          this.pickApp('BYE', d.owner),
          `sip|application|${sent.length}|${peer.transport}|${this.o.advertised}|${this.port}|${stamp()}|unsolicited|${d.id}|`,
          sent,
        );
      })
      .catch((err: unknown) => this.o.log.error({ err: String(err), callId: d.callId }, 'failed to send BYE'))
      .finally(() => this.endDialog(d));
  }

  private resolvePeer(d: Dialog): Promise<Peer> {
    return dialogPeer(d, this.o.hasConnection);
  }

  /**
   * Build and send a request within a dialog on a client transaction; `onResponse` gets
   * each response (the first copy) and synthesized 408 on timeout.
   */
  private async sendInDialog(
    d: Dialog,
    method: string,
    extra: SipHeader[],
    body: Buffer,
    onResponse: ((txn: ClientTxn, status: number, raw: Buffer) => void) | undefined,
    owner?: AppConn,
  ): Promise<{ sent: Buffer; peer: Peer; txn?: ClientTxn }> {
    const peer = await this.resolvePeer(d);
    const branch = newBranch();
    const cseq = method === 'ACK' ? (d.lastInviteCseq ?? d.localCseq) : ++d.localCseq;
    if (method === 'INVITE') d.lastInviteCseq = cseq;
    const headers = inDialogHeaders(d, method, cseq, this.ourVia(peer.transport, branch), extra);
    const msg: SipRequest = { type: 'request', method, uri: d.remoteTarget, version: '2.0', headers, body };
    const sent = serializeMessage(msg);
    if (method === 'ACK') {
      this.o.send(peer, sent);
      const inv = this.uacInvites.get(d.id);
      if (inv) inv.ack = sent;
      return { sent, peer };
    }
    const txn = this.txns.sendRequest(
      { branch, method, peer, request: sent, owner, dialogId: d.id },
      {
        onResponse: (t, status, raw) => {
          if (method === 'BYE' && status >= 200) this.endDialog(d);
          onResponse?.(t, status, raw);
        },
        onTimeout: (t) => {
          if (method === 'BYE') this.endDialog(d);
          onResponse?.(t, 408, this.synthesize408(msg));
        },
        buildNon2xxAck: (_t, raw) => this.non2xxAck(msg, raw),
      },
    );
    if (method === 'INVITE') this.uacInvites.set(d.id, txn);
    return { sent, peer, txn };
  }

  private synthesize408(req: SipRequest): Buffer {
    return this.edgeResponse(req, 408, undefined);
  }

  /** RFC 3261 17.1.1.3: ACK for a non-2xx final, same branch, To from the response. */
  private non2xxAck(req: SipRequest, raw: Buffer): Buffer | undefined {
    try {
      const res = parseMessage(raw);
      const cseq = parseCSeq(getHeader(req, 'cseq'));
      const headers: SipHeader[] = [
        { name: 'Via', value: getHeader(req, 'via') ?? '' },
        ...getHeaders(req, 'route').map((r) => ({ name: 'Route', value: r })),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: getHeader(req, 'from') ?? '' },
        { name: 'To', value: getHeader(res, 'to') ?? '' },
        { name: 'Call-ID', value: getHeader(req, 'call-id') ?? '' },
        { name: 'CSeq', value: `${cseq.seq} ACK` },
        { name: 'Content-Length', value: '0' },
      ];
      return serializeMessage({
        type: 'request',
        method: 'ACK',
        uri: req.uri,
        version: '2.0',
        headers,
        body: Buffer.alloc(0),
      });
    } catch {
      return undefined;
    }
  }

  /** Extra headers of an app request: standard ones, Contact, Content-Type/Length, extensions. */
  private requestExtras(app: SipRequest, transport: TransportName): SipHeader[] {
    const out: SipHeader[] = [];
    const contact = getHeaders(app, 'contact');
    if (CONTACT_METHODS.has(app.method)) {
      out.push({ name: 'Contact', value: this.mergeContact(contact.join(', ') || undefined, transport) });
    } else if (contact.length) out.push({ name: 'Contact', value: contact.join(', ') });
    const { known, extension } = appHeaders(app);
    out.push(...known);
    const ct = getHeader(app, 'content-type') ?? (app.body.length ? 'application/sdp' : undefined);
    if (ct) out.push({ name: 'Content-Type', value: ct });
    out.push({ name: 'Content-Length', value: String(app.body.length) }, ...extension);
    return out;
  }

  private async appInDialogRequest(
    conn: AppConn,
    msgId: string,
    dialogId: string,
    app: SipRequest,
  ): Promise<void> {
    const d = this.dialogs.findById(dialogId);
    if (!d || d.state === 'terminated') {
      conn.reply(msgId, `NOK|unable to find dialog for ${app.method} with id ${dialogId}`);
      return;
    }
    try {
      const transport = (await this.resolvePeer(d)).transport;
      const extra = this.requestExtras(app, transport);
      const { sent, peer, txn } = await this.sendInDialog(
        d,
        app.method,
        extra,
        app.body,
        (t, _status, raw) => {
          this.toApp(
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
      conn.reply(msgId, `NOK|failed to send ${app.method}: ${String((err as Error).message)}`);
    }
  }

  private appCancel(conn: AppConn, msgId: string, txnId: string): void {
    // Cancelling an app-originated INVITE is not offered by the embedded edge (SRS is a UAS).
    conn.reply(msgId, `NOK|CANCEL of transaction ${txnId} is not supported by the embedded SIP edge`);
  }

  /** An out-of-dialog request from the app (Srf#request / createUAC): fill what drachtio fills. */
  private async appNewRequest(conn: AppConn, msgId: string, app: SipRequest): Promise<void> {
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
        : `<sip:${hostPort(this.o.advertised, this.port)}>;tag=${localTag}`;
      const to = getHeader(app, 'to') ?? `<${app.uri}>`;
      const callId = getHeader(app, 'call-id') ?? `${randomToken(20)}@${this.o.advertised}`;
      const cseqNum = Number(/^\s*(\d+)/.exec(getHeader(app, 'cseq') ?? '')?.[1] ?? 1);
      const headers: SipHeader[] = [
        { name: 'Via', value: this.ourVia(transport, branch) },
        ...getHeaders(app, 'route').map((r) => ({ name: 'Route', value: r })),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: from },
        { name: 'To', value: to },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${cseqNum} ${app.method}` },
        ...this.requestExtras(app, transport),
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
      const txn = this.txns.sendRequest(
        { branch, method: app.method, peer, request: sent, owner: conn },
        {
          onResponse: (tx, status, raw) => {
            let dialogId = '';
            if (app.method === 'INVITE' && status > 100 && status < 300) {
              dialogId = this.createUacDialog(msg, raw, peer, conn, cseqNum, tx)?.id ?? '';
            }
            this.toApp(
              conn,
              `sip|network|${raw.length}|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${tx.id}|${dialogId}|`,
              raw,
            );
          },
          onTimeout: (tx) => {
            this.toApp(
              conn,
              `sip|network|0|${peer.transport}|${peer.address}|${peer.port}|${stamp()}|${tx.id}||`,
              this.synthesize408(msg),
            );
          },
          buildNon2xxAck: (_tx, raw) => this.non2xxAck(msg, raw),
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

  private createUacDialog(
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
      const existing = this.dialogs.find(callId, localTag, remoteTag);
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
      this.dialogs.add(d);
      this.uacInvites.set(d.id, txn);
      return d;
    } catch {
      return undefined;
    }
  }

  /** An app connection went away: answer what it left unanswered. */
  onAppClose(conn: AppConn): void {
    for (const txn of this.txns.pendingServers()) {
      if (txn.owner !== conn) continue;
      this.txns.respond(txn, 503, this.edgeResponse(txn.request, 503, txn.toTag));
    }
  }
}
