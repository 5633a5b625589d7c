/** G.711 exactly as native/src/g711.cc computes it (reference implementation, pure). */

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

function highBit(v: number): number {
  let n = 0;
  while (v > 1) {
    v >>= 1;
    n++;
  }
  return n;
}

export function linearToUlaw(pcm: number): number {
  let v = pcm;
  let sign = 0;
  if (v < 0) {
    v = -v - 1;
    sign = 0x80;
  }
  if (v > ULAW_CLIP) v = ULAW_CLIP;
  v += ULAW_BIAS;
  const exponent = highBit(v >> 7);
  const mantissa = (v >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(u: number): number {
  const x = ~u & 0xff;
  const exponent = (x >> 4) & 0x07;
  const mantissa = x & 0x0f;
  const magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return x & 0x80 ? -magnitude : magnitude;
}

export function alawToLinear(a: number): number {
  const x = a ^ 0x55;
  let t = (x & 0x0f) << 4;
  const segment = (x & 0x70) >> 4;
  if (segment === 0) {
    t += 8;
  } else {
    t += 0x108;
    t <<= segment - 1;
  }
  return x & 0x80 ? t : -t;
}

export const ULAW_DECODE: Int16Array = Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i));
export const ALAW_TO_ULAW: Uint8Array = Uint8Array.from({ length: 256 }, (_, i) =>
  linearToUlaw(alawToLinear(i)),
);
