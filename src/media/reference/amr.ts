/**
 * RFC 4867 AMR / AMR-WB depacketizing (single channel, no interleaving, no CRC), the TypeScript twin
 * of depacketizeAmr in native/src/codec.cc: an RTP payload in the octet-aligned or the
 * bandwidth-efficient format becomes storage-format frames (RFC 4867 section 5.3: a header byte
 * FT << 3 | Q << 2, then the frame's bits MSB first, zero-padded to a byte), one after another.
 * Pure; the parity tests require the native result to match it byte for byte.
 */

/** Speech bits per frame type (RFC 4867 section 3.6; 3GPP TS 26.101 and 26.201); -1 reserved. */
const AMR_BITS = [95, 103, 118, 134, 148, 159, 204, 244, 39, 43, 38, 37, -1, -1, -1, 0];
const AMR_WB_BITS = [132, 177, 253, 285, 317, 365, 397, 461, 477, 40, -1, -1, -1, -1, 0, 0];

export interface AmrFrames {
  /** The storage-format frames, concatenated. */
  frames: Buffer;
  /** Frames in the payload (NO_DATA included). */
  count: number;
}

/** The payload's frames, or null when it is malformed (truncated, reserved frame type, > 64 frames). */
export function depacketizeAmrRef(
  payload: Uint8Array,
  wideband: boolean,
  octetAlign: boolean,
): AmrFrames | null {
  const sizes = wideband ? AMR_WB_BITS : AMR_BITS;
  const total = payload.length * 8;
  let pos = 0;
  const bit = (): number => {
    const b = (payload[pos >> 3]! >> (7 - (pos & 7))) & 1;
    pos++;
    return b;
  };
  const read = (n: number): number | null => {
    if (pos + n > total) return null;
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | bit();
    return v;
  };
  if (read(4) === null) return null; // CMR
  if (octetAlign) pos = 8;
  const toc: { ft: number; q: number }[] = [];
  for (;;) {
    const f = read(1);
    const ft = read(4);
    const q = read(1);
    if (f === null || ft === null || q === null) return null;
    if (octetAlign) pos += 2;
    if (toc.length === 64 || sizes[ft]! < 0) return null;
    toc.push({ ft, q });
    if (f === 0) break;
  }
  const out: number[] = [];
  for (const t of toc) {
    const bits = sizes[t.ft]!;
    if (pos + bits > total) return null;
    out.push((t.ft << 3) | (t.q ? 4 : 0));
    const at = out.length;
    for (let i = 0; i < Math.ceil(bits / 8); i++) out.push(0);
    for (let b = 0; b < bits; b++) if (bit()) out[at + (b >> 3)]! |= 0x80 >> (b & 7);
    if (octetAlign) pos = (pos + 7) & ~7;
  }
  return { frames: Buffer.from(out), count: toc.length };
}
