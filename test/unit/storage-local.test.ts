import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ArtifactReader } from '../../src/api/artifacts.js';
import { createLogger } from '../../src/log.js';
import { artifactDir } from '../../src/pipeline/finalize.js';
import { ensureKeyPair, loadPrivateKey } from '../../src/pipeline/keys.js';
import { encryptToFile, publicKeyOf } from '../../src/pipeline/pgp.js';
import {
  ChecksumMismatchError,
  createArtifactStore,
  InvalidKeyError,
  LocalArtifactStore,
  ObjectExistsError,
  ObjectNotFoundError,
  RangeNotSatisfiableError,
  sha256Of,
} from '../../src/storage/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const read = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};
const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe('local artifact store', () => {
  let dir: string;
  let store: LocalArtifactStore;
  const key = 'recordings/2026/12/02/rec-1.wav.gpg';
  const body = randomBytes(300_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-storage-'));
    store = new LocalArtifactStore(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is the default backend, rooted at the data directory', () => {
    const s = createArtifactStore({ backend: 'local' }, dir);
    assert.equal(s.backend, 'local');
    assert.equal(s.location, dir);
  });

  it('puts a buffer under the key: the bytes as given, 0600 file, 0750 directories, no temporary left', async () => {
    const r = await store.put(key, body, { sha256: sha(body), size: body.length });
    assert.deepEqual(r, { key, size: body.length, sha256: sha(body), created: true });
    const path = join(dir, key);
    assert.ok((await readFile(path)).equals(body));
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'recordings/2026/12/02'))).mode & 0o777, 0o750 & ~process.umask());
    assert.deepEqual(await readdir(join(dir, 'recordings/2026/12/02')), ['rec-1.wav.gpg']);
    assert.deepEqual(await sha256Of(store, key), { sha256: sha(body), size: body.length });
  });

  it('finds the same content again instead of writing it twice, refuses other content unless overwrite', async () => {
    const before = (await stat(join(dir, key))).mtimeMs;
    const again = await store.put(key, Buffer.from(body), { sha256: sha(body) });
    assert.equal(again.created, false);
    assert.equal((await stat(join(dir, key))).mtimeMs, before);
    const other = randomBytes(10);
    await assert.rejects(store.put(key, other, { sha256: sha(other) }), (e: unknown) => {
      assert.ok(e instanceof ObjectExistsError);
      assert.equal(e.existingSha256, sha(body));
      return true;
    });
    assert.ok((await readFile(join(dir, key))).equals(body));
    const k2 = 'recordings/2026/12/02/rec-9.mp3.gpg';
    await store.put(k2, Buffer.from('first'), { sha256: sha(Buffer.from('first')) });
    const r = await store.put(k2, other, { sha256: sha(other), overwrite: true });
    assert.equal(r.created, true);
    assert.ok((await readFile(join(dir, k2))).equals(other));
    assert.equal(await store.delete(k2), true);
  });

  it('refuses content that does not match its SHA-256 or size, from a buffer, a file or a stream, and leaves nothing', async () => {
    const k = 'recordings/2026/12/02/bad.wav.gpg';
    const wrong = sha(Buffer.from('something else'));
    await assert.rejects(store.put(k, body, { sha256: wrong }), ChecksumMismatchError);
    const src = join(dir, 'source.bin');
    await writeFile(src, body);
    await assert.rejects(store.put(k, { path: src }, { sha256: wrong }), ChecksumMismatchError);
    await assert.rejects(
      store.put(k, Readable.from([body.subarray(0, 1000), body.subarray(1000)]), { sha256: wrong }),
      ChecksumMismatchError,
    );
    await assert.rejects(
      store.put(k, { path: src }, { sha256: sha(body), size: body.length + 1 }),
      ChecksumMismatchError,
    );
    assert.equal(await store.exists(k), false);
    assert.deepEqual(await readdir(join(dir, 'recordings/2026/12/02')), ['rec-1.wav.gpg']);
    await rm(src);
  });

  it('puts from a file and from a stream', async () => {
    const src = join(dir, 'big.bin');
    const big = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(src, big);
    const a = await store.put('recordings/2026/12/03/a.wav.gpg', { path: src }, { sha256: sha(big) });
    assert.equal(a.size, big.length);
    const b = await store.put(
      'recordings/2026/12/03/b.wav.gpg',
      Readable.from([big.subarray(0, 5), big.subarray(5)]),
      {
        sha256: sha(big),
        size: big.length,
      },
    );
    assert.equal(b.size, big.length);
    assert.ok((await readFile(join(dir, 'recordings/2026/12/03/b.wav.gpg'))).equals(big));
    await rm(src);
  });

  it('heads, gets whole and ranged, and says what is missing or out of range', async () => {
    const h = await store.head(key);
    assert.equal(h?.size, body.length);
    assert.equal(await store.head('recordings/none'), undefined);
    const whole = await store.get(key);
    assert.deepEqual([whole.start, whole.end, whole.size], [0, body.length - 1, body.length]);
    assert.ok((await read(whole.body)).equals(body));
    const part = await store.get(key, { start: 1000, end: 1999 });
    assert.deepEqual([part.start, part.end], [1000, 1999]);
    assert.ok((await read(part.body)).equals(body.subarray(1000, 2000)));
    const tail = await store.get(key, { start: body.length - 10, end: body.length + 100 });
    assert.ok((await read(tail.body)).equals(body.subarray(body.length - 10)));
    await assert.rejects(store.get(key, { start: body.length }), RangeNotSatisfiableError);
    await assert.rejects(store.get(key, { start: 10, end: 5 }), RangeNotSatisfiableError);
    await assert.rejects(store.get('recordings/none'), ObjectNotFoundError);
  });

  it('lists by prefix in key order, without temporaries of writes in progress', async () => {
    await writeFile(join(dir, 'recordings/2026/12/02/rec-1.wav.gpg.0badcafe.tmp'), 'x');
    const keys = (await collect(store.list('recordings/2026/12/'))).map((o) => o.key);
    assert.deepEqual(keys, [
      'recordings/2026/12/02/rec-1.wav.gpg',
      'recordings/2026/12/03/a.wav.gpg',
      'recordings/2026/12/03/b.wav.gpg',
    ]);
    assert.deepEqual(
      (await collect(store.list('recordings/2026/12/03/b'))).map((o) => o.key),
      ['recordings/2026/12/03/b.wav.gpg'],
    );
    assert.deepEqual(await collect(store.list('nothing/here/')), []);
  });

  it('refuses keys that are not plain relative paths', async () => {
    for (const bad of ['../etc/passwd', '/abs', 'a//b', 'a/../b', '', 'a/b/', 'a\\b'])
      await assert.rejects(store.put(bad, body, { sha256: sha(body) }), InvalidKeyError, bad);
    await assert.rejects(store.get('../x'), InvalidKeyError);
  });

  it('deletes by wiping; a second delete finds nothing', async () => {
    assert.equal(await store.delete('recordings/2026/12/03/a.wav.gpg'), true);
    assert.equal(await store.exists('recordings/2026/12/03/a.wav.gpg'), false);
    assert.equal(await store.delete('recordings/2026/12/03/a.wav.gpg'), false);
  });
});

describe('local artifact store and the pipeline write the same tree', { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-storage-parity-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a pipeline artifact stored through the interface lands at the same path with the same bytes, and the API reader decrypts it', async () => {
    const log = createLogger('silent');
    const keysDir = join(dir, 'keys');
    const k = await ensureKeyPair({ keysDir, log, type: 'curve25519' });
    const publicKey = await publicKeyOf(k.publicKeyArmored);
    const plain = randomBytes(50_000);
    const id = '0b1e7c4e-4d2b-4c59-9a4e-7d0f1b2c3d4e';
    const rel = join(artifactDir(new Date('2026-12-02T10:00:00Z')), `${id}.wav.gpg`);
    // Today's path: the pipeline encrypts straight into <dataDir>/recordings/YYYY/MM/DD.
    const pipelineDir = join(dir, 'pipeline');
    await mkdir(join(pipelineDir, artifactDir(new Date('2026-12-02T10:00:00Z'))), {
      recursive: true,
      mode: 0o750,
    });
    const r = await encryptToFile(plain, join(pipelineDir, rel), publicKey, `${id}.wav`);
    const cipher = await readFile(join(pipelineDir, rel));
    // Through the interface: the same ciphertext, the same key.
    const storeDir = join(dir, 'store');
    const stored = await new LocalArtifactStore(storeDir).put(rel, cipher, {
      sha256: r.sha256Cipher,
      size: r.bytes,
    });
    assert.equal(stored.key, 'recordings/2026/12/02/0b1e7c4e-4d2b-4c59-9a4e-7d0f1b2c3d4e.wav.gpg');
    assert.ok((await readFile(join(storeDir, rel))).equals(cipher));
    assert.equal(
      (await stat(join(storeDir, rel))).mode & 0o777,
      (await stat(join(pipelineDir, rel))).mode & 0o777,
    );
    const reader = new ArtifactReader(storeDir, (fp) =>
      loadPrivateKey(keysDir, fp, k.generatedPassphrase as string),
    );
    const out = await reader.read(id, {
      kind: 'wav',
      path: rel,
      bytes: r.bytes,
      sha256Plain: r.sha256Plain,
      sha256Cipher: r.sha256Cipher,
      keyFingerprint: k.fingerprint,
    });
    assert.ok(out.equals(plain));
  });
});
