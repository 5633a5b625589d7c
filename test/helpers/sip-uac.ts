/**
 * A minimal SIP UAC over UDP on loopback for end-to-end tests that need the answer's SDP (ports,
 * a=crypto) to drive an independent media sender: INVITE (retransmitted until a final response),
 * ACK, re-INVITE in the dialog, BYE. Bodies are SIPREC multipart (SDP + RFC 7865 metadata).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface SipResponse {
  status: number;
  text: string;
  /** The SDP body (empty when none). */
  sdp: string;
  header(name: string): string | undefined;
}

/** One stream of the SIPREC offer: its m-line (without the port) and attributes. */
export interface OfferStream {
  /** e.g. 'RTP/AVP 9' or 'RTP/SAVP 111'. */
  m: string;
  attrs?: string[];
  label: string;
}

export function siprecSdp(streams: readonly OfferStream[], version = 1): string {
  const lines = ['v=0', `o=SRC 4242 ${version} IN IP4 127.0.0.1`, 's=SIPREC', 'c=IN IP4 127.0.0.1', 't=0 0'];
  streams.forEach((s, i) => {
    lines.push(`m=audio ${40000 + 2 * i} ${s.m}`, ...(s.attrs ?? []), `a=label:${s.label}`, 'a=sendonly');
  });
  return `${lines.join('\r\n')}\r\n`;
}

function metadata(labels: readonly string[]): string {
  const sid = Buffer.from('e2e-session').toString('base64');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<recording xmlns="urn:ietf:params:xml:ns:recording:1">',
    '  <datamode>complete</datamode>',
    `  <session session_id="${sid}"><sipSessionID>x</sipSessionID></session>`,
    ...labels.flatMap((l) => {
      const p = Buffer.from(`party-${l}`).toString('base64');
      const st = Buffer.from(`stream-${l}`).toString('base64');
      return [
        `  <participant participant_id="${p}"><nameID aor="sip:party${l}@example.com"/></participant>`,
        `  <stream stream_id="${st}" session_id="${sid}"><label>${l}</label></stream>`,
        `  <participantstreamassoc participant_id="${p}"><send>${st}</send></participantstreamassoc>`,
      ];
    }),
    '</recording>',
    '',
  ].join('\r\n');
}

function parseResponse(text: string): SipResponse {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const status = Number(/^SIP\/2\.0 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const header = (name: string): string | undefined => {
    const l = lines.find((x) => x.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return l?.slice(l.indexOf(':') + 1).trim();
  };
  const body = rest.join('\r\n\r\n');
  const ct = header('Content-Type') ?? '';
  let sdp = '';
  if (/application\/sdp/i.test(ct)) sdp = body;
  else if (/multipart/i.test(ct)) sdp = /application\/sdp\r\n\r\n([\s\S]*?)\r\n--/.exec(body)?.[1] ?? '';
  return { status, text, sdp, header };
}

export class SipUac {
  readonly callId = `e2e-${randomBytes(8).toString('hex')}@127.0.0.1`;
  readonly #fromTag = randomBytes(4).toString('hex');
  #toTag = '';
  #cseq = 0;
  #waiters: ((r: SipResponse) => void)[] = [];

  private constructor(
    private readonly sock: Socket,
    private readonly sipPort: number,
  ) {
    sock.on('message', (m) => {
      const text = m.toString();
      if (!text.startsWith('SIP/2.0 ')) {
        // A request from the SRS (e.g. BYE): answer 200.
        this.#answer(text);
        return;
      }
      const r = parseResponse(text);
      for (const w of this.#waiters.splice(0)) w(r);
    });
  }

  static async open(sipPort: number): Promise<SipUac> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return new SipUac(sock, sipPort);
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  #answer(request: string): void {
    const head = request.split('\r\n\r\n')[0] ?? '';
    const keep = head
      .split('\r\n')
      .filter((l) => /^(via|from|to|call-id|cseq):/i.test(l))
      .join('\r\n');
    this.sock.send(`SIP/2.0 200 OK\r\n${keep}\r\nContent-Length: 0\r\n\r\n`, this.sipPort, '127.0.0.1');
  }

  #request(method: string, branch: string, cseqMethod: string, extra: string[], body: string): string {
    const to = `<sip:srs@127.0.0.1:${this.sipPort}>${this.#toTag ? `;tag=${this.#toTag}` : ''}`;
    return [
      `${method} sip:srs@127.0.0.1:${this.sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.localPort};branch=${branch}`,
      `From: "SRC" <sip:src@127.0.0.1:${this.localPort}>;tag=${this.#fromTag}`,
      `To: ${to}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${this.#cseq} ${cseqMethod}`,
      `Contact: <sip:src@127.0.0.1:${this.localPort}>;+sip.src`,
      'Max-Forwards: 70',
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  }

  /** Sends a request (retransmitted every 500 ms) and resolves with its final response. */
  async #transaction(method: string, extra: string[], body: string): Promise<SipResponse> {
    this.#cseq++;
    const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
    const msg = this.#request(method, branch, method, extra, body);
    const send = (): void => this.sock.send(msg, this.sipPort, '127.0.0.1');
    const final = new Promise<SipResponse>((resolve, reject) => {
      const give = setTimeout(() => reject(new Error(`no final response to ${method}`)), 15000);
      const wait = (r: SipResponse): void => {
        if (r.status < 200 || r.header('CSeq') !== `${this.#cseq} ${method}`) {
          this.#waiters.push(wait);
          return;
        }
        clearTimeout(give);
        resolve(r);
      };
      this.#waiters.push(wait);
    });
    send();
    const timer = setInterval(send, 500);
    try {
      const r = await final;
      if (method === 'INVITE') {
        if (r.status < 300) this.#toTag ||= /;tag=([^;>\s]+)/.exec(r.header('To') ?? '')?.[1] ?? '';
        // ACK: a new transaction for 2xx, the INVITE's branch for an error (RFC 3261 17.1.1.3).
        const ackBranch = r.status < 300 ? `z9hG4bK${randomBytes(6).toString('hex')}` : branch;
        const to = r.header('To') ?? '';
        const ack = this.#request('ACK', ackBranch, 'ACK', [], '').replace(/^To: .*$/m, `To: ${to}`);
        this.sock.send(ack, this.sipPort, '127.0.0.1');
      }
      return r;
    } finally {
      clearInterval(timer);
    }
  }

  /** INVITE (or re-INVITE once answered) with a SIPREC multipart body. */
  invite(sdp: string, labels: readonly string[]): Promise<SipResponse> {
    const boundary = 'e2e-siprec-boundary';
    const body =
      `--${boundary}\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n` +
      `--${boundary}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n` +
      `${metadata(labels)}\r\n--${boundary}--\r\n`;
    return this.#transaction(
      'INVITE',
      ['Require: siprec', `Content-Type: multipart/mixed;boundary=${boundary}`],
      body,
    );
  }

  bye(): Promise<SipResponse> {
    return this.#transaction('BYE', [], '');
  }

  close(): void {
    this.sock.close();
  }
}

/** The answered m-lines: port, profile, payload types and a=crypto values, in order. */
export function answeredStreams(
  sdp: string,
): { port: number; profile: string; pts: number[]; crypto: string[] }[] {
  const out: { port: number; profile: string; pts: number[]; crypto: string[] }[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^m=audio (\d+) (\S+)((?: \d+)*)/.exec(line);
    if (m)
      out.push({ port: Number(m[1]), profile: m[2]!, pts: m[3]!.trim().split(' ').map(Number), crypto: [] });
    const c = /^a=crypto:(.*)$/.exec(line);
    if (c && out.length > 0) out[out.length - 1]!.crypto.push(c[1]!);
  }
  return out;
}
