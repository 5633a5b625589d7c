import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as openpgp from 'openpgp';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair, loadPrivateKey } from '../../src/pipeline/keys.js';
import {
  CiphertextHashError,
  decryptArtifact,
  PgpDecryptError,
  type Ciphertext,
} from '../../src/pgp-decrypt.js';
import { encryptToBuffer, publicKeyOf } from '../../src/pipeline/pgp.js';
import { run } from '../helpers/server.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The streaming reader of stored OpenPGP files: what our writer makes (definite and partial
 * lengths) comes back whole from a buffer and from a stream cut anywhere; a gpg message goes
 * through openpgp.js; altered, truncated and foreign-key messages are refused.
 */
describe('OpenPGP reader', { timeout: 60_000 }, () => {
  let dir: string;
  let publicKey: openpgp.PublicKey;
  let privateKey: openpgp.PrivateKey;
  let publicArmored: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-pgpdec-'));
    const k = await ensureKeyPair({ keysDir: join(dir, 'keys'), log, type: 'curve25519' });
    publicArmored = k.publicKeyArmored;
    publicKey = await publicKeyOf(k.publicKeyArmored);
    privateKey = await loadPrivateKey(join(dir, 'keys'), k.fingerprint, k.generatedPassphrase as string);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `cipher` as a file streamed in chunks of `chunk` bytes. */
  const streamOf = async (cipher: Buffer, chunk: number): Promise<Ciphertext> => {
    const f = join(dir, `s${randomBytes(4).toString('hex')}.gpg`);
    await writeFile(f, cipher);
    return { body: createReadStream(f, { highWaterMark: chunk }), size: cipher.length };
  };

  // 0, 120, 5,000, 300,000: one, two and five length octets; 2.5 MiB: over several slices; then
  // partial lengths of 512 and 1,024 bytes (the literal body of 1,018 bytes: exactly 2 x 512).
  const cases: [number, number | undefined][] = [
    [0, undefined],
    [120, undefined],
    [5_000, undefined],
    [300_000, undefined],
    [2_621_447, undefined],
    [1_018, 9],
    [100_000, 10],
    [2_621_447, 9],
  ];
  for (const [size, partLog2] of cases) {
    it(`${size} bytes${partLog2 ? ` in parts of 2^${partLog2}` : ''}: from a buffer and from streams`, async () => {
      const plain = randomBytes(size);
      const m = await encryptToBuffer(plain, publicKey, 'a.wav', { partLog2 });
      // Chunks of 1 byte (small messages), 333 bytes (length octets cut) and 64 KiB.
      const chunks = size <= 5_000 ? [1, 333, 65_536] : [333, 65_536];
      for (const input of [m.cipher, ...(await Promise.all(chunks.map((c) => streamOf(m.cipher, c))))]) {
        const r = await decryptArtifact(input, privateKey, { sha256Cipher: m.sha256Cipher });
        assert.ok(r.plain.equals(plain), 'the plaintext');
        assert.equal(r.plain.length, size);
        assert.equal(r.sha256Plain, sha(plain));
        assert.equal(r.sha256Cipher, m.sha256Cipher);
        assert.equal(r.via, 'stream');
        if (partLog2 === undefined)
          assert.equal(r.plain.buffer.byteLength, size, 'one buffer of the final size');
        // The slack: the length octets of the parts (two layers), a few bytes per GiB in use.
        else assert.ok(r.plain.buffer.byteLength - size <= 2 * (size / 2 ** partLog2 + 6), 'one buffer');
      }
    });
  }

  it('a gpg message: compressed through openpgp.js, and uncompressed', async () => {
    const home = await mkdtemp(join(tmpdir(), 'srs-gnupg-'));
    try {
      const base = ['--homedir', home, '--batch', '--yes', '--trust-model', 'always'];
      const pub = join(home, 'pub.asc');
      await writeFile(pub, publicArmored);
      assert.equal((await run('gpg', [...base, '--import', pub])).code, 0);
      // Compressed (forced: our keys prefer none), a shape openpgp.js reads for us.
      const plain = Buffer.from('a recording '.repeat(20_000));
      const src = join(home, 'plain.bin');
      await writeFile(src, plain);
      const fpr = publicKey.getFingerprint().toUpperCase();
      for (const z of [
        ['--compress-algo', 'zlib'],
        ['-z', '0'],
      ]) {
        const out = join(home, `c${z.length}.gpg`);
        const enc = await run('gpg', [...base, ...z, '--recipient', fpr, '--output', out, '--encrypt', src]);
        assert.equal(enc.code, 0, enc.stderr);
        const g = createReadStream(out, { highWaterMark: 1000 });
        const { size } = await stat(out);
        const r = await decryptArtifact({ body: g, size }, privateKey);
        assert.ok(r.plain.equals(plain), `gpg ${z.join(' ')}`);
        if (z[0] === '--compress-algo') assert.equal(r.via, 'openpgp');
        assert.equal(r.sha256Plain, sha(plain));
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('a flipped byte is refused: the MDC, the check octets, or the expected hash first', async () => {
    const plain = randomBytes(10_000);
    for (const partLog2 of [undefined, 9]) {
      const m = await encryptToBuffer(plain, publicKey, '', { partLog2 });
      const flip = (at: number) => {
        const bad = Buffer.from(m.cipher);
        bad[at] = (bad[at] as number) ^ 0x01;
        return bad;
      };
      // In the content (parts of 512: not on a length octet).
      const content = flip(m.cipher.length - 5_003);
      await assert.rejects(decryptArtifact(content, privateKey), (e: Error) => {
        assert.ok(e instanceof PgpDecryptError, String(e));
        assert.match(e.message, /altered: its integrity check \(MDC\) does not match/);
        return true;
      });
      await assert.rejects(
        decryptArtifact(await streamOf(content, 4096), privateKey, { sha256Cipher: m.sha256Cipher }),
        CiphertextHashError,
      );
      // The 15th octet of the encrypted prefix: its repeat (the 17th) no longer matches.
      const l = m.cipher[1] as number; // the PKESK's length (one or two octets), then the SEIPD
      const at = 1 + (l < 192 ? 1 + l : 2 + ((l - 192) << 8) + (m.cipher[2] as number) + 192);
      assert.equal(m.cipher[at], 0xd2);
      const len = m.cipher[at + 1] as number;
      const prefix = at + 1 + (len < 192 || len >= 224 ? 1 : len < 255 ? 2 : 5) + 1;
      await assert.rejects(decryptArtifact(flip(prefix + 14), privateKey), /check octets differ/);
    }
  });

  it('a truncated message is refused, from a buffer and from a stream', async () => {
    const plain = randomBytes(50_000);
    for (const partLog2 of [undefined, 9]) {
      const m = await encryptToBuffer(plain, publicKey, '', { partLog2 });
      for (const cut of [1, 21, 23, 30_000, m.cipher.length - 200]) {
        const short = m.cipher.subarray(0, m.cipher.length - cut);
        for (const input of [short, await streamOf(short, 4096)])
          await assert.rejects(decryptArtifact(input, privateKey), (e: Error) => {
            assert.ok(e instanceof PgpDecryptError, `cut ${cut}: ${String(e)}`);
            assert.match(e.message, /truncated/);
            return true;
          });
      }
    }
  });

  it('a message for another key is refused', async () => {
    const other = await ensureKeyPair({ keysDir: join(dir, 'other'), log, type: 'curve25519' });
    const m = await encryptToBuffer(randomBytes(1000), await publicKeyOf(other.publicKeyArmored));
    await assert.rejects(decryptArtifact(m.cipher, privateKey), /cannot decrypt the session key/);
  });
});
