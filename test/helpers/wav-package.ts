import { Readable } from 'node:stream';
import wav from 'wav';

export interface WavPackageResult {
  format: { audioFormat: number; channels: number; sampleRate: number; bitDepth: number; ulaw?: boolean };
  dataBytes: number;
}

/**
 * Reads a WAV with the `wav` package: an independent reader of the files our native mixer writes,
 * so a header our own parser accepts by mistake is still caught.
 */
export function readWithWavPackage(buf: Buffer): Promise<WavPackageResult> {
  return new Promise((resolve, reject) => {
    const reader = new wav.Reader();
    let format: WavPackageResult['format'] | null = null;
    let dataBytes = 0;
    reader.on('format', (f: WavPackageResult['format']) => (format = f));
    reader.on('data', (d: Buffer) => (dataBytes += d.length));
    reader.on('error', reject);
    reader.on('end', () => (format ? resolve({ format, dataBytes }) : reject(new Error('no format chunk'))));
    Readable.from([buf]).pipe(reader);
  });
}
