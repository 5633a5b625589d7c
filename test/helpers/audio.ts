/**
 * Audio helpers for tests: G.711 codecs (ITU-T G.711, the same algorithms as the ITU-T G.191
 * reference coder and the native engine), tone generation, a strict WAV reader, and Goertzel tone
 * detection to check "is this frequency present in this window of the recording"; spool files
 * written and read as the native engine does.
 */

import { readFile } from 'node:fs/promises';
import { ulawWavHeader } from '../../src/media/wav.js';

/** Sample rate of everything here: narrowband telephony. */
export const SAMPLE_RATE = 8000;

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

/** Decodes one G.711 u-law byte to a 16-bit linear sample (range -32124..32124). */
export function ulawToLinear(u: number): number {
  const x = ~u & 0xff;
  const exponent = (x >> 4) & 0x07;
  const mantissa = x & 0x0f;
  const magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return x & 0x80 ? 0 - magnitude : magnitude; // 0 - 0 is +0, -0 would not equal 0 in deepEqual
}

/**
 * Encodes a 16-bit linear sample to G.711 u-law. Negative samples use the one's complement magnitude
 * (-x - 1), as the G.191 reference coder does.
 */
export function linearToUlaw(sample: number): number {
  let v = Math.max(-32768, Math.min(32767, Math.trunc(sample)));
  let sign = 0;
  if (v < 0) {
    v = -v - 1;
    sign = 0x80;
  }
  v = Math.min(v, ULAW_CLIP) + ULAW_BIAS;
  const exponent = 31 - Math.clz32(v >> 7);
  const mantissa = (v >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Decodes one G.711 A-law byte to a 16-bit linear sample (range -32256..32256). */
export function alawToLinear(a: number): number {
  const x = (a ^ 0x55) & 0xff;
  let t = (x & 0x0f) << 4;
  const segment = (x & 0x70) >> 4;
  if (segment === 0) t += 8;
  else t = (t + 0x108) << (segment - 1);
  return x & 0x80 ? t : -t;
}

/** Encodes a 16-bit linear sample to G.711 A-law (13-bit magnitude, even bits inverted). */
export function linearToAlaw(sample: number): number {
  let v = Math.max(-32768, Math.min(32767, Math.trunc(sample))) >> 3;
  let mask: number;
  if (v >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  let segment = 0;
  while (segment < 8 && v > (0x20 << segment) - 1) segment++;
  if (segment >= 8) return 0x7f ^ mask;
  const mantissa = segment < 2 ? (v >> 1) & 0x0f : (v >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ mask;
}

/** Encodes linear samples to u-law bytes. */
export function encodeUlaw(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToUlaw(samples[i] ?? 0);
  return out;
}

/** Encodes linear samples to A-law bytes. */
export function encodeAlaw(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToAlaw(samples[i] ?? 0);
  return out;
}

/** Decodes u-law bytes to linear samples. */
export function decodeUlaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ulawToLinear(bytes[i] ?? 0xff);
  return out;
}

/**
 * A sine tone at 8 kHz.
 * @param freqHz frequency
 * @param ms length in milliseconds (rounded to whole samples)
 * @param amplitude peak amplitude, default 8000 (about -12 dBFS)
 */
export function tone(freqHz: number, ms: number, amplitude = 8000): Int16Array {
  const n = Math.round((ms * SAMPLE_RATE) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / SAMPLE_RATE));
  return out;
}

/** A mono 8 kHz u-law WAV (format tag 7, with a fact chunk) holding `ms` of a tone at `hz`. */
export function toneWav(ms: number, hz = 440, amplitude = 12000): Buffer {
  const u = encodeUlaw(tone(hz, ms, amplitude));
  return Buffer.concat([ulawWavHeader(u.length), u]);
}

export interface WavInfo {
  /** 1 = PCM, 6 = A-law, 7 = u-law. */
  formatTag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  byteRate: number;
  blockAlign: number;
  /** Size of the fmt chunk (16, 18 or more). */
  fmtSize: number;
  hasFact: boolean;
  /** Sample count from the fact chunk, or null without one. */
  factSamples: number | null;
  /** The data chunk's bytes (without the pad byte). */
  data: Buffer;
}

/**
 * Parses a RIFF/WAVE file strictly: the RIFF size must equal the file size - 8, every chunk must fit
 * (with its even-padding byte), fmt must precede data, and exactly one fmt and one data chunk must be
 * present. Throws an Error that says what is wrong.
 */
export function parseWav(buf: Buffer): WavInfo {
  if (buf.length < 12) throw new Error(`WAV: ${buf.length} bytes is too short for a RIFF header`);
  if (buf.toString('latin1', 0, 4) !== 'RIFF') throw new Error('WAV: no RIFF magic');
  if (buf.toString('latin1', 8, 12) !== 'WAVE') throw new Error('WAV: RIFF form is not WAVE');
  const riffSize = buf.readUInt32LE(4);
  if (riffSize !== buf.length - 8)
    throw new Error(`WAV: RIFF size ${riffSize} but file has ${buf.length - 8} bytes after it`);
  let fmt: Omit<WavInfo, 'hasFact' | 'factSamples' | 'data'> | undefined;
  let factSamples: number | null = null;
  let data: Buffer | undefined;
  let pos = 12;
  while (pos < buf.length) {
    if (pos + 8 > buf.length) throw new Error(`WAV: truncated chunk header at ${pos}`);
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    const padded = size + (size & 1);
    if (body + padded > buf.length) throw new Error(`WAV: chunk '${id}' of ${size} bytes overruns the file`);
    if (id === 'fmt ') {
      if (fmt) throw new Error('WAV: two fmt chunks');
      if (size < 16) throw new Error(`WAV: fmt chunk of ${size} bytes`);
      fmt = {
        formatTag: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        byteRate: buf.readUInt32LE(body + 8),
        blockAlign: buf.readUInt16LE(body + 12),
        bitsPerSample: buf.readUInt16LE(body + 14),
        fmtSize: size,
      };
      if (size >= 18) {
        const cbSize = buf.readUInt16LE(body + 16);
        if (18 + cbSize !== size)
          throw new Error(`WAV: fmt cbSize ${cbSize} does not match chunk size ${size}`);
      }
    } else if (id === 'fact') {
      if (size < 4) throw new Error(`WAV: fact chunk of ${size} bytes`);
      factSamples = buf.readUInt32LE(body);
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV: data chunk before fmt');
      if (data) throw new Error('WAV: two data chunks');
      data = buf.subarray(body, body + size);
    }
    pos = body + padded;
  }
  if (!fmt) throw new Error('WAV: no fmt chunk');
  if (!data) throw new Error('WAV: no data chunk');
  if (fmt.blockAlign !== (fmt.channels * fmt.bitsPerSample) / 8)
    throw new Error('WAV: blockAlign inconsistent');
  if (fmt.byteRate !== fmt.sampleRate * fmt.blockAlign) throw new Error('WAV: byteRate inconsistent');
  return { ...fmt, hasFact: factSamples !== null, factSamples, data };
}

/** Decodes a mono G.711 u-law WAV (format tag 7) to linear samples. */
export function decodeUlawWav(buf: Buffer): Int16Array {
  const info = parseWav(buf);
  if (info.formatTag !== 7 || info.bitsPerSample !== 8 || info.channels !== 1) {
    throw new Error(`WAV: expected mono 8-bit u-law (7), got tag ${info.formatTag}, ${info.channels} ch`);
  }
  return decodeUlaw(info.data);
}

/**
 * Goertzel: squared magnitude |X(f)|^2 of the DFT of samples[startSample, startSample+length) at
 * freqHz. A pure tone of amplitude A filling the window gives about (A * length / 2)^2.
 */
export function goertzelPower(
  samples: ArrayLike<number>,
  startSample: number,
  length: number,
  freqHz: number,
): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / SAMPLE_RATE);
  let s1 = 0;
  let s2 = 0;
  for (let i = startSample; i < startSample + length; i++) {
    const s0 = (samples[i] ?? 0) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/** Mean square of samples[startSample, startSample+length) (0 outside the array). */
export function meanSquare(samples: ArrayLike<number>, startSample: number, length: number): number {
  let energy = 0;
  for (let i = startSample; i < startSample + length; i++) energy += (samples[i] ?? 0) ** 2;
  return length > 0 ? energy / length : 0;
}

/**
 * How much of a window's energy sits at freqHz, in dB: 0 dB means a pure tone at that frequency,
 * -10 dB a tenth of the energy. A window quieter than `silenceRms` (default 100, about -50 dBFS)
 * returns -Infinity: there is no tone in silence. Typical use: present if > -3, absent if < -20.
 */
export function toneLevelDb(
  samples: ArrayLike<number>,
  startMs: number,
  endMs: number,
  freqHz: number,
  silenceRms = 100,
): number {
  const start = Math.round((startMs * SAMPLE_RATE) / 1000);
  const length = Math.round((endMs * SAMPLE_RATE) / 1000) - start;
  if (length <= 0) throw new RangeError(`empty window ${startMs}..${endMs} ms`);
  const ms = meanSquare(samples, start, length);
  if (ms < silenceRms * silenceRms) return -Infinity;
  const fraction = (2 * goertzelPower(samples, start, length, freqHz)) / (length * length * ms);
  return 10 * Math.log10(Math.max(fraction, 1e-12));
}

/** RMS level of a window in dBFS (full scale = 32768); -Infinity for digital silence. */
export function rmsDbfs(samples: ArrayLike<number>, startMs: number, endMs: number): number {
  const start = Math.round((startMs * SAMPLE_RATE) / 1000);
  const length = Math.round((endMs * SAMPLE_RATE) / 1000) - start;
  const ms = meanSquare(samples, start, length);
  return ms === 0 ? -Infinity : 10 * Math.log10(ms / (32768 * 32768));
}

/**
 * The records of a spool file as the engine wrote it: a 16-byte header, then records [u32 offset]
 * [u16 count][u-law bytes]. A file shorter than its header, or a record cut short at the end (the writer still appending, or a kill
 * in the middle of a write) is left out.
 */
export async function readSpool(path: string): Promise<{ offset: number; bytes: Buffer }[]> {
  const buf = await readFile(path);
  if (buf.length < 16) return []; // still being created
  if (buf.toString('latin1', 0, 8) !== 'SRSPOOL1') throw new Error(`${path}: not a spool file`);
  const out: { offset: number; bytes: Buffer }[] = [];
  for (let pos = 16; pos + 6 <= buf.length;) {
    const offset = buf.readUInt32LE(pos);
    const count = buf.readUInt16LE(pos + 4);
    if (pos + 6 + count > buf.length) break;
    out.push({ offset, bytes: buf.subarray(pos + 6, pos + 6 + count) });
    pos += 6 + count;
  }
  return out;
}

/** A spool file as the native engine writes it: header, then (offset u32, count u16, u-law bytes). */
export function spoolFile(samples: Int16Array): Buffer {
  const head = Buffer.alloc(16);
  head.write('SRSPOOL1', 0, 'latin1');
  head.writeUInt32LE(8000, 8);
  const parts: Buffer[] = [head];
  const u = encodeUlaw(samples);
  for (let off = 0; off < u.length; off += 160) {
    const rec = Buffer.alloc(6);
    rec.writeUInt32LE(off, 0);
    const n = Math.min(160, u.length - off);
    rec.writeUInt16LE(n, 4);
    parts.push(rec, u.subarray(off, off + n));
  }
  return Buffer.concat(parts);
}

/** The first sample index at or after `from` whose magnitude exceeds `threshold`. */
export function onset(x: Int16Array, from: number, threshold = 1500): number {
  for (let i = from; i < x.length; i++) if (Math.abs(x[i]!) > threshold) return i;
  return -1;
}
