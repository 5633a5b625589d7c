/**
 * The locked private keys in the catalogue (migration 041), against a real Postgres: what a node
 * puts there at start (shareLocalKeys), what it never puts there, and where loadPrivateKey looks.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair, generateKeyPair, loadPrivateKey, shareLocalKeys } from '../../src/pipeline/keys.js';
import { KeyPassphraseError } from '../../src/pipeline/index.js';
import { NotFoundError } from '../../src/errors.js';
import { openDatabase, type Database } from '../../src/store/db.js';

const log = createLogger('silent');
const PASS = 'unit-passphrase';

async function armoredPair(passphrase?: string) {
  const k = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'test' }],
    ...(passphrase ? { passphrase } : {}),
    format: 'armored',
  });
  const fingerprint = (await openpgp.readKey({ armoredKey: k.publicKey })).getFingerprint().toUpperCase();
  return { ...k, fingerprint };
}

describe('recording private keys in the catalogue', { timeout: 120_000 }, () => {
  let db: Database;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-keys-cat-'));
    db = await openDatabase({ dataDir: join(dir, 'db'), log });
  });
  after(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a node shares its locked keys at start, never an unlocked one nor a key the catalogue does not know', async () => {
    const keysDir = join(dir, 'a-keys');
    // The first-start pair, as a node before migration 041 left it: no private key in the catalogue.
    const first = await ensureKeyPair({
      keysDir,
      passphrase: PASS,
      log,
      db,
      type: 'curve25519',
      inCatalogue: false,
    });
    assert.equal(await db.keys.privateKey(first.fingerprint), undefined);
    // A `srs keys generate` key known to the catalogue, an unlocked key it knows, and one it does not.
    const known = await armoredPair(PASS);
    await writeFile(join(keysDir, `${known.fingerprint}.private.asc`), known.privateKey);
    await db.keys.add({
      fingerprint: known.fingerprint,
      algorithm: 'curve25519',
      active: false,
      publicKey: known.publicKey,
    });
    const open = await armoredPair();
    await writeFile(join(keysDir, `${open.fingerprint}.private.asc`), open.privateKey);
    await db.keys.add({
      fingerprint: open.fingerprint,
      algorithm: 'curve25519',
      active: false,
      publicKey: open.publicKey,
    });
    const stranger = await armoredPair(PASS);
    await writeFile(join(keysDir, `${stranger.fingerprint}.private.asc`), stranger.privateKey);

    const shared = await shareLocalKeys(keysDir, db, log);
    assert.deepEqual(shared.sort(), [first.fingerprint, known.fingerprint].sort());
    assert.equal(await db.keys.privateKey(known.fingerprint), known.privateKey);
    assert.equal(await db.keys.privateKey(open.fingerprint), undefined, 'an unlocked key is never sent');
    assert.equal(await db.keys.get(stranger.fingerprint), undefined, 'an unknown key file is not registered');
    // Idempotent: nothing new the second time, and the catalogue's copy is not replaced.
    assert.deepEqual(await shareLocalKeys(keysDir, db, log), []);
  });

  it('loadPrivateKey takes the catalogue’s copy only when keys/ has no such key, and still needs the passphrase', async () => {
    const other = join(dir, 'other-node-keys');
    const g = await generateKeyPair({
      keysDir: other,
      passphrase: PASS,
      type: 'curve25519',
      db,
      activate: false,
    });
    const emptyDir = join(dir, 'no-keys');
    await assert.rejects(loadPrivateKey(emptyDir, g.fingerprint, PASS), NotFoundError);
    const key = await loadPrivateKey(emptyDir, g.fingerprint, PASS, db.keys);
    assert.equal(key.getFingerprint().toUpperCase(), g.fingerprint);
    assert.ok(key.isDecrypted());
    await assert.rejects(loadPrivateKey(emptyDir, g.fingerprint, 'wrong', db.keys), KeyPassphraseError);
    // Unknown everywhere: NotFoundError naming both places.
    await assert.rejects(loadPrivateKey(emptyDir, 'A'.repeat(40), PASS, db.keys), /or the catalogue/);
    // With keys.inCatalogue off the new key stays on its node.
    const kept = await generateKeyPair({
      keysDir: other,
      passphrase: PASS,
      type: 'curve25519',
      db,
      activate: false,
      inCatalogue: false,
    });
    assert.equal(await db.keys.privateKey(kept.fingerprint), undefined);
  });

  it('a node without keys takes the active key only when its passphrase opens it', async () => {
    const active = await db.keys.active();
    assert.ok(active);
    assert.ok(await db.keys.privateKey(active.fingerprint), 'the active key is shared');
    const wrong = await ensureKeyPair({
      keysDir: join(dir, 'wrong'),
      passphrase: 'not it',
      log,
      db,
      type: 'curve25519',
    });
    assert.notEqual(wrong.fingerprint, active.fingerprint, 'a wrong passphrase: a key of its own');
    const none = await ensureKeyPair({ keysDir: join(dir, 'none'), log, db, type: 'curve25519' });
    assert.ok(none.generatedPassphrase, 'no passphrase: it generates one and a key of its own');
    assert.notEqual(none.fingerprint, active.fingerprint);
    const right = await ensureKeyPair({
      keysDir: join(dir, 'right'),
      passphrase: PASS,
      log,
      db,
      type: 'curve25519',
    });
    assert.equal(right.fingerprint, active.fingerprint);
    // Written to keys/ like a first-start pair, so the next start reads it from there.
    const again = await ensureKeyPair({
      keysDir: join(dir, 'right'),
      passphrase: PASS,
      log,
      db,
      type: 'curve25519',
    });
    assert.equal(again.fingerprint, active.fingerprint);
    assert.ok(await loadPrivateKey(join(dir, 'right'), active.fingerprint, PASS));
  });
});
