/**
 * RFC 3261 section 17 transactions (with RFC 6026's Accepted state for INVITE 2xx).
 * The layer owns retransmission and timers; what the messages say is the core's business.
 */
import { randomUUID } from 'node:crypto';
import type { SipRequest } from './message.js';
import type { TransportName } from './transport.js';

export interface Timers {
  t1: number;
  t2: number;
  t4: number;
}

export interface Peer {
  transport: TransportName;
  address: string;
  port: number;
}

/** Sends a message; `onError` hears of a failure the transport sees (refused, unreachable). */
export type Sender = (peer: Peer, data: Buffer, onError?: (err: Error) => void) => void;

type ServerState = 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated';

/** A request received from the network, answered by the edge or by the application. */
export interface ServerTxn {
  /** drachtio transaction id given to the application. */
  readonly id: string;
  readonly key: string;
  readonly method: string;
  readonly request: SipRequest;
  /** The request as forwarded to the app (top Via completed with rport/received). */
  readonly raw: Buffer;
  /** Byte length of the request as received. */
  readonly receivedLength: number;
  /** Where responses go (RFC 3261 18.2.2 with RFC 3581). */
  readonly peer: Peer;
  /** Where the request came from (its source address and port, or its connection). */
  readonly source?: Peer;
  /** To-tag used for responses that lack one. */
  toTag: string;
  /**
   * Call-ID, From tag and CSeq of a request without a To tag (RFC 3261 8.2.2.2): another request
   * with the same but on another transaction is a merged request.
   */
  readonly requestId?: string;
  /** Opaque owner (the application connection that got the request). */
  owner?: unknown;
  dialogId?: string;
  state: ServerState;
  finalStatus?: number;
  lastResponse?: Buffer;
  canceled?: boolean;
  timers: NodeJS.Timeout[];
  /** Called once when an INVITE's 2xx is never acknowledged (Timer H over the 2xx). */
  onAckTimeout?: () => void;
}

/** A request sent by the edge (for the app or on its own). */
export interface ClientTxn {
  readonly id: string;
  readonly branch: string;
  readonly method: string;
  readonly peer: Peer;
  readonly request: Buffer;
  state: 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
  timers: NodeJS.Timeout[];
  owner?: unknown;
  dialogId?: string;
  /** ACK to resend when a final response is retransmitted (INVITE only). */
  ack?: Buffer;
}

export interface ClientTxnHandlers {
  /** First copy of each response (retransmissions of finals are absorbed). */
  onResponse: (txn: ClientTxn, status: number, raw: Buffer) => void;
  /** Timer B/F fired with no final response. */
  onTimeout: (txn: ClientTxn) => void;
  /**
   * The transport failed to send the request (RFC 3261 17.1.4): the transaction ends at once.
   * Without this handler a failure is only logged and the transaction waits for Timer B/F.
   */
  onTransportError?: (txn: ClientTxn, err: Error) => void;
  /** Build the ACK for a non-2xx final response to an INVITE (RFC 3261 17.1.1.3). */
  buildNon2xxAck?: (txn: ClientTxn, raw: Buffer) => Buffer | undefined;
}

function clearTimers(t: { timers: NodeJS.Timeout[] }): void {
  for (const x of t.timers) clearTimeout(x);
  t.timers = [];
}

/** Key of RFC 3261 17.2.3 (branch + sent-by + method; ACK and CANCEL match their INVITE by branch). */
export function serverKey(branch: string, sentBy: string, method: string): string {
  return `${branch}|${sentBy}|${method}`;
}

export class TransactionLayer {
  private readonly servers = new Map<string, ServerTxn>();
  private readonly serversById = new Map<string, ServerTxn>();
  private readonly serversByRequestId = new Map<string, ServerTxn>();
  private readonly clients = new Map<string, ClientTxn & { handlers: ClientTxnHandlers }>();
  private readonly clientsById = new Map<string, ClientTxn>();

  constructor(
    private readonly timers: Timers,
    private readonly send: Sender,
  ) {}

  // ---------------------------------------------------------------- server side

  findServer(key: string): ServerTxn | undefined {
    return this.servers.get(key);
  }

  findServerById(id: string): ServerTxn | undefined {
    return this.serversById.get(id);
  }

  /** The live server transaction of a request without a To tag, by its requestId. */
  findServerByRequestId(requestId: string): ServerTxn | undefined {
    return this.serversByRequestId.get(requestId);
  }

  /** All server transactions that still await a final response. */
  pendingServers(): ServerTxn[] {
    return [...this.serversById.values()].filter((t) => t.state === 'proceeding');
  }

  createServer(init: {
    key: string;
    request: SipRequest;
    raw: Buffer;
    receivedLength: number;
    peer: Peer;
    source?: Peer;
    toTag: string;
    requestId?: string;
  }): ServerTxn {
    const txn: ServerTxn = {
      id: randomUUID(),
      key: init.key,
      method: init.request.method,
      request: init.request,
      raw: init.raw,
      receivedLength: init.receivedLength,
      peer: init.peer,
      ...(init.source ? { source: init.source } : {}),
      toTag: init.toTag,
      ...(init.requestId !== undefined ? { requestId: init.requestId } : {}),
      state: 'proceeding',
      timers: [],
    };
    this.servers.set(txn.key, txn);
    this.serversById.set(txn.id, txn);
    if (txn.requestId !== undefined) this.serversByRequestId.set(txn.requestId, txn);
    if (txn.method !== 'INVITE') {
      // The client gives up after 64*T1 (Timer F); forget a request nobody answered by then.
      txn.timers.push(
        setTimeout(
          () => {
            if (txn.state === 'proceeding') this.terminateServer(txn);
          },
          64 * this.timers.t1 + 1000,
        ),
      );
    }
    return txn;
  }

  /** A retransmitted request: resend the last response, if any (RFC 3261 17.2.1, 17.2.2). */
  retransmitted(txn: ServerTxn): void {
    if (txn.lastResponse && txn.state !== 'terminated') this.send(txn.peer, txn.lastResponse);
  }

  /** Send a response on a server transaction and run its timers. */
  respond(txn: ServerTxn, status: number, data: Buffer): void {
    if (txn.state !== 'proceeding') return;
    txn.lastResponse = data;
    this.send(txn.peer, data);
    if (status < 200) return;
    txn.finalStatus = status;
    const { t1 } = this.timers;
    const reliable = txn.peer.transport !== 'udp';
    if (txn.method === 'INVITE') {
      if (status < 300) {
        // RFC 6026 Accepted: absorb INVITE retransmissions; RFC 3261 13.3.1.4: resend the 2xx
        // until the ACK, and give up after 64*T1.
        txn.state = 'accepted';
        if (!reliable) this.retransmitUntilAck(txn, data, t1);
        txn.timers.push(
          setTimeout(() => {
            const fire = txn.state === 'accepted';
            this.terminateServer(txn);
            if (fire) txn.onAckTimeout?.();
          }, 64 * t1),
        );
      } else {
        txn.state = 'completed';
        if (!reliable) this.retransmitUntilAck(txn, data, t1);
        txn.timers.push(setTimeout(() => this.terminateServer(txn), 64 * t1)); // Timer H
      }
      return;
    }
    txn.state = 'completed';
    if (reliable) this.terminateServer(txn);
    else txn.timers.push(setTimeout(() => this.terminateServer(txn), 64 * t1)); // Timer J
  }

  private retransmitUntilAck(txn: ServerTxn, data: Buffer, interval: number): void {
    const timer = setTimeout(() => {
      if (txn.state !== 'accepted' && txn.state !== 'completed') return;
      this.send(txn.peer, data);
      this.retransmitUntilAck(txn, data, Math.min(interval * 2, this.timers.t2));
    }, interval);
    txn.timers.push(timer);
  }

  /** ACK matched a non-2xx final (same branch) or a 2xx (through the dialog). */
  acknowledged(txn: ServerTxn): boolean {
    if (txn.state === 'completed') {
      clearTimers(txn);
      txn.state = 'confirmed';
      const wait = txn.peer.transport === 'udp' ? this.timers.t4 : 0; // Timer I
      txn.timers.push(setTimeout(() => this.terminateServer(txn), wait));
      return true;
    }
    if (txn.state === 'accepted') {
      clearTimers(txn);
      txn.state = 'confirmed';
      // Keep absorbing INVITE retransmissions for a while (RFC 6026 Timer L).
      txn.timers.push(setTimeout(() => this.terminateServer(txn), 64 * this.timers.t1));
      return true;
    }
    return false;
  }

  terminateServer(txn: ServerTxn): void {
    clearTimers(txn);
    txn.state = 'terminated';
    if (this.servers.get(txn.key) === txn) this.servers.delete(txn.key);
    this.serversById.delete(txn.id);
    if (txn.requestId !== undefined && this.serversByRequestId.get(txn.requestId) === txn)
      this.serversByRequestId.delete(txn.requestId);
  }

  // ---------------------------------------------------------------- client side

  findClientById(id: string): ClientTxn | undefined {
    return this.clientsById.get(id);
  }

  /** Send a request and retransmit it (Timer A/E) until a response, giving up at Timer B/F. */
  sendRequest(
    init: { branch: string; method: string; peer: Peer; request: Buffer; owner?: unknown; dialogId?: string },
    handlers: ClientTxnHandlers,
  ): ClientTxn {
    const txn: ClientTxn & { handlers: ClientTxnHandlers } = {
      id: randomUUID(),
      branch: init.branch,
      method: init.method,
      peer: init.peer,
      request: init.request,
      owner: init.owner,
      dialogId: init.dialogId,
      state: 'calling',
      timers: [],
      handlers,
    };
    this.clients.set(`${txn.branch}|${txn.method}`, txn);
    this.clientsById.set(txn.id, txn);
    const failed = handlers.onTransportError;
    const onError = failed
      ? (err: Error): void => {
          if (txn.state !== 'calling' && txn.state !== 'proceeding') return;
          this.terminateClient(txn);
          failed(txn, err);
        }
      : undefined;
    this.send(txn.peer, txn.request, onError);
    const { t1, t2 } = this.timers;
    if (txn.peer.transport === 'udp') {
      const again = (interval: number): void => {
        txn.timers.push(
          setTimeout(() => {
            if (txn.state !== 'calling' && !(txn.state === 'proceeding' && txn.method !== 'INVITE')) return;
            this.send(txn.peer, txn.request, onError);
            again(txn.method === 'INVITE' ? interval * 2 : Math.min(interval * 2, t2));
          }, interval),
        );
      };
      again(t1);
    }
    txn.timers.push(
      setTimeout(() => {
        if (txn.state !== 'calling' && txn.state !== 'proceeding') return;
        this.terminateClient(txn);
        handlers.onTimeout(txn);
      }, 64 * t1),
    );
    return txn;
  }

  /** A response from the network; returns false when no client transaction matches. */
  receiveResponse(branch: string, cseqMethod: string, status: number, raw: Buffer): boolean {
    const txn = this.clients.get(`${branch}|${cseqMethod}`);
    if (!txn) return false;
    const reliable = txn.peer.transport !== 'udp';
    if (txn.state === 'completed' || txn.state === 'accepted' || txn.state === 'terminated') {
      // Retransmitted final: answer with our ACK again (INVITE), otherwise absorb.
      if (status >= 200 && txn.ack) this.send(txn.peer, txn.ack);
      return true;
    }
    if (status < 200) {
      txn.state = 'proceeding';
      txn.handlers.onResponse(txn, status, raw);
      return true;
    }
    clearTimers(txn);
    if (txn.method === 'INVITE' && status >= 300) {
      const ack = txn.handlers.buildNon2xxAck?.(txn, raw);
      if (ack) {
        txn.ack = ack;
        this.send(txn.peer, ack);
      }
    }
    txn.state = txn.method === 'INVITE' && status < 300 ? 'accepted' : 'completed';
    const linger = txn.method === 'INVITE' ? 64 * this.timers.t1 : reliable ? 0 : 4 * this.timers.t1;
    txn.timers.push(setTimeout(() => this.terminateClient(txn), linger));
    txn.handlers.onResponse(txn, status, raw);
    return true;
  }

  terminateClient(txn: ClientTxn): void {
    clearTimers(txn);
    txn.state = 'terminated';
    this.clients.delete(`${txn.branch}|${txn.method}`);
    this.clientsById.delete(txn.id);
  }

  /** Cancel every timer (shutdown). */
  clear(): void {
    for (const t of this.serversById.values()) clearTimers(t);
    for (const t of this.clientsById.values()) clearTimers(t);
    this.servers.clear();
    this.serversById.clear();
    this.serversByRequestId.clear();
    this.clients.clear();
    this.clientsById.clear();
  }
}
