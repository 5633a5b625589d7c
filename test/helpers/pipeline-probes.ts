/**
 * What the finalize tests (test/unit/pipeline-finalize.test.ts) hand the pipeline and look at
 * afterwards: a stand-in for the native mixer, and the files left under the data directory.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { MixOptions, MixResult } from '../../src/media/types.js';

/** Stands in for the native mixer: checks the spool exists and returns a known WAV (in memory, or written to wavPath). */
export class TestMixer {
  calls = 0;
  toFile = 0;
  failWith: string | undefined;
  constructor(readonly wav: Buffer) {}
  async mix(o: MixOptions): Promise<MixResult> {
    this.calls++;
    if (this.failWith) throw new Error(this.failWith);
    await stat(o.spoolDir);
    const r = { samples: this.wav.length - 58, durationMs: 1000, legs: 1 };
    if (!o.wavPath) return { ...r, data: Buffer.from(this.wav) };
    this.toFile++;
    await writeFile(o.wavPath, this.wav);
    return { ...r, wavPath: o.wavPath };
  }
}

/** Every file under the data dir except the database and keys: these must all be ciphertext. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = relative(dir, join(e.parentPath, e.name));
    if (p.startsWith('pg/') || p.startsWith('keys/') || /^pg\.(json|owner|lock)$/.test(p)) continue;
    out.push(p);
  }
  return out.sort();
}
