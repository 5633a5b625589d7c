import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair, loadPrivateKey, type KeyType } from '../../src/pipeline/keys.js';
import { encryptToBuffer, encryptToFile, publicKeyOf } from '../../src/pipeline/pgp.js';
import { gpgDecrypt } from '../helpers/gpg.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The one-pass OpenPGP writer: gpg and openpgp.js both decrypt what it writes, for each key type,
 * from memory and from a file, at sizes that need each packet length encoding (1, 2 and 5
 * octets); a flipped bit is caught by the integrity check; the hashes are those of the bytes.
 */
for (const type of ['curve25519', 'rsa4096'] as KeyType[]) {
  describe(`OpenPGP writer, ${type} key`, { timeout: 120_000 }, () => {
    let dir: string;
    let keysDir: string;
    let passphrase: string;
    let publicKey: openpgp.PublicKey;
    let privateKey: openpgp.PrivateKey;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'srs-pgp-'));
      keysDir = join(dir, 'keys');
      const k = await ensureKeyPair({ keysDir, log, type });
      assert.ok(k.generatedPassphrase);
      passphrase = k.generatedPassphrase;
      publicKey = await publicKeyOf(k.publicKeyArmored);
      privateKey = await loadPrivateKey(keysDir, k.fingerprint, passphrase);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const openpgpDecrypt = async (cipher: Buffer) => {
      const message = await openpgp.readMessage({ binaryMessage: cipher });
      const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
      return Buffer.from(data as Uint8Array);
    };

    // 0 and 120 bytes: one-octet packet lengths; 5,000: two octets; 300,000 and 2.5 MiB (three
    // slices): five octets.
    for (const size of [0, 120, 5_000, 300_000, 2_621_447]) {
      it(`${size} bytes from memory: gpg and openpgp.js decrypt it, hashes match`, async () => {
        const plain = randomBytes(size);
        const dest = join(dir, `m${size}.gpg`);
        const r = await encryptToFile(plain, dest, publicKey, `m${size}.wav`);
        const cipher = await readFile(dest);
        assert.equal(r.bytes, cipher.length);
        assert.equal(r.sha256Cipher, sha(cipher));
        assert.equal(r.sha256Plain, sha(plain));
        assert.ok(cipher.length > size + 40, 'ciphertext carries the session key and the MDC');
        assert.ok((await gpgDecrypt(join(keysDir, 'private.asc'), passphrase, dest)).equals(plain), 'gpg');
        assert.ok((await openpgpDecrypt(cipher)).equals(plain), 'openpgp.js');
      });
    }

    it('from a file, and into memory, with the same result', async () => {
      const plain = randomBytes(700_001);
      const src = join(dir, 'plain.bin');
      await writeFile(src, plain);
      const dest = join(dir, 'f.gpg');
      const r = await encryptToFile({ path: src, size: plain.length }, dest, publicKey);
      assert.equal(r.sha256Plain, sha(plain));
      assert.ok((await gpgDecrypt(join(keysDir, 'private.asc'), passphrase, dest)).equals(plain));
      const m = await encryptToBuffer({ path: src, size: plain.length }, publicKey);
      assert.equal(m.bytes, m.cipher.length);
      assert.equal(m.sha256Cipher, sha(m.cipher));
      assert.equal(m.sha256Plain, r.sha256Plain);
      assert.notEqual(m.sha256Cipher, r.sha256Cipher, 'a fresh session key and prefix per message');
      assert.ok((await openpgpDecrypt(m.cipher)).equals(plain));
    });

    it('a flipped bit in the ciphertext is refused by gpg and openpgp.js', async () => {
      const plain = randomBytes(10_000);
      const m = await encryptToBuffer(plain, publicKey);
      const bad = Buffer.from(m.cipher);
      const at = bad.length - 5_000;
      bad[at] = (bad[at] as number) ^ 0x01;
      const f = join(dir, 'bad.gpg');
      await writeFile(f, bad);
      await assert.rejects(gpgDecrypt(join(keysDir, 'private.asc'), passphrase, f), /gpg --decrypt failed/);
      await assert.rejects(openpgpDecrypt(bad));
    });

    it('a file that changes size while it is encrypted is an error, and no file is left', async () => {
      const src = join(dir, 'short.bin');
      await writeFile(src, randomBytes(1000));
      const dest = join(dir, 'short.gpg');
      await assert.rejects(encryptToFile({ path: src, size: 2000 }, dest, publicKey), /changed size/);
      await assert.rejects(readFile(dest), { code: 'ENOENT' });
    });
  });
}
