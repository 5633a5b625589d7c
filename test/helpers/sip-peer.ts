import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { EdgeLogger } from '../../src/sip/edge/index.js';

/**
 * A raw SIP peer over loopback UDP, TCP or TLS that records what it receives, the requests and
 * responses it sends, and minimal typings of the drachtio-srf app used against the embedded SIP
 * edge (test/unit/sip-edge-calls.test.ts).
 */

export const SECRET = 'cymru';
export const T1 = 40;
export const HOST = '127.0.0.1';
export const ANSWER =
  'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=recvonly\r\n';
export const OFFER =
  'v=0\r\no=SRC 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=sendonly\r\n';

// ------------------------------------------------------------------ minimal typings of what we use
export interface SrfMsg {
  method?: string;
  body: string;
  get(name: string): string;
  on(event: 'cancel', fn: () => void): void;
}
export interface SrfRes {
  send(status: number, opts?: object): void;
}
export interface SrfDialog {
  on(event: 'destroy', fn: (msg: SrfMsg, reason?: string) => void): void;
  on(event: 'ack', fn: () => void): void;
  on(event: 'modify', fn: (req: SrfMsg, res: SrfRes) => void): void;
  destroy(): Promise<SrfMsg>;
}
export interface SrfApp {
  connect(o: object): void;
  disconnect(): void;
  on(event: 'connect', fn: (err: Error | null, hostport?: string) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  invite(fn: (req: SrfMsg, res: SrfRes) => void): void;
  options(fn: (req: SrfMsg, res: SrfRes) => void): void;
  createUAS(req: SrfMsg, res: SrfRes, opts: object): Promise<SrfDialog>;
}

// ------------------------------------------------------------------ helpers
export function logger(lines: { level: string; o: object; msg?: string }[]): EdgeLogger {
  const push = (level: string) => (o: object, msg?: string) => void lines.push({ level, o, msg });
  return { info: push('info'), warn: push('warn'), error: push('error'), debug: push('debug') };
}

export function header(msg: string, name: string): string | undefined {
  const re = new RegExp(`^${name}:\\s*(.*)$`, 'im');
  return re.exec(msg.split('\r\n\r\n')[0] ?? '')?.[1]?.trim();
}
export const statusOf = (m: string): number => Number(/^SIP\/2\.0 (\d{3})/.exec(m)?.[1] ?? 0);
export const bodyOf = (m: string): string => m.slice(m.indexOf('\r\n\r\n') + 4);

export interface Received {
  text: string;
  used: boolean;
}

/** A raw SIP endpoint over UDP, TCP or TLS (any certificate accepted) that records everything it receives. */
export class Peer {
  readonly got: Received[] = [];
  private waiters: (() => void)[] = [];
  private udp?: dgram.Socket;
  private tcp?: net.Socket | tls.TLSSocket;
  private buf = '';
  port = 0;
  /** TCP/TLS: the connection has closed (either side). */
  closed = false;
  constructor(
    readonly transport: 'UDP' | 'TCP' | 'TLS',
    readonly edgePort: number,
    /** TLS: a client certificate, a CA; by default none, and any server certificate accepted. */
    private readonly tlsOptions: tls.ConnectionOptions = {},
  ) {}

  async open(): Promise<this> {
    if (this.transport === 'UDP') {
      const s = dgram.createSocket('udp4');
      this.udp = s;
      s.on('message', (m) => this.push(m.toString('utf8')));
      await new Promise<void>((r) => s.bind(0, HOST, () => r()));
      this.port = s.address().port;
    } else {
      const s =
        this.transport === 'TLS'
          ? tls.connect({ host: HOST, port: this.edgePort, rejectUnauthorized: false, ...this.tlsOptions })
          : net.connect({ host: HOST, port: this.edgePort });
      this.tcp = s;
      s.once('close', () => (this.closed = true));
      await once(s, this.transport === 'TLS' ? 'secureConnect' : 'connect');
      this.port = s.localPort ?? 0;
      s.on('data', (d: Buffer) => {
        this.buf += d.toString('utf8');
        for (;;) {
          this.buf = this.buf.replace(/^(\r\n)+/, ''); // keep-alive pongs
          const he = this.buf.indexOf('\r\n\r\n');
          if (he === -1) break;
          const cl = Number(header(this.buf.slice(0, he), 'Content-Length') ?? 0);
          if (this.buf.length < he + 4 + cl) break;
          this.push(this.buf.slice(0, he + 4 + cl));
          this.buf = this.buf.slice(he + 4 + cl);
        }
      });
    }
    return this;
  }

  private push(text: string): void {
    this.got.push({ text, used: false });
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(text: string | Buffer): void {
    if (this.udp) this.udp.send(typeof text === 'string' ? Buffer.from(text) : text, this.edgePort, HOST);
    else this.tcp?.write(text);
  }

  writeRaw(chunk: string): void {
    this.tcp?.write(chunk);
  }

  /** Next unconsumed message matching `pred`, waiting up to `ms`. */
  async next(pred: (m: string) => boolean, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.got.find((r) => !r.used && pred(r.text));
      if (hit) {
        hit.used = true;
        return hit.text;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out; received:\n${this.got.map((r) => r.text.split('\r\n')[0]).join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  count(pred: (m: string) => boolean): number {
    return this.got.filter((r) => pred(r.text)).length;
  }

  close(): void {
    this.udp?.close();
    this.tcp?.destroy();
  }
}

export interface CallIds {
  callId: string;
  fromTag: string;
  branch: string;
}
let seq = 0;
export function ids(): CallIds {
  seq++;
  return {
    callId: `call-${seq}-${Date.now()}@${HOST}`,
    fromTag: `ft${seq}`,
    branch: `z9hG4bKb${seq}x${Date.now()}`,
  };
}

export function request(
  p: Peer,
  edgePort: number,
  method: string,
  c: CallIds,
  o: {
    cseq?: number;
    toTag?: string;
    branch?: string;
    body?: string;
    extra?: string[];
    /** `;rport` in the Via (RFC 3581), asking for responses to the source port; on by default. */
    rport?: boolean;
    /** The Via's sent-by port, where responses go without rport (RFC 3261 18.2.2); our port by default. */
    viaPort?: number;
  } = {},
): string {
  const body = o.body ?? '';
  const lines = [
    `${method} sip:srs@${HOST}:${edgePort} SIP/2.0`,
    `Via: SIP/2.0/${p.transport} ${HOST}:${o.viaPort ?? p.port};branch=${o.branch ?? c.branch}${o.rport === false ? '' : ';rport'}`,
    'Max-Forwards: 70',
    `From: <sip:src@${HOST}>;tag=${c.fromTag}`,
    `To: <sip:srs@${HOST}:${edgePort}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${c.callId}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    `Contact: <sip:src@${HOST}:${p.port}${p.transport === 'TCP' ? ';transport=tcp' : ''}>`,
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

/** A response from our raw peer to a request the edge sent it. */
export function answer(req: string, status: number, reason: string): string {
  const vias = req
    .split('\r\n\r\n')[0]!
    .split('\r\n')
    .filter((l) => /^via:/i.test(l));
  return (
    [
      `SIP/2.0 ${status} ${reason}`,
      ...vias,
      `From: ${header(req, 'From')}`,
      `To: ${header(req, 'To')}`,
      `Call-ID: ${header(req, 'Call-ID')}`,
      `CSeq: ${header(req, 'CSeq')}`,
      'Content-Length: 0',
    ].join('\r\n') + '\r\n\r\n'
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('waitFor timed out');
    await sleep(10);
  }
}
