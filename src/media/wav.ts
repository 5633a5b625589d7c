/**
 * The header of the mixer's WAV files: mono (or one channel per leg) G.711 u-law, 8 kHz, 8 bits,
 * WAVE_FORMAT_MULAW with a fact chunk, 58 bytes, as native/src/mixer.cc writes it. Used where the
 * server writes such a file itself (a call's interactions joined, src/api/resources/interactions.ts)
 * and by the reference mixer (src/media/reference/mixer.ts).
 */

export const WAV_HEADER_SIZE = 58;

/** The header of `samples` samples per channel; the data that follows takes a pad byte when odd-sized. */
export function ulawWavHeader(samples: number, channels = 1): Buffer {
  const bytes = samples * channels;
  const h = Buffer.alloc(WAV_HEADER_SIZE);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(WAV_HEADER_SIZE - 8 + bytes + (bytes & 1), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(18, 16);
  h.writeUInt16LE(7, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(8000 * channels, 28);
  h.writeUInt16LE(channels, 32);
  h.writeUInt16LE(8, 34);
  h.writeUInt16LE(0, 36);
  h.write('fact', 38, 'latin1');
  h.writeUInt32LE(4, 42);
  h.writeUInt32LE(samples, 46);
  h.write('data', 50, 'latin1');
  h.writeUInt32LE(bytes, 54);
  return h;
}
