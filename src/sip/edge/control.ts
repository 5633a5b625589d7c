/**
 * Server side of the drachtio control protocol, as drachtio-srf's lib/wire-protocol.js and
 * lib/drachtio-agent.js speak it: TCP, each message framed `<byte length>#<msgId>|<type>|...`.
 * This module handles framing, authentication, routes and pings; `sip` messages go to the core.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { EdgeLogger } from './types.js';

const MAX_FRAME = 16 * 1024 * 1024;
/**
 * Before it has authenticated, a peer sends one short `authenticate|<secret>|<tags>`: a client
 * without the secret may not make us buffer (and re-copy) up to MAX_FRAME per connection.
 */
const MAX_UNAUTHENTICATED_FRAME = 64 * 1024;
/**
 * A peer has this long to authenticate (drachtio-srf sends it as soon as it is connected), and at
 * most this many wait at once: a new one closes the oldest waiting, so no local client can hold
 * the process's file descriptors, nor keep the application from reconnecting by holding them.
 */
const AUTH_DEADLINE_MS = 5000;
const MAX_UNAUTHENTICATED_CONNECTIONS = 64;
/**
 * Applications connected at once. The embedded edge draws its secret at random, so only the
 * recorder's own application should hold it; were it to leak, its holder still may not take
 * every file descriptor the process has.
 */
export const MAX_APP_CONNECTIONS = 32;

export interface AppConn {
  readonly id: number;
  readonly remote: string;
  authenticated: boolean;
  readonly routes: Set<string>;
  /** Send `<msgId>|<payload>`; returns the new msgId. */
  send(payload: string): string;
  /** Send `response|<msgId>|<rest>`. */
  reply(msgId: string, rest: string): void;
  closed: boolean;
}

export interface ControlHandlers {
  /** `sip|<txnId>|<dialogId>[|...]\r\n<sip message>` from the app. */
  onSip(conn: AppConn, msgId: string, leader: string[], sip: string): void;
  onClose(conn: AppConn): void;
}

export interface ControlOptions {
  host: string;
  port: number;
  secret: string;
  version: string;
  /** `tcp/1.2.3.4:5060,udp/1.2.3.4:5060`, as drachtio-server reports its SIP contacts. */
  hostports: () => string;
  log: EdgeLogger;
  handlers: ControlHandlers;
}

/**
 * Extract complete `<len>#<payload>` frames from a buffer (at most `maxCount`, each at most
 * `maxFrame` bytes); length counts UTF-8 bytes.
 */
export function takeFrames(
  buf: Buffer,
  maxFrame = MAX_FRAME,
  maxCount = Infinity,
): { frames: string[]; rest: Buffer } {
  const frames: string[] = [];
  let b = buf;
  while (frames.length < maxCount) {
    const hash = b.indexOf(0x23); // '#'
    if (hash === -1) {
      if (b.length > 12) throw new Error('missing length specifier');
      break;
    }
    const lenText = b.toString('latin1', 0, hash);
    if (!/^\d{1,9}$/.test(lenText)) throw new Error(`invalid length specifier "${lenText.slice(0, 20)}"`);
    const len = Number(lenText);
    if (len <= 0 || len > maxFrame) throw new Error(`invalid frame length ${len}`);
    const end = hash + 1 + len;
    if (b.length < end) break;
    frames.push(b.toString('utf8', hash + 1, end));
    b = b.subarray(end);
  }
  return { frames, rest: b };
}

function secretMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Ends a refused connection after its answer is out; destroys it if the peer keeps it half-open. */
function endSoon(socket: net.Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class ControlServer {
  private server?: net.Server;
  private readonly conns = new Set<AppConn & { socket: net.Socket }>();
  /** Connections not yet authenticated, oldest first. */
  private readonly waiting = new Set<net.Socket>();
  private evictedSince = 0;
  /** Applications refused since the last one let in (one warning per burst). */
  private refusedSince = 0;
  private nextId = 1;
  private boundPort = 0;

  private constructor(private readonly opts: ControlOptions) {}

  static async start(opts: ControlOptions): Promise<ControlServer> {
    const c = new ControlServer(opts);
    const server = net.createServer((sock) => c.adopt(sock));
    c.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => opts.log.error({ err: String(err) }, 'drachtio control listener error'));
    const addr = server.address();
    c.boundPort = addr && typeof addr === 'object' ? addr.port : opts.port;
    return c;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Authenticated apps that asked for requests of this method (`route|invite`). */
  appsFor(method: string): AppConn[] {
    const m = method.toLowerCase();
    return [...this.conns].filter((c) => c.authenticated && !c.closed && c.routes.has(m));
  }

  private adopt(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    const { log } = this.opts;
    const conn: AppConn & { socket: net.Socket } = {
      id: this.nextId++,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      authenticated: false,
      routes: new Set(),
      closed: false,
      socket,
      send: (payload: string) => {
        const msgId = randomUUID();
        const s = `${msgId}|${payload}`;
        if (socket.destroyed) return msgId;
        // Messages sent in one turn of the event loop leave in one write (one syscall, one wakeup
        // of the app) instead of one each: at hundreds of calls a second that is most of them.
        if (socket.writableCorked === 0) {
          socket.cork();
          process.nextTick(() => socket.uncork());
        }
        socket.write(`${Buffer.byteLength(s, 'utf8')}#${s}`);
        return msgId;
      },
      reply: (msgId: string, rest: string) => {
        conn.send(`response|${msgId}|${rest}`);
      },
    };
    this.conns.add(conn);
    log.info({ app: conn.remote }, 'drachtio app connected');
    this.awaitAuthentication(socket);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      // Until it has authenticated, a connection's frames are taken one at a time and kept small.
      while (!conn.closed && !socket.destroyed) {
        let frames: string[];
        try {
          ({ frames, rest: buf } = conn.authenticated
            ? takeFrames(buf)
            : takeFrames(buf, MAX_UNAUTHENTICATED_FRAME, 1));
        } catch (err) {
          log.warn({ app: conn.remote, err: String(err) }, 'invalid control message, closing');
          socket.destroy();
          return;
        }
        if (frames.length === 0) return;
        for (const f of frames) {
          if (conn.closed) return;
          try {
            this.onFrame(conn, f);
          } catch (err) {
            log.error({ app: conn.remote, err: String(err) }, 'failed to handle control message');
          }
        }
      }
    });
    socket.on('error', (err) => log.debug({ app: conn.remote, err: String(err) }, 'control socket error'));
    socket.on('close', () => {
      this.waiting.delete(socket);
      conn.closed = true;
      this.conns.delete(conn);
      log.info({ app: conn.remote }, 'drachtio app disconnected');
      this.opts.handlers.onClose(conn);
    });
  }

  /** Closes the socket unless it authenticates in time; makes room by closing the oldest waiting. */
  private awaitAuthentication(socket: net.Socket): void {
    const { log } = this.opts;
    if (this.waiting.size >= MAX_UNAUTHENTICATED_CONNECTIONS) {
      const oldest = this.waiting.values().next().value as net.Socket;
      this.waiting.delete(oldest);
      oldest.destroy();
      // One line per burst, not one per connection.
      if (this.evictedSince++ === 0)
        log.warn(
          { waiting: MAX_UNAUTHENTICATED_CONNECTIONS },
          'control port: too many connections waiting to authenticate, closing the oldest',
        );
    } else if (this.waiting.size === 0) this.evictedSince = 0;
    this.waiting.add(socket);
    const timer = setTimeout(() => {
      if (!this.waiting.delete(socket)) return;
      log.debug(
        { app: `${socket.remoteAddress}:${socket.remotePort}` },
        'control port: no authenticate in time, closing',
      );
      socket.destroy();
    }, AUTH_DEADLINE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private onFrame(conn: AppConn & { socket: net.Socket }, frame: string): void {
    const crlf = frame.indexOf('\r\n');
    const leader = (crlf === -1 ? frame : frame.slice(0, crlf)).split('|');
    const msgId = leader[0] ?? '';
    const type = leader[1] ?? '';
    if (!conn.authenticated) {
      if (type !== 'authenticate') {
        this.opts.log.warn({ app: conn.remote, type }, 'control message before authenticate, closing');
        conn.socket.destroy();
        return;
      }
      if (!secretMatches(leader[2] ?? '', this.opts.secret)) {
        this.opts.log.warn({ app: conn.remote }, 'drachtio app failed to authenticate');
        conn.reply(msgId, 'NOK|incorrect secret');
        conn.closed = true;
        endSoon(conn.socket);
        return;
      }
      this.waiting.delete(conn.socket);
      if ([...this.conns].filter((c) => c.authenticated && !c.closed).length >= MAX_APP_CONNECTIONS) {
        if (this.refusedSince++ === 0)
          this.opts.log.warn(
            { app: conn.remote, max: MAX_APP_CONNECTIONS },
            'control port: too many applications connected, refusing',
          );
        conn.reply(msgId, `NOK|too many applications connected (at most ${MAX_APP_CONNECTIONS})`);
        conn.closed = true;
        endSoon(conn.socket);
        return;
      }
      this.refusedSince = 0;
      conn.authenticated = true;
      const hp = this.opts.hostports();
      conn.reply(msgId, `OK|${hp}|${this.opts.version}|${hp}`);
      return;
    }
    switch (type) {
      case 'route':
        conn.routes.add((leader[2] ?? '').toLowerCase());
        conn.reply(msgId, 'OK');
        return;
      case 'remove_route':
        conn.routes.delete((leader[2] ?? '').toLowerCase());
        conn.reply(msgId, 'OK');
        return;
      case 'ping':
        conn.reply(msgId, 'OK');
        return;
      case 'sip':
        this.opts.handlers.onSip(conn, msgId, leader, crlf === -1 ? '' : frame.slice(crlf + 2));
        return;
      default:
        // proxy, cdr routes and others are not offered by the embedded edge.
        conn.reply(msgId, `NOK|${type} is not supported by the embedded SIP edge`);
    }
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
