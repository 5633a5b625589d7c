/**
 * Dialog state (RFC 3261 section 12) and building requests inside a dialog.
 */
import { randomBytes } from 'node:crypto';
import { getParam, parseNameAddr, parseSipUri } from './message.js';
import type { SipHeader } from './message.js';
import type { Peer } from './transactions.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumeric string (to-tags, branches), like drachtio-server's 13-character tags. */
export function randomToken(len = 13): string {
  const bytes = randomBytes(len);
  let s = '';
  for (const b of bytes) s += ALNUM[b % ALNUM.length];
  return s;
}

export function newBranch(): string {
  return `z9hG4bK${randomToken(13)}`;
}

export interface Dialog {
  /** drachtio dialog id: `<Call-ID>;from-tag=<tag of the From in the creating request>`. */
  readonly id: string;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our party as a From value (with our tag) for requests we send. */
  readonly local: string;
  /** The peer as a To value (with its tag) for requests we send. */
  readonly remote: string;
  /** Remote target: the URI of the peer's Contact. */
  remoteTarget: string;
  /** Route set for our requests (RFC 3261 12.1.1: the Record-Route of the request, in order). */
  readonly routeSet: string[];
  localCseq: number;
  remoteCseq: number;
  /** Where the creating request came from; a TCP connection to it is reused. */
  readonly peer: Peer;
  /**
   * The creating INVITE's source address and port (UAS dialogs): where a BYE goes when the remote
   * target cannot be reached (src/sip/edge/bye-fallback.ts).
   */
  readonly source?: Peer;
  owner?: unknown;
  state: 'early' | 'confirmed' | 'terminated';
  /** CSeq of the last INVITE we sent in this dialog, for its ACK. */
  lastInviteCseq?: number;
  /** UAS dialog: requestId and transaction key of the INVITE that created it (RFC 3261 8.2.2.2). */
  createdBy?: { requestId: string; txnKey: string };
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

export class DialogStore {
  private readonly byKey = new Map<string, Dialog>();
  private readonly byId = new Map<string, Dialog>();
  private readonly byRequestId = new Map<string, Dialog>();

  add(d: Dialog): void {
    this.byKey.set(dialogKey(d.callId, d.localTag, d.remoteTag), d);
    this.byId.set(d.id, d);
    if (d.createdBy) this.byRequestId.set(d.createdBy.requestId, d);
  }

  /** The UAS dialog created by the request with this requestId, while it lasts. */
  findByRequestId(requestId: string): Dialog | undefined {
    return this.byRequestId.get(requestId);
  }

  find(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.byKey.get(dialogKey(callId, localTag, remoteTag));
  }

  findById(id: string): Dialog | undefined {
    return this.byId.get(id);
  }

  remove(d: Dialog): void {
    d.state = 'terminated';
    if (this.byKey.get(dialogKey(d.callId, d.localTag, d.remoteTag)) === d) {
      this.byKey.delete(dialogKey(d.callId, d.localTag, d.remoteTag));
    }
    if (this.byId.get(d.id) === d) this.byId.delete(d.id);
    if (d.createdBy && this.byRequestId.get(d.createdBy.requestId) === d)
      this.byRequestId.delete(d.createdBy.requestId);
  }

  all(): Dialog[] {
    return [...this.byId.values()];
  }

  clear(): void {
    this.byKey.clear();
    this.byId.clear();
    this.byRequestId.clear();
  }
}

/** Where a request in the dialog goes: the first Route if any, else the remote target. */
export function dialogDestination(d: Dialog): { host: string; port: number; transport?: 'udp' | 'tcp' } {
  const first = d.routeSet[0];
  const uri = parseSipUri(first !== undefined ? parseNameAddr(first).uri : d.remoteTarget);
  const t = getParam(uri.params, 'transport')?.toLowerCase();
  const out: { host: string; port: number; transport?: 'udp' | 'tcp' } = {
    host: uri.host,
    port: uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060),
  };
  if (t === 'udp' || t === 'tcp') out.transport = t;
  return out;
}

/**
 * The headers of a request within the dialog, in drachtio-server's order:
 * Via, Route, Max-Forwards, From, To, Call-ID, CSeq, then the extra headers given.
 */
export function inDialogHeaders(
  d: Dialog,
  method: string,
  cseq: number,
  via: string,
  extra: SipHeader[],
): SipHeader[] {
  const h: SipHeader[] = [{ name: 'Via', value: via }];
  for (const r of d.routeSet) h.push({ name: 'Route', value: r });
  h.push(
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: d.local },
    { name: 'To', value: d.remote },
    { name: 'Call-ID', value: d.callId },
    { name: 'CSeq', value: `${cseq} ${method}` },
  );
  return h.concat(extra);
}
