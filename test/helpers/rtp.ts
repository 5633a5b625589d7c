/**
 * RTP helpers for tests: build packets (RFC 3550 section 5.1, with optional CSRCs, header extension
 * and padding) and send a G.711 stream from a Node dgram socket, paced at real time.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { encodeAlaw, encodeUlaw, SAMPLE_RATE, tone } from './audio.js';

export interface RtpHeaderExtension {
  /** 16-bit profile-defined value (0xBEDE for RFC 8285 one-byte headers). */
  profile: number;
  /** Extension body; its length must be a multiple of 4. */
  data: Buffer;
}

export interface BuildRtpOptions {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker?: boolean;
  payload: Uint8Array;
  csrcs?: readonly number[];
  extension?: RtpHeaderExtension;
  /** Number of padding octets to append (1..255), the last of which holds the count. */
  padding?: number;
}

/** Serializes one RTP packet. Values are masked to their field widths (seq 16 bits, ts/ssrc 32). */
export function buildRtp(o: BuildRtpOptions): Buffer {
  const csrcs = o.csrcs ?? [];
  if (csrcs.length > 15) throw new RangeError('at most 15 CSRCs');
  if (o.extension && o.extension.data.length % 4 !== 0)
    throw new RangeError('extension data must be 4-byte words');
  const padding = o.padding ?? 0;
  if (padding < 0 || padding > 255) throw new RangeError('padding must be 0..255');
  const extLength = o.extension ? 4 + o.extension.data.length : 0;
  const headerLength = 12 + 4 * csrcs.length + extLength;
  const buf = Buffer.alloc(headerLength + o.payload.length + padding);
  buf[0] = 0x80 | (padding > 0 ? 0x20 : 0) | (o.extension ? 0x10 : 0) | csrcs.length;
  buf[1] = (o.marker ? 0x80 : 0) | (o.pt & 0x7f);
  buf.writeUInt16BE(o.seq & 0xffff, 2);
  buf.writeUInt32BE(o.ts >>> 0, 4);
  buf.writeUInt32BE(o.ssrc >>> 0, 8);
  let pos = 12;
  for (const c of csrcs) {
    buf.writeUInt32BE(c >>> 0, pos);
    pos += 4;
  }
  if (o.extension) {
    buf.writeUInt16BE(o.extension.profile & 0xffff, pos);
    buf.writeUInt16BE(o.extension.data.length / 4, pos + 2);
    o.extension.data.copy(buf, pos + 4);
    pos += extLength;
  }
  buf.set(o.payload, pos);
  if (padding > 0) buf[buf.length - 1] = padding;
  return buf;
}

export interface SendRtpStreamOptions {
  host: string;
  port: number;
  pt: number;
  codec: 'PCMU' | 'PCMA';
  /** Linear samples at 8 kHz; the last packet may be shorter than ptime. */
  samples: Int16Array;
  ssrc: number;
  /** First sequence number, default random. */
  startSeq?: number;
  /** First RTP timestamp, default random. */
  startTs?: number;
  ptimeMs?: number;
  /** Pace packets at real time (default); false sends them back to back. */
  realtime?: boolean;
  /** Extra header fields on every packet (to exercise the receiver's parser). */
  header?: Pick<BuildRtpOptions, 'csrcs' | 'extension' | 'padding'>;
  /** Send from this socket instead of a new one (it is not closed). */
  socket?: Socket;
}

export interface SendRtpStreamResult {
  packets: number;
  /** performance.now() when the first packet was handed to the socket. */
  firstSendAt: number;
  /**
   * performance.now() when the socket said the first packet was sent. The packet left between
   * firstSendAt and this: on a loaded machine the process can stall in between (tens of ms).
   */
  firstSentAt: number;
  /** performance.now() when the last packet was handed to the socket. */
  lastSendAt: number;
  /** Sequence number and timestamp the next packet would carry (to continue the stream). */
  nextSeq: number;
  nextTs: number;
}

/**
 * Sends `samples` as an RTP stream. Real-time pacing follows an absolute schedule (packet i leaves
 * at start + i * ptime), so timer lateness does not accumulate into drift.
 */
export async function sendRtpStream(o: SendRtpStreamOptions): Promise<SendRtpStreamResult> {
  const ptimeMs = o.ptimeMs ?? 20;
  const perPacket = Math.round((ptimeMs * SAMPLE_RATE) / 1000);
  const encoded = o.codec === 'PCMU' ? encodeUlaw(o.samples) : encodeAlaw(o.samples);
  const socket = o.socket ?? createSocket(isIP(o.host) === 6 ? 'udp6' : 'udp4');
  const realtime = o.realtime ?? true;
  let seq = o.startSeq ?? Math.floor(Math.random() * 0x10000);
  let ts = o.startTs ?? Math.floor(Math.random() * 0x100000000);
  let packets = 0;
  let firstSendAt = 0;
  let firstSentAt = 0;
  let lastSendAt = 0;
  const errors: Error[] = [];
  const sent: Promise<void>[] = [];
  const start = performance.now();
  try {
    for (let off = 0; off < encoded.length; off += perPacket) {
      if (realtime) {
        const wait = start + packets * ptimeMs - performance.now();
        if (wait > 1) await sleep(wait);
      } else if (packets % 50 === 49) {
        await sleep(1); // let the receiver drain its socket buffer
      }
      const payload = encoded.subarray(off, off + perPacket);
      const pkt = buildRtp({ pt: o.pt, seq, ts, ssrc: o.ssrc, marker: packets === 0, payload, ...o.header });
      lastSendAt = performance.now();
      const first = packets === 0;
      if (first) firstSendAt = lastSendAt;
      sent.push(
        new Promise<void>((resolve) => {
          socket.send(pkt, o.port, o.host, (err) => {
            if (first) firstSentAt = performance.now();
            if (err) errors.push(err);
            resolve();
          });
        }),
      );
      packets++;
      seq = (seq + 1) & 0xffff;
      ts = (ts + payload.length) >>> 0;
    }
    await Promise.all(sent);
  } finally {
    if (!o.socket) socket.close();
  }
  if (errors.length > 0) throw errors[0];
  return { packets, firstSendAt, firstSentAt, lastSendAt, nextSeq: seq, nextTs: ts };
}

/**
 * Sends `ms` of a 440 Hz tone as PCMU (PT 0) at real time to 127.0.0.1:`port` (a leg's port), from
 * a socket bound on 127.0.0.1 and closed once everything is sent.
 */
export async function sendLoopbackTone(port: number, ms: number, ssrc: number, hz = 440): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  try {
    await sendRtpStream({
      host: '127.0.0.1',
      port,
      pt: 0,
      codec: 'PCMU',
      samples: tone(hz, ms),
      ssrc,
      socket,
    });
  } finally {
    socket.close();
  }
}

/** Sends prepared datagrams to host:port, waiting gapMs between them (0: back to back). */
export async function sendDatagrams(
  host: string,
  port: number,
  datagrams: readonly Buffer[],
  gapMs = 0,
): Promise<void> {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  try {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) =>
        socket.send(d, port, host, (err) => (err ? reject(err) : resolve())),
      );
      if (gapMs > 0) await sleep(gapMs);
    }
  } finally {
    socket.close();
  }
}
