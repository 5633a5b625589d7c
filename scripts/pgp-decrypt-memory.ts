/**
 * Peak memory and time of decrypting one stored recording (docs/pipeline-and-keys.md).
 *
 *   npx tsx scripts/pgp-decrypt-memory.ts [MB ...]          (default: 50 200)
 *   SRS_WAYS=openpgp npx tsx scripts/pgp-decrypt-memory.ts   (one way only)
 *
 * For each size, in a fresh child process per way: encrypts that many MB of random bytes to a
 * file with the pipeline's writer (curve25519 key), then decrypts it once as the readers do:
 * `openpgp` (the whole object read into memory, then openpgp.decrypt, as before
 * src/pgp-decrypt.ts) and `stream` (decryptArtifact on the store's stream). Prints the
 * growth of the peak RSS (VmHWM, reset after the encryption) over the RSS before the read, and
 * the time of the read.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { createLogger } from '../src/log.js';
import { ensureKeyPair, loadPrivateKey } from '../src/pipeline/keys.js';
import { encryptToFile, publicKeyOf } from '../src/pipeline/pgp.js';
import { LocalArtifactStore } from '../src/storage/index.js';
import { readObject } from '../src/storage/read.js';

const status = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;

async function child(mb: number, way: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-pgpmem-'));
  try {
    const k = await ensureKeyPair({
      keysDir: join(dir, 'keys'),
      log: createLogger('silent'),
      type: 'curve25519',
    });
    const key = await loadPrivateKey(join(dir, 'keys'), k.fingerprint, k.generatedPassphrase as string);
    let plain: Buffer | null = randomBytes(mb << 20);
    const want = createHash('sha256').update(plain).digest('hex');
    await encryptToFile(plain, join(dir, 'a.gpg'), await publicKeyOf(k.publicKeyArmored), 'a.wav');
    plain = null;
    (globalThis as { gc?: () => void }).gc?.();
    const store = new LocalArtifactStore(dir);
    writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
    const base = status('VmRSS');
    const t0 = performance.now();
    let sha: string;
    let length: number;
    if (way === 'openpgp') {
      const { data } = await readObject(store, 'a.gpg');
      const message = await openpgp.readMessage({ binaryMessage: data });
      const r = await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary' });
      const out = Buffer.from(r.data as Uint8Array);
      sha = createHash('sha256').update(out).digest('hex');
      length = out.length;
    } else {
      const { decryptArtifact } = await import('../src/pgp-decrypt.js');
      const g = await store.get('a.gpg');
      const r = await decryptArtifact({ body: g.body, size: g.size }, key);
      sha = r.sha256Plain;
      length = r.plain.length;
    }
    const ms = performance.now() - t0;
    if (sha !== want || length !== mb << 20) throw new Error('wrong plaintext');
    const peak = status('VmHWM') - base;
    process.stdout.write(
      `${way.padEnd(8)} ${String(mb).padStart(5)} MB: peak RSS +${Math.round(peak / 2 ** 20)} MB (${(peak / (mb << 20)).toFixed(2)}x), ${Math.round(ms)} ms\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(Number(process.argv[3]), process.argv[4] as string);
else {
  const sizes = process.argv.slice(2).map(Number);
  for (const mb of sizes.length ? sizes : [50, 200])
    for (const way of (process.env.SRS_WAYS ?? 'openpgp,stream').split(',')) {
      const r = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', String(mb), way],
        { stdio: 'inherit' },
      );
      if (r.status !== 0) process.exitCode = 1;
    }
}
