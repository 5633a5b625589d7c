/**
 * A speech-like test signal for encoder benchmarks, deterministic: voiced syllables (a harmonic
 * series on a gliding 90-240 Hz pitch, shaped by two moving formants), unvoiced bursts (noise),
 * a syllable rate near 4 per second and pauses between phrases, at telephone levels. Not speech,
 * but it has speech's spectrum and envelope, which is what an MP3 encoder's cost depends on.
 */
import { linearToUlaw } from '../../src/media/reference/index.js';
import { ulawWavHeader } from '../../src/media/wav.js';

export function speechLikePcm(seconds: number, seed = 1): Int16Array {
  const rate = 8000;
  const out = new Int16Array(Math.round(seconds * rate));
  let x = seed >>> 0 || 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  let phase = 0;
  let i = 0;
  while (i < out.length) {
    // A phrase of 3-12 syllables, then a pause of 0.2-1.2 s.
    const syllables = 3 + Math.floor(rand() * 10);
    for (let s = 0; s < syllables && i < out.length; s++) {
      const len = Math.round(rate * (0.12 + rand() * 0.2));
      const voiced = rand() < 0.8;
      const f0a = 90 + rand() * 150;
      const f0b = f0a * (0.8 + rand() * 0.4);
      const fm1 = 300 + rand() * 600;
      const fm2 = 900 + rand() * 1600;
      const level = 2000 + rand() * 7000;
      for (let k = 0; k < len && i < out.length; k++, i++) {
        const env = Math.sin((Math.PI * k) / len) ** 2;
        let v = 0;
        if (voiced) {
          const f0 = f0a + ((f0b - f0a) * k) / len;
          phase += (2 * Math.PI * f0) / rate;
          for (let h = 1; h * f0 < 3600; h++) {
            const f = h * f0;
            const g = 1 / (1 + ((f - fm1) / 150) ** 2) + 0.5 / (1 + ((f - fm2) / 250) ** 2);
            v += g * Math.sin(h * phase);
          }
          v = v * 0.5 + (rand() - 0.5) * 0.05;
        } else {
          v = (rand() - 0.5) * 0.8;
        }
        out[i] = Math.max(-32768, Math.min(32767, Math.round(level * env * v)));
      }
    }
    const pause = Math.round(rate * (0.2 + rand()));
    for (let k = 0; k < pause && i < out.length; k++, i++) out[i] = Math.round((rand() - 0.5) * 40);
  }
  return out;
}

/** The 8 kHz u-law WAV the mixer writes (58-byte header: fmt with cbSize, fact, data). */
export function ulawWav(pcm: Int16Array): Buffer {
  const n = pcm.length;
  const body = Buffer.alloc(n + (n & 1));
  for (let k = 0; k < n; k++) body[k] = linearToUlaw(pcm[k] ?? 0);
  return Buffer.concat([ulawWavHeader(n), body]);
}
