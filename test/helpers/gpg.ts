import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './server.js';

/** Decrypts an OpenPGP file with the real gpg binary, importing the armored private key into a throw-away home. */
export async function gpgDecrypt(privateKeyFile: string, passphrase: string, file: string): Promise<Buffer> {
  const home = await mkdtemp(join(tmpdir(), 'srs-gnupg-'));
  try {
    const base = [
      '--homedir',
      home,
      '--batch',
      '--yes',
      '--pinentry-mode',
      'loopback',
      `--passphrase=${passphrase}`,
    ];
    const imp = await run('gpg', [...base, '--import', privateKeyFile]);
    if (imp.code !== 0) throw new Error(`gpg --import failed: ${imp.stderr}`);
    const out = join(home, 'plain.out');
    const dec = await run('gpg', [...base, '--output', out, '--decrypt', file]);
    if (dec.code !== 0) throw new Error(`gpg --decrypt failed: ${dec.stderr}`);
    return await readFile(out);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
