/**
 * SIP transports: one UDP socket and one TCP listener on the same host:port.
 * TCP streams are cut into messages by Content-Length (RFC 3261 18.3); CRLF keep-alives are
 * skipped (RFC 5626 3.5.1) and a double-CRLF ping gets a single-CRLF pong.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { ParseError } from '../../errors.js';
import { FramingError, frameStream } from './message.js';
import { ConnectionGuard, DEFAULT_CONNECTION_LIMITS } from './limits.js';
import {
  clientPolicy,
  secureOptions,
  type TlsContext,
  type TransportName,
  type TransportOptions,
} from './transport-types.js';

export type { Inbound, TlsContext, TransportName, TransportOptions } from './transport-types.js';

const UDP_RECV_BUFFER = 4 * 1024 * 1024;
const MAX_TCP_MESSAGE = 1024 * 1024;

function key(address: string, port: number): string {
  return `${address}|${port}`;
}

/** A connection's key: by transport too, so that a TLS peer's requests never go out on plain TCP. */
function connKey(transport: TransportName, address: string, port: number): string {
  return `${transport}|${address}|${port}`;
}

export class SipTransport {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private tlsServer?: tls.Server;
  /** What the TLS listener serves now (setTls replaces it), and shows on connections it opens. */
  private tlsNow?: TlsContext;
  private tlsBoundPort = 0;
  private readonly conns = new Map<string, net.Socket>();
  /** Inbound TLS connections whose handshake has not finished. */
  private readonly handshaking = new Set<net.Socket>();
  private closed = false;
  private boundPort = 0;
  /** TCP/TLS limits and their counters (for /metrics). */
  readonly guard: ConnectionGuard;
  /** Verified client certificate subjects of TLS connections, by remote address|port. */
  private readonly tlsSubjects = new Map<string, string>();

  private constructor(private readonly opts: TransportOptions) {
    this.guard = new ConnectionGuard({ ...DEFAULT_CONNECTION_LIMITS, ...(opts.limits ?? {}) });
  }

  /**
   * New certificate, key and CA for the TLS listener (a certificate renewed on disk): handshakes
   * from now on use them, connections already open keep theirs. Throws, changing nothing, when
   * they do not make a TLS context (a key that does not go with the certificate).
   */
  setTls(c: TlsContext): void {
    const server = this.tlsServer;
    if (!server) throw new Error('SIP over TLS is not on');
    server.setSecureContext(secureOptions(c));
    this.tlsNow = c;
  }

  /** The verified client certificate subject of a TLS peer (mutual TLS), if any. */
  tlsSubject(address: string, port: number): string | undefined {
    return this.tlsSubjects.get(key(address, port));
  }

  static async start(opts: TransportOptions): Promise<SipTransport> {
    const t = new SipTransport(opts);
    // With port 0 the UDP socket picks the port and TCP must get the same one; retry on a clash.
    for (let attempt = 0; ; attempt++) {
      try {
        await t.listen(opts.port);
        return t;
      } catch (err) {
        await t.close();
        t.closed = false;
        if (opts.port !== 0 || attempt >= 8 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE')
          throw err;
      }
    }
  }

  get port(): number {
    return this.boundPort;
  }

  /** Bound TLS port, 0 when TLS is off. */
  get tlsPort(): number {
    return this.tlsBoundPort;
  }

  private async listen(port: number): Promise<void> {
    const { host, transports, log } = this.opts;
    let p = port;
    if (transports.includes('udp')) {
      const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
      this.udp = udp;
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(p, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      try {
        udp.setRecvBufferSize(UDP_RECV_BUFFER);
      } catch (err) {
        log.warn({ err: String(err) }, 'could not raise the UDP receive buffer');
      }
      log.debug({ recvBufferSize: udp.getRecvBufferSize() }, 'sip udp receive buffer');
      udp.on('error', (err) => log.error({ err: String(err) }, 'sip udp socket error'));
      udp.on('message', (data, rinfo) => {
        this.opts.onMessage({ data, transport: 'udp', remoteAddress: rinfo.address, remotePort: rinfo.port });
      });
      p = udp.address().port;
    }
    if (transports.includes('tcp')) {
      const server = net.createServer((sock) => this.adopt(sock, 'tcp', true));
      this.tcp = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => log.error({ err: String(err) }, 'sip tcp listener error'));
      const addr = server.address();
      if (addr && typeof addr === 'object') p = addr.port;
    }
    this.boundPort = p;
    if (this.opts.tls) {
      const t = this.opts.tls;
      const mutual = t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: true } : {};
      // The limits and the header deadline hold from the TCP connection on, handshake included
      // (Node's default let half a ClientHello hold a connection for 120 s, past every limit).
      const handshakeTimeout = this.guard.limits.headerTimeoutMs;
      this.tlsNow = t;
      const server = tls.createServer({ ...secureOptions(t), ...mutual, handshakeTimeout }, (sock) => {
        if (t.ca) {
          const cert = sock.getPeerCertificate();
          const subject = cert?.subject
            ? Object.entries(cert.subject)
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(', ')
            : '';
          const k = key(sock.remoteAddress ?? '', sock.remotePort ?? 0);
          this.tlsSubjects.set(k, subject);
          sock.once('close', () => this.tlsSubjects.delete(k));
          log.info({ remoteAddress: sock.remoteAddress, subject }, 'sip tls client certificate verified');
        }
        this.handshaking.delete(sock);
        this.adopt(sock, 'tls', true, true);
      });
      server.on('connection', (raw: net.Socket) => {
        if (!this.admitted(raw, 'tls')) return;
        this.handshaking.add(raw);
        raw.once('close', () => this.handshaking.delete(raw));
      });
      this.tlsServer = server;
      // With a listener here Node no longer closes the socket itself: a handshake that failed or
      // timed out would stay open.
      server.on('tlsClientError', (err: NodeJS.ErrnoException, sock) => {
        // The handshake is the first part of the headers' deadline, and counted with it.
        if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.guard.counters.headerTimeouts++;
        log.debug({ err: String(err) }, 'sip tls handshake failed');
        sock.destroy();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(t.port, t.host ?? host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => log.error({ err: String(err) }, 'sip tls listener error'));
      const addr = server.address();
      this.tlsBoundPort = addr && typeof addr === 'object' ? addr.port : t.port;
    }
  }

  /** An inbound connection within the limits (counted until it closes), else closed: false. */
  private admitted(sock: net.Socket, transport: 'tcp' | 'tls'): boolean {
    const remoteAddress = sock.remoteAddress ?? '';
    const remotePort = sock.remotePort ?? 0;
    // A connection reset before we took it has no peer address (getpeername fails), yet what it
    // sent may still be read: it must not reach the core as a request from "" port 0.
    if (!remoteAddress || !remotePort) {
      this.opts.log.debug({ transport }, 'sip tcp connection gone before it was accepted');
      sock.destroy();
      return false;
    }
    if (this.opts.allowSource && !this.opts.allowSource(remoteAddress)) {
      this.guard.counters.refusedNotAllowed++;
      this.opts.log.warn(
        { remoteAddress, remotePort, transport },
        'sip tcp connection refused: source not allowed (SRS_SRC_ALLOW)',
      );
      sock.destroy();
      return false;
    }
    if (!this.guard.admit(sock, remoteAddress)) {
      this.opts.log.warn(
        { remoteAddress, remotePort, open: this.guard.openConnections },
        'sip tcp connection refused: over the connection limit',
      );
      sock.destroy();
      return false;
    }
    return true;
  }

  /** `admitted`: a TLS connection, counted against the limits since before its handshake. */
  private adopt(sock: net.Socket, transport: 'tcp' | 'tls', inbound = false, admitted = false): void {
    const remoteAddress = sock.remoteAddress ?? '';
    const remotePort = sock.remotePort ?? 0;
    const k = connKey(transport, remoteAddress, remotePort);
    if (inbound && !admitted && !this.admitted(sock, transport)) return;
    const closeFor = (reason: string): void => {
      this.opts.log.warn({ remoteAddress, remotePort, reason }, 'closing sip tcp connection');
      sock.destroy();
    };
    // A new inbound connection must deliver complete headers within the deadline.
    if (inbound) this.guard.deadline(sock, { headers: true, message: false }, closeFor);
    this.conns.set(k, sock);
    sock.setNoDelay(true);
    // Idle connections are closed, except one a dialog uses: our requests in the dialog (the BYE
    // that ends a recording) go over it, and a call may be quiet far longer than the timeout.
    const idleMs = this.guard.limits.idleTimeoutMs;
    const onIdle = (): void => {
      if (this.opts.inUse?.(transport, remoteAddress, remotePort)) sock.setTimeout(idleMs, onIdle);
      else sock.destroy();
    };
    sock.setTimeout(idleMs, onIdle);
    let buf: Buffer = Buffer.alloc(0);
    let refused = false;
    sock.on('data', (chunk: Buffer) => {
      if (refused) return;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        for (;;) {
          // Headers over the limit (16 KiB) close the connection before anything is delivered.
          const over = this.guard.checkPartial(buf);
          if (over) {
            closeFor(over);
            return;
          }
          const f = frameStream(buf, MAX_TCP_MESSAGE);
          if (f.kind === 'incomplete') break;
          if (f.kind === 'keepalive') {
            // RFC 5626: answer a CRLFCRLF ping with a CRLF pong.
            if (f.length >= 4 && buf.subarray(0, 4).toString('latin1') === '\r\n\r\n') sock.write('\r\n');
          } else {
            this.opts.onMessage({
              data: buf.subarray(0, f.length),
              transport,
              remoteAddress,
              remotePort,
            });
          }
          buf = buf.subarray(f.length);
        }
        // Each message's headers, and the message as a whole, have a deadline from its first byte.
        this.guard.deadline(
          sock,
          { headers: ConnectionGuard.headersPending(buf), message: ConnectionGuard.messageStarted(buf) },
          closeFor,
        );
      } catch (err) {
        const reason = err instanceof ParseError ? err.message : String(err);
        this.opts.log.warn(
          { remoteAddress, remotePort, reason },
          'closing sip tcp connection: unframeable stream',
        );
        refused = true;
        this.guard.deadline(sock, { headers: false, message: false }, closeFor);
        // Where the stream resumes is unknown: answer the message it stopped at (400, 513) when its
        // head is complete, then close once that answer is out.
        if (err instanceof FramingError && err.headLength > 0) {
          this.opts.onMessage({
            data: buf.subarray(0, err.headLength),
            transport,
            remoteAddress,
            remotePort,
            refused: { status: err.status, reason },
          });
          sock.end();
          setTimeout(() => sock.destroy(), 2000).unref();
        } else sock.destroy();
      }
    });
    sock.on('error', (err) =>
      this.opts.log.debug({ remoteAddress, remotePort, err: String(err) }, 'sip tcp error'),
    );
    sock.on('close', () => {
      if (this.conns.get(k) === sock) this.conns.delete(k);
    });
  }

  /**
   * Send a message; over TCP reuse the connection to that peer or open one. `onError` hears of a
   * failed send (a UDP send error, a connection refused or not verified).
   */
  send(
    transport: TransportName,
    address: string,
    port: number,
    data: Buffer,
    onError?: (err: Error) => void,
  ): void {
    if (this.closed) return;
    if (transport === 'udp') {
      if (!this.udp) throw new Error('udp transport is not enabled');
      this.udp.send(data, port, address, (err) => {
        if (!err) return;
        this.opts.log.warn({ address, port, err: String(err) }, 'sip udp send failed');
        onError?.(err);
      });
      return;
    }
    const k = connKey(transport, address, port);
    const existing = this.conns.get(k);
    if (existing && !existing.destroyed) {
      existing.write(data);
      return;
    }
    // A TLS peer is normally reached over the connection it opened. A new one is verified against
    // the public roots and, with mutual TLS, the private CA that signs the SRCs' certificates too;
    // our certificate goes with it, since an SRC that takes only known clients asks for one.
    const t = this.tlsNow;
    const sock: net.Socket =
      transport === 'tls'
        ? tls.connect({
            host: address,
            port,
            servername: net.isIP(address) ? undefined : address,
            ...(t ? { cert: t.cert, key: t.key } : {}),
            ...(t?.ca ? { ca: [...tls.rootCertificates, String(t.ca)] } : {}),
            ...clientPolicy(this.opts.tlsClient ?? t),
          })
        : net.connect({ host: address, port });
    // Register under the peer's address at once so that further sends queue on this socket.
    this.conns.set(k, sock);
    sock.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      this.conns.delete(k);
      this.adopt(sock, transport);
    });
    sock.on('error', (err) => {
      this.opts.log.warn({ address, port, err: String(err) }, 'sip tcp connect failed');
      onError?.(err);
    });
    sock.on('close', () => {
      if (this.conns.get(k) === sock) this.conns.delete(k);
    });
    sock.write(data);
  }

  /** An open connection of this transport to or from the peer. */
  hasConnection(transport: TransportName, address: string, port: number): boolean {
    const s = this.conns.get(connKey(transport, address, port));
    return !!s && !s.destroyed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.conns.values()) s.destroy();
    this.conns.clear();
    for (const s of this.handshaking) s.destroy();
    this.handshaking.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    const tlsServer = this.tlsServer;
    this.udp = undefined;
    this.tcp = undefined;
    this.tlsServer = undefined;
    await Promise.all([
      tlsServer ? new Promise<void>((r) => tlsServer.close(() => r())) : undefined,
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }
}
