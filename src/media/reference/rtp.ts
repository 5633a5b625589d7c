/** RTP fixed header parsing (RFC 3550 section 5.1), as native/src/rtp.cc does it. Pure. */

export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
}

export type RtpParse = { kind: 'ok'; packet: RtpPacket } | { kind: 'malformed' } | { kind: 'rtcp' };

export function parseRtp(d: Uint8Array): RtpParse {
  const length = d.length;
  if (length < 12) return { kind: 'malformed' };
  const b0 = d[0] as number;
  if (b0 >> 6 !== 2) return { kind: 'malformed' };
  const second = d[1] as number;
  if (second >= 192 && second <= 223) return { kind: 'rtcp' };
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  let offset = 12 + 4 * (b0 & 0x0f);
  if (offset > length) return { kind: 'malformed' };
  if (extension) {
    if (offset + 4 > length) return { kind: 'malformed' };
    const words = ((d[offset + 2] as number) << 8) | (d[offset + 3] as number);
    offset += 4 + 4 * words;
    if (offset > length) return { kind: 'malformed' };
  }
  let end = length;
  if (padding) {
    const pad = d[length - 1] as number;
    if (pad === 0 || pad > end - offset) return { kind: 'malformed' };
    end -= pad;
  }
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return {
    kind: 'ok',
    packet: {
      payloadType: second & 0x7f,
      marker: (second & 0x80) !== 0,
      seq: view.getUint16(2),
      timestamp: view.getUint32(4),
      ssrc: view.getUint32(8),
      payload: d.subarray(offset, end),
    },
  };
}
