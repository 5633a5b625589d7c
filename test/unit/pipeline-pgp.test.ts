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
 * octets, and partial body lengths); a flipped bit is caught by the integrity check; the hashes are those of the bytes.
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

    /** The SEIPD packet's first length octet (the packet after the PKESK). */
    const seipdLength = (cipher: Buffer) => {
      assert.equal(cipher[0], 0xc1, 'a PKESK first');
      const l = cipher[1] as number;
      const pkesk = l < 192 ? 2 + l : l < 224 ? 3 + ((l - 192) << 8) + (cipher[2] as number) + 192 : NaN;
      assert.equal(cipher[pkesk], 0xd2, 'then a SEIPD');
      return cipher[pkesk + 1] as number;
    };

    // A message over 4 GiB (an MP3 of a long call at a high bit rate) needs partial body lengths;
    // forced here at small sizes, with one key type (the framing does not depend on it). 1,018
    // bytes: a literal body of exactly 2 x 512; 2.5 MiB: parts across the 1 MiB slices.
    const partial =
      type === 'curve25519'
        ? ([
            [1_018, 9],
            [2_621_447, 9],
          ] as const)
        : [];
    for (const [size, log2] of partial) {
      it(`${size} bytes in parts of 2^${log2}: gpg and openpgp.js decrypt it, hashes match`, async () => {
        const plain = randomBytes(size);
        const dest = join(dir, `p${size}.gpg`);
        const r = await encryptToFile(plain, dest, publicKey, `p${size}.mp3`, { partLog2: log2 });
        const cipher = await readFile(dest);
        assert.equal(r.bytes, cipher.length);
        assert.equal(r.sha256Cipher, sha(cipher));
        assert.equal(r.sha256Plain, sha(plain));
        const first = seipdLength(cipher);
        if (size > 0) assert.equal(first, 0xe0 | log2, 'a partial body length');
        assert.ok((await gpgDecrypt(join(keysDir, 'private.asc'), passphrase, dest)).equals(plain), 'gpg');
        assert.ok((await openpgpDecrypt(cipher)).equals(plain), 'openpgp.js');
        const m = await encryptToBuffer({ path: dest, size: cipher.length }, publicKey, '', {
          partLog2: log2,
        });
        assert.equal(m.bytes, m.cipher.length);
        assert.ok((await openpgpDecrypt(m.cipher)).equals(cipher), 'from a file, into memory');
      });
    }

    it('a plaintext over 4 GiB is not refused for its size', async () => {
      // Declared 4 GiB + 100 bytes; the file is shorter, so the stream ends at its end: what
      // matters is that the size itself was taken (the messages above show the format).
      const src = join(dir, 'declared-long.bin');
      await writeFile(src, randomBytes(1000));
      const dest = join(dir, 'declared-long.gpg');
      await assert.rejects(
        encryptToFile({ path: src, size: 2 ** 32 + 100 }, dest, publicKey),
        /changed size while it was encrypted \(1000 of 4294967396 bytes\)/,
      );
      await assert.rejects(readFile(dest), { code: 'ENOENT' });
    });

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
