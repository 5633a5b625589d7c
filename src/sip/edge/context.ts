/**
 * What the edge's server side, client side and dialogs share: the options, the app connections,
 * our Via and Contact, the header order drachtio-server writes, and responses and ACKs the edge
 * builds itself.
 */
import net from 'node:net';
import type { AppConn } from './control.js';
import {
  canonicalName,
  displayName,
  getHeader,
  getHeaders,
  getTag,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseSipUri,
  serializeMessage,
} from './message.js';
import type { SipHeader, SipMessage, SipRequest } from './message.js';
import { TransactionLayer } from './transactions.js';
import type { Sender, Timers } from './transactions.js';
import type { TransportName } from './transport.js';
import type { EdgeLogger } from './types.js';

export interface CoreOptions {
  log: EdgeLogger;
  timers: Timers;
  /** Address put in Via, Contact and hostports. */
  advertised: string;
  port: () => number;
  /** Bound TLS port (0 when TLS is off). */
  tlsPort?: () => number;
  send: Sender;
  hasConnection: (transport: TransportName, address: string, port: number) => boolean;
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

export const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, NOTIFY, MESSAGE, REFER';
export const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE']);
const CONTACT_METHODS = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);
export const REASONS: Record<number, string> = {
  100: 'Trying',
  200: 'OK',
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  487: 'Request Terminated',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'Version Not Supported',
  513: 'Message Too Large',
};

/** drachtio's timestamp in leader lines: `HH:MM:SS.uuuuuu`. */
export function stamp(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

export function hostPort(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Split an app's headers into the standard ones and extension ones, dropping edge-owned ones. */
export function appHeaders(msg: SipMessage): { known: SipHeader[]; extension: SipHeader[] } {
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

export class EdgeContext {
  readonly txns: TransactionLayer;
  private rr = 0;

  constructor(readonly o: CoreOptions) {
    this.txns = new TransactionLayer(o.timers, o.send);
  }

  get port(): number {
    return this.o.port();
  }

  /** The port a transport listens on: TLS has its own (5061), UDP and TCP share one. */
  portFor(transport: TransportName | ''): number {
    return transport === 'tls' ? (this.o.tlsPort?.() ?? this.port) : this.port;
  }

  ourContact(transport: TransportName): string {
    const param = transport === 'udp' ? '' : `;transport=${transport}`;
    return `<sip:${hostPort(this.o.advertised, this.portFor(transport))}${param}>`;
  }

  ourVia(transport: TransportName, branch: string): string {
    return `SIP/2.0/${transport.toUpperCase()} ${hostPort(this.o.advertised, this.portFor(transport))};rport;branch=${branch}`;
  }

  /**
   * The Contact for a message the app sent: the app's own Contact when it names a real host,
   * otherwise ours; a Contact of parameters only (`;+sip.srs`) is merged into ours.
   */
  mergeContact(app: string | undefined, transport: TransportName): string {
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

  toApp(conn: AppConn | undefined, leader: string, sip: Buffer | string): void {
    if (!conn || conn.closed) return;
    conn.send(`${leader}\r\n${typeof sip === 'string' ? sip : sip.toString('utf8')}`);
  }

  pickApp(method: string, preferred?: unknown): AppConn | undefined {
    const p = preferred as AppConn | undefined;
    if (p && !p.closed) return p;
    const apps = this.o.appsFor(method);
    if (apps.length === 0) return undefined;
    return apps[this.rr++ % apps.length];
  }

  /** A response the edge builds itself from a request (100, 481, 487, 503, OPTIONS 200...). */
  edgeResponse(req: SipRequest, status: number, toTag: string | undefined, extra: SipHeader[] = []): Buffer {
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

  synthesize408(req: SipRequest): Buffer {
    return this.edgeResponse(req, 408, undefined);
  }

  /** RFC 3261 17.1.1.3: ACK for a non-2xx final, same branch, To from the response. */
  non2xxAck(req: SipRequest, raw: Buffer): Buffer | undefined {
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
  requestExtras(app: SipRequest, transport: TransportName): SipHeader[] {
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
}
