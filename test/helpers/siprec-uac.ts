/**
 * A small SIPREC client (SRC) over real UDP for attack and fault tests: it binds on any loopback
 * address (127.0.0.2 plays a second host), places an INVITE with N audio m-lines, ACKs the 200,
 * answers the server's in-dialog requests (BYE) with 200 and records them, and can re-offer
 * (re-INVITE), refresh (UPDATE) or hang up (BYE).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface InviteOptions {
  streams?: number;
  /** c= address of the offer (the SRC's media address). */
  sdpHost?: string;
  /** First m= port (each stream +2). */
  sdpPort?: number;
  /** m-lines (0-based) offered with port 0: streams the SRC removes or declines. */
  declined?: number[];
  extraHeaders?: string[];
  /** Every stream's direction (default sendonly; inactive pauses the recording). */
  direction?: 'sendonly' | 'inactive';
  /** XML put into the metadata's root element (vendor extension data). */
  metadataExtra?: string;
  /** Each m-line's media type (default audio). */
  mediaTypes?: string[];
}

export interface InviteResult {
  status: number;
  text: string;
  /** Answered RTP ports (0 = declined), in m-line order; empty unless 2xx. */
  ports: number[];
}

const id = (): string => randomBytes(6).toString('hex');

export class SiprecUac {
  readonly callId = `uac-${id()}@127.0.0.1`;
  readonly requests: string[] = [];
  private sock!: Socket;
  private toHeader = '';
  private cseq = 1;
  private readonly waiters: { re: RegExp; resolve: (m: string) => void }[] = [];
  private readonly fromTag = id();
  /** The host our Contact names (default the local address): a name the server cannot resolve tests its BYE. */
  contactHost: string | undefined;
  /** The port our Contact names (default the local port): a closed one tests the BYE's fallback. */
  contactPort: number | undefined;

  private constructor(
    readonly localAddress: string,
    readonly serverPort: number,
  ) {}

  static async open(serverPort: number, localAddress = '127.0.0.1'): Promise<SiprecUac> {
    const u = new SiprecUac(localAddress, serverPort);
    u.sock = createSocket('udp4');
    await new Promise<void>((r) => u.sock.bind(0, localAddress, () => r()));
    u.sock.on('message', (m) => u.onMessage(m.toString()));
    return u;
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  private onMessage(text: string): void {
    const method = /^([A-Z]+) sip:/.exec(text)?.[1];
    if (method) {
      this.requests.push(text);
      if (method !== 'ACK') this.respond(text, 200, 'OK');
    }
    for (const w of [...this.waiters]) {
      if (w.re.test(text)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(text);
      }
    }
  }

  private respond(req: string, status: number, reason: string): void {
    const keep = req
      .split('\r\n')
      .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .join('\r\n');
    this.send(`SIP/2.0 ${status} ${reason}\r\n${keep}\r\nContent-Length: 0\r\n\r\n`);
  }

  send(text: string): void {
    this.sock.send(text, this.serverPort, '127.0.0.1');
  }

  /** Resolves with the next message matching `re` (requests and responses). */
  waitFor(re: RegExp, timeoutMs = 15000): Promise<string> {
    const seen = this.requests.find((r) => re.test(r));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no message matching ${re} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        re,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  private headers(method: string, cseq: number, branch = `z9hG4bK${id()}`): string[] {
    return [
      `${method} sip:srs@127.0.0.1:${this.serverPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.localAddress}:${this.localPort};branch=${branch}`,
      `From: "SRC" <sip:src@${this.localAddress}:${this.localPort}>;tag=${this.fromTag}`,
      this.toHeader || `To: <sip:srs@127.0.0.1:${this.serverPort}>`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:src@${this.contactHost ?? this.localAddress}:${this.contactPort ?? this.localPort}>;+sip.src`,
      'Max-Forwards: 70',
    ];
  }

  static body(o: InviteOptions): { contentType: string; body: string } {
    const n = o.streams ?? 2;
    const host = o.sdpHost ?? '127.0.0.1';
    const port = o.sdpPort ?? 40000;
    const sdp = ['v=0', `o=SRC 1 1 IN IP4 ${host}`, 's=SIPREC', `c=IN IP4 ${host}`, 't=0 0'];
    for (let i = 0; i < n; i++)
      sdp.push(
        `m=${o.mediaTypes?.[i] ?? 'audio'} ${o.declined?.includes(i) ? 0 : port + 2 * i} RTP/AVP 0`,
        'a=rtpmap:0 PCMU/8000',
        `a=label:${i + 1}`,
        `a=${o.direction ?? 'sendonly'}`,
      );
    const boundary = 'srs-uac-boundary';
    const metadata = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<recording xmlns="urn:ietf:params:xml:ns:recording:1">',
      '  <datamode>complete</datamode>',
      '  <session session_id="dWFjLXNlc3Npb24="><sipSessionID>x</sipSessionID></session>',
      '  <participant participant_id="YWxpY2U="><nameID aor="sip:alice@example.com"/></participant>',
      ...(o.metadataExtra ? [o.metadataExtra] : []),
      '</recording>',
    ].join('\r\n');
    const body =
      `--${boundary}\r\nContent-Type: application/sdp\r\n\r\n${sdp.join('\r\n')}\r\n\r\n` +
      `--${boundary}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n` +
      `${metadata}\r\n--${boundary}--\r\n`;
    return { contentType: `multipart/mixed;boundary=${boundary}`, body };
  }

  /** INVITE (retransmitted until a final response), ACK on 2xx. */
  async invite(o: InviteOptions = {}): Promise<InviteResult> {
    const { contentType, body } = SiprecUac.body(o);
    const msg =
      [
        ...this.headers('INVITE', this.cseq),
        'Require: siprec',
        ...(o.extraHeaders ?? []),
        `Content-Type: ${contentType}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        '',
      ].join('\r\n') + body;
    const final = this.waitFor(/^SIP\/2\.0 [2-6]\d\d [^\n]*\n[\s\S]*CSeq: 1 INVITE/, 20000);
    const timer = setInterval(() => this.send(msg), 500);
    this.send(msg);
    let text: string;
    try {
      text = await final;
    } finally {
      clearInterval(timer);
    }
    const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1]);
    if (status >= 200 && status < 300) {
      this.toHeader = /^To:.*$/im.exec(text)?.[0] ?? '';
      this.send([...this.headers('ACK', this.cseq), 'Content-Length: 0', '', ''].join('\r\n'));
    } else {
      // Non-2xx: ACK in the same transaction (RFC 3261 17.1.1.3).
      const via = /^Via:.*$/im.exec(text)?.[0] ?? '';
      const to = /^To:.*$/im.exec(text)?.[0] ?? '';
      this.send(
        [
          `ACK sip:srs@127.0.0.1:${this.serverPort} SIP/2.0`,
          via,
          `From: "SRC" <sip:src@${this.localAddress}:${this.localPort}>;tag=${this.fromTag}`,
          to,
          `Call-ID: ${this.callId}`,
          'CSeq: 1 ACK',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
    }
    const ports = status === 200 ? [...text.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1])) : [];
    return { status, text, ports };
  }

  /** A re-INVITE in the dialog with a new offer (ACKed on 2xx): its final response, or null after `ms`. */
  async reinvite(o: InviteOptions = {}, ms = 20000): Promise<string | null> {
    const cseq = ++this.cseq;
    const { contentType, body } = SiprecUac.body(o);
    const msg =
      [
        ...this.headers('INVITE', cseq),
        ...(o.extraHeaders ?? []),
        `Content-Type: ${contentType}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        '',
      ].join('\r\n') + body;
    const final = this.waitFor(
      new RegExp(`^SIP/2\\.0 [2-6]\\d\\d[^\\n]*\\n[\\s\\S]*CSeq: ${cseq} INVITE`),
      ms,
    ).catch(() => null);
    const timer = setInterval(() => this.send(msg), 500);
    this.send(msg);
    let text: string | null;
    try {
      text = await final;
    } finally {
      clearInterval(timer);
    }
    if (text?.startsWith('SIP/2.0 2'))
      this.send([...this.headers('ACK', cseq), 'Content-Length: 0', '', ''].join('\r\n'));
    return text;
  }

  /**
   * Starts an in-dialog request with any body (none for an offerless re-INVITE), retransmitted
   * every 500 ms until its final response; returns at once, without ACKing, so that a CANCEL, BYE
   * or UPDATE can follow right behind it.
   */
  start(
    method: 'INVITE' | 'UPDATE' | 'BYE',
    body = '',
    contentType = '',
    ms = 20000,
  ): { cseq: number; branch: string; final: Promise<string | null> } {
    const cseq = ++this.cseq;
    const branch = `z9hG4bK${id()}`;
    const msg =
      [
        ...this.headers(method, cseq, branch),
        ...(contentType ? [`Content-Type: ${contentType}`] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        '',
      ].join('\r\n') + body;
    const final = this.waitFor(
      new RegExp(`^SIP/2\\.0 [2-6]\\d\\d[^\\n]*\\n[\\s\\S]*CSeq: ${cseq} ${method}`),
      ms,
    ).catch(() => null);
    const timer = setInterval(() => this.send(msg), 500);
    this.send(msg);
    void final.finally(() => clearInterval(timer));
    return { cseq, branch, final };
  }

  /** CANCEL of a request start() sent (same branch and CSeq number, RFC 3261 section 9.1). */
  cancel(t: { cseq: number; branch: string }): void {
    const h = this.headers('CANCEL', t.cseq, t.branch);
    this.send([...h.filter((l) => !l.startsWith('Contact:')), 'Content-Length: 0', '', ''].join('\r\n'));
  }

  /** ACK of a 2xx to the re-INVITE with CSeq `cseq`, carrying `sdp` (the answer to an offer in the 200). */
  ack(cseq: number, sdp = ''): void {
    this.send(
      [
        ...this.headers('ACK', cseq),
        ...(sdp ? ['Content-Type: application/sdp'] : []),
        `Content-Length: ${Buffer.byteLength(sdp)}`,
        '',
        '',
      ].join('\r\n') + sdp,
    );
  }

  /** An in-dialog request (BYE, UPDATE): resolves with its final response. */
  async request(method: 'BYE' | 'UPDATE', extra: string[] = []): Promise<string> {
    const cseq = ++this.cseq;
    const msg = [...this.headers(method, cseq), ...extra, 'Content-Length: 0', '', ''].join('\r\n');
    const final = this.waitFor(
      new RegExp(`^SIP/2\\.0 [2-6]\\d\\d[^\\n]*\\n[\\s\\S]*CSeq: ${cseq} ${method}`),
    );
    const timer = setInterval(() => this.send(msg), 500);
    this.send(msg);
    try {
      return await final;
    } finally {
      clearInterval(timer);
    }
  }

  close(): void {
    this.sock.close();
  }
}
