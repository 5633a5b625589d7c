/**
 * Limits on SIP over TCP/TLS (docs/security.md): connections in all and per remote address, bytes
 * allowed before the end of a message's headers, a deadline to finish the headers once a message
 * (or the connection) has started and a longer one to finish the whole message. A connection over
 * a limit is closed and counted.
 */
import type net from 'node:net';

export interface ConnectionLimits {
  /** Inbound TCP+TLS connections open at once. */
  maxConnections: number;
  /** Inbound connections open at once from one address. */
  maxPerAddress: number;
  /** Bytes a message may hold before the blank line that ends its headers (16 KiB). */
  maxHeaderBytes: number;
  /** ms to complete a message's headers, counted from the connection or the message's first byte. */
  headerTimeoutMs: number;
  /**
   * ms to complete a whole message, body included, counted from its first byte (default three
   * times the header deadline): a body sent a byte at a time must not hold its buffer for good.
   */
  messageTimeoutMs?: number;
  /**
   * ms without traffic after which a connection is closed, unless a dialog uses it: requests we
   * send in a dialog go over the connection the peer opened (RFC 5923), which must outlive a
   * quiet call of any length.
   */
  idleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 2000,
  maxPerAddress: 64,
  maxHeaderBytes: 16 * 1024,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 10 * 60 * 1000,
};

export interface LimitCounters {
  /** Connections refused because of the total or per-address limit. */
  refusedTotal: number;
  refusedPerAddress: number;
  /** Connections from an address outside the source allowlist (SRS_SRC_ALLOW), closed when accepted. */
  refusedNotAllowed: number;
  /** Connections closed for headers over maxHeaderBytes, or not finished in time. */
  oversizedHeaders: number;
  headerTimeouts: number;
  /** Connections closed because a message (its body) was not complete within its deadline. */
  messageTimeouts: number;
}

/** Offset just past the headers' blank line (after leading CRLF keep-alives), or -1. */
function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return -1;
  if (crlf < 0) return lf + 2;
  if (lf < 0) return crlf + 4;
  return Math.min(crlf + 4, lf + 2);
}

export class ConnectionGuard {
  readonly counters: LimitCounters = {
    refusedTotal: 0,
    refusedPerAddress: 0,
    refusedNotAllowed: 0,
    oversizedHeaders: 0,
    headerTimeouts: 0,
    messageTimeouts: 0,
  };
  #open = 0;
  readonly #perAddress = new Map<string, number>();

  constructor(readonly limits: ConnectionLimits) {}

  get openConnections(): number {
    return this.#open;
  }

  /**
   * An inbound connection: false (and counted) when it is over a limit; the caller closes it. When
   * admitted, the count drops when the socket closes.
   */
  admit(sock: net.Socket, address: string): boolean {
    if (this.#open >= this.limits.maxConnections) {
      this.counters.refusedTotal++;
      return false;
    }
    const n = this.#perAddress.get(address) ?? 0;
    if (n >= this.limits.maxPerAddress) {
      this.counters.refusedPerAddress++;
      return false;
    }
    this.#open++;
    this.#perAddress.set(address, n + 1);
    sock.once('close', () => {
      this.#open--;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    return true;
  }

  /**
   * What remains buffered after framing: null when acceptable, else why the connection must close.
   * `buf` starts at a message (or holds nothing).
   */
  checkPartial(buf: Buffer): string | null {
    let start = 0;
    while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    const rest = start > 0 ? buf.subarray(start) : buf;
    const end = headerEnd(rest);
    if ((end < 0 && rest.length > this.limits.maxHeaderBytes) || end > this.limits.maxHeaderBytes + 4) {
      this.counters.oversizedHeaders++;
      return `headers over ${this.limits.maxHeaderBytes} bytes`;
    }
    return null;
  }

  /**
   * Arms (or clears) the deadlines of a connection. The header deadline runs while a message's
   * headers are incomplete (and from the connection's start); the message deadline runs from a
   * message's first byte until its last, body included. Neither is pushed back by more bytes.
   */
  deadline(
    sock: net.Socket,
    pending: { headers: boolean; message: boolean },
    onExpire: (reason: string) => void,
  ): void {
    const s = sock as net.Socket & { srsHeaderTimer?: NodeJS.Timeout; srsMessageTimer?: NodeJS.Timeout };
    if (!pending.headers) {
      if (s.srsHeaderTimer) clearTimeout(s.srsHeaderTimer);
      s.srsHeaderTimer = undefined;
    } else if (!s.srsHeaderTimer) {
      s.srsHeaderTimer = setTimeout(() => {
        this.counters.headerTimeouts++;
        onExpire('headers not finished in time');
      }, this.limits.headerTimeoutMs);
      s.srsHeaderTimer.unref();
      sock.once('close', () => clearTimeout(s.srsHeaderTimer));
    }
    if (!pending.message) {
      if (s.srsMessageTimer) clearTimeout(s.srsMessageTimer);
      s.srsMessageTimer = undefined;
    } else if (!s.srsMessageTimer) {
      s.srsMessageTimer = setTimeout(() => {
        this.counters.messageTimeouts++;
        onExpire('message not finished in time');
      }, this.messageTimeoutMs);
      s.srsMessageTimer.unref();
      sock.once('close', () => clearTimeout(s.srsMessageTimer));
    }
  }

  /** The whole-message deadline: as configured, else three times the header deadline. */
  get messageTimeoutMs(): number {
    return this.limits.messageTimeoutMs ?? 3 * this.limits.headerTimeoutMs;
  }

  /** Whether `buf` holds the start of a message (anything but CRLF keep-alives). */
  static messageStarted(buf: Buffer): boolean {
    for (let i = 0; i < buf.length; i++) if (buf[i] !== 0x0d && buf[i] !== 0x0a) return true;
    return false;
  }

  /** Whether `buf` (starting at a message) still lacks the end of its headers. */
  static headersPending(buf: Buffer): boolean {
    let start = 0;
    while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    if (start >= buf.length) return false;
    return headerEnd(buf.subarray(start)) < 0;
  }
}
