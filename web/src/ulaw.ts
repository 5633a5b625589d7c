/** G.711 u-law to float samples in [-1, 1] (ITU-T G.711), through a 256-entry table. */
const TABLE = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  TABLE[i] = (u & 0x80 ? 0x84 - t : t - 0x84) / 32768;
}

export function ulawToFloat(bytes: Uint8Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = TABLE[bytes[i] as number] as number;
  return out;
}
