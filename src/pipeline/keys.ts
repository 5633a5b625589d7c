import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { readIfExists, writeFileDurable } from '../files.js';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { NotFoundError, SrsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KeysRepository } from '../store/keys.js';

/**
 * The recording key pair. Artifacts are encrypted to the public key; only someone with the private
 * key and its passphrase can read them. The private key is always passphrase-protected, on disk
 * and in the catalogue (keys.inCatalogue, default on: every node of a cluster with the passphrase
 * can use a key generated on any of them).
 */

export type KeyType = 'curve25519' | 'rsa4096';

export interface EnsureKeyPairOptions {
  keysDir: string;
  /** Protects the private key. When absent and a key must be generated, one is generated and returned. */
  passphrase?: string | undefined;
  log: Logger;
  /** When given, the key is recorded (active) in the catalogue. */
  db?: { keys: KeysRepository } | undefined;
  /**
   * The private key goes to the catalogue too (locked), and a node with no key files takes the
   * catalogue's active key when its passphrase opens it (default true; keys.inCatalogue).
   */
  inCatalogue?: boolean;
  /** Default curve25519: generated in milliseconds. rsa4096 takes seconds. */
  type?: KeyType;
  userId?: { name: string; email?: string };
}

export interface KeyPairInfo {
  /** Upper-case hex fingerprint of the primary key (as gpg prints it). */
  fingerprint: string;
  publicKeyArmored: string;
  /** Set only when this call generated the key and its passphrase: show it to the operator once. */
  generatedPassphrase?: string;
}

export class KeyPassphraseError extends SrsError {
  constructor(message: string) {
    super('ERR_KEY_PASSPHRASE', message);
  }
}

const PUBLIC = 'public.asc';
const PRIVATE = 'private.asc';

/** Write to a temporary name, fsync, then rename: a crash leaves the old file or the new one, never half. */
async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await writeFileDurable(path, data, { mode, exactMode: true });
}

const fingerprintOf = (key: openpgp.Key) => key.getFingerprint().toUpperCase();

function algorithmOf(key: openpgp.Key): string {
  const info = key.getAlgorithmInfo() as { algorithm: string; bits?: number; curve?: string };
  if (info.bits) return `${info.algorithm.replace(/Encrypt|Sign/g, '')}${info.bits}`;
  return info.curve ?? info.algorithm;
}

/**
 * 192 random bits, base64url, never starting with '-' (gpg would read `--passphrase -x...` as
 * two options: "conflicting commands").
 */
function newPassphrase(): string {
  for (;;) {
    const p = randomBytes(24).toString('base64url');
    if (!p.startsWith('-')) return p;
  }
}

export async function ensureKeyPair(opts: EnsureKeyPairOptions): Promise<KeyPairInfo> {
  const { keysDir, log } = opts;
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  await chmod(keysDir, 0o700);
  const publicPath = join(keysDir, PUBLIC);
  const privatePath = join(keysDir, PRIVATE);

  const existingPublic = await readIfExists(publicPath);
  const existingPrivate = await readIfExists(privatePath);
  if (existingPublic && existingPrivate) {
    const key = await openpgp.readKey({ armoredKey: existingPublic });
    const fingerprint = fingerprintOf(key);
    // Known keys keep their state: `srs keys activate` may have made another key the active one.
    await opts.db?.keys.register({ fingerprint, algorithm: algorithmOf(key), publicKey: existingPublic });
    return { fingerprint, publicKeyArmored: existingPublic };
  }
  if (existingPublic || existingPrivate) {
    throw new NotFoundError(
      `${keysDir} holds only one of ${PUBLIC} and ${PRIVATE}; restore the missing one (or move both away to generate a new pair)`,
    );
  }

  const shared = opts.db && opts.inCatalogue !== false ? await sharedActiveKey(opts) : undefined;
  if (shared) {
    await writeFileAtomic(privatePath, shared.privateKey, 0o600);
    await writeFileAtomic(publicPath, shared.publicKey, 0o644);
    log.info(
      { fingerprint: shared.fingerprint },
      "took the catalogue's active recording key (written to keys/)",
    );
    return { fingerprint: shared.fingerprint, publicKeyArmored: shared.publicKey };
  }

  const generated = opts.passphrase ? undefined : newPassphrase();
  const passphrase = opts.passphrase ?? (generated as string);
  const type = opts.type ?? 'curve25519';
  const started = Date.now();
  const { privateKey, publicKey, fingerprint } = await generateArmored(type, passphrase, opts.userId);
  await writeFileAtomic(privatePath, privateKey, 0o600);
  await writeFileAtomic(publicPath, publicKey, 0o644);
  await opts.db?.keys.register({
    fingerprint,
    algorithm: type,
    publicKey,
    ...(opts.inCatalogue === false ? {} : { privateKey }),
  });
  log.info({ fingerprint, type, ms: Date.now() - started }, 'generated the recording encryption key pair');
  return generated
    ? { fingerprint, publicKeyArmored: publicKey, generatedPassphrase: generated }
    : { fingerprint, publicKeyArmored: publicKey };
}

/**
 * The catalogue's active key with its private half, when this node's passphrase opens it: what a
 * new node of a cluster uses instead of generating a key of its own. Undefined (and a warning
 * when there is a key this node cannot open) otherwise.
 */
async function sharedActiveKey(
  opts: EnsureKeyPairOptions,
): Promise<{ fingerprint: string; publicKey: string; privateKey: string } | undefined> {
  const active = await opts.db?.keys.active();
  const privateKey = active?.publicKey ? await opts.db?.keys.privateKey(active.fingerprint) : undefined;
  if (!active?.publicKey || !privateKey) return undefined;
  const advice = 'give every node the same SRS_KEY_PASSPHRASE';
  if (!opts.passphrase) {
    opts.log.warn(
      { fingerprint: active.fingerprint },
      `the catalogue's active key needs its passphrase: this node generates a passphrase and a key of its own and cannot play or deliver recordings encrypted to the active key (${advice})`,
    );
    return undefined;
  }
  try {
    const locked = await openpgp.readPrivateKey({ armoredKey: privateKey });
    if (fingerprintOf(locked) !== active.fingerprint.toUpperCase()) return undefined;
    await openpgp.decryptKey({ privateKey: locked, passphrase: opts.passphrase });
  } catch (err) {
    opts.log.warn(
      { fingerprint: active.fingerprint, err: (err as Error).message },
      `this node's passphrase does not open the catalogue's active key: it generates a key of its own and cannot play or deliver recordings encrypted to the active key (${advice})`,
    );
    return undefined;
  }
  return { fingerprint: active.fingerprint.toUpperCase(), publicKey: active.publicKey, privateKey };
}

/**
 * Puts the private half of every key in `keysDir` (locked) into the catalogue where it has none
 * (keys from before migration 041, or generated with keys.inCatalogue off): at each start. Only
 * keys the catalogue knows; an unlocked private key is never sent (skipped with a warning).
 * Returns the fingerprints now shared.
 */
export async function shareLocalKeys(
  keysDir: string,
  db: { keys: KeysRepository },
  log: Logger,
): Promise<string[]> {
  const names = (await readdir(keysDir).catch(() => [] as string[])).filter(
    (n) => n === PRIVATE || /^[0-9A-F]{40}\.private\.asc$/.test(n),
  );
  const shared: string[] = [];
  for (const name of names.sort()) {
    const armored = await readIfExists(join(keysDir, name));
    if (!armored) continue;
    let key: openpgp.PrivateKey;
    try {
      key = await openpgp.readPrivateKey({ armoredKey: armored });
    } catch (err) {
      log.warn(
        { file: name, err: (err as Error).message },
        'unreadable private key file: not put in the catalogue',
      );
      continue;
    }
    const fingerprint = fingerprintOf(key);
    if (key.isDecrypted()) {
      log.warn(
        { file: name, fingerprint },
        'private key file not under a passphrase: not put in the catalogue',
      );
      continue;
    }
    const row = await db.keys.get(fingerprint);
    if (!row || row.privateInCatalogue) continue;
    await db.keys.register({
      fingerprint,
      algorithm: row.algorithm,
      publicKey: row.publicKey ?? key.toPublic().armor(),
      privateKey: armored,
    });
    shared.push(fingerprint);
  }
  if (shared.length > 0)
    log.info({ fingerprints: shared }, 'recording private keys put in the catalogue (locked)');
  return shared;
}

async function generateArmored(
  type: KeyType,
  passphrase: string,
  userId?: { name: string; email?: string },
): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    // v4 keys with Curve25519 (legacy encoding) or RSA: what gpg 2.2 and later read.
    ...(type === 'rsa4096'
      ? { type: 'rsa' as const, rsaBits: 4096 }
      : { type: 'ecc' as const, curve: 'curve25519Legacy' as const }),
    userIDs: [userId ?? { name: 'SIPREC recording server' }],
    passphrase,
    format: 'armored',
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { privateKey, publicKey, fingerprint: fingerprintOf(key) };
}

/**
 * `srs keys generate`: a new pair written as `<FINGERPRINT>.public.asc` / `<FINGERPRINT>.private.asc`
 * (the private key under the passphrase) and recorded in the catalogue, active when asked.
 */
export async function generateKeyPair(o: {
  keysDir: string;
  passphrase: string;
  type: KeyType;
  db: { keys: KeysRepository };
  activate: boolean;
  /** Default true: the private key (locked) goes to the catalogue too (keys.inCatalogue). */
  inCatalogue?: boolean;
}): Promise<{ fingerprint: string; type: KeyType; ms: number }> {
  if (!o.passphrase)
    throw new KeyPassphraseError('a non-empty passphrase is needed to protect the new private key');
  await mkdir(o.keysDir, { recursive: true, mode: 0o700 });
  const started = Date.now();
  const { privateKey, publicKey, fingerprint } = await generateArmored(o.type, o.passphrase);
  await writeFileAtomic(join(o.keysDir, `${fingerprint}.private.asc`), privateKey, 0o600);
  await writeFileAtomic(join(o.keysDir, `${fingerprint}.public.asc`), publicKey, 0o644);
  await o.db.keys.add({
    fingerprint,
    algorithm: o.type,
    active: o.activate,
    publicKey,
    ...(o.inCatalogue === false ? {} : { privateKey }),
  });
  return { fingerprint, type: o.type, ms: Date.now() - started };
}

/** Reads a public key file's fingerprint (for `srs keys` messages and checks). */
export async function publicKeyFingerprint(armored: string): Promise<string> {
  return fingerprintOf(await openpgp.readKey({ armoredKey: armored }));
}

/** Where a node finds the private keys it has no file of (KeysRepository.privateKey). */
export interface PrivateKeyCatalogue {
  privateKey(fingerprint: string): Promise<string | undefined>;
}

/**
 * Reads and unlocks the private key: `<FINGERPRINT>.private.asc` when a fingerprint is given and
 * that file exists, else the first-start `private.asc`, else (a key generated on another node)
 * the catalogue's copy when `catalogue` is given. Throws NotFoundError when there is no key (or
 * not the one asked for) and KeyPassphraseError when the passphrase is wrong.
 */
export async function loadPrivateKey(
  keysDir: string,
  fingerprint: string | undefined,
  passphrase: string,
  catalogue?: PrivateKeyCatalogue,
): Promise<openpgp.PrivateKey> {
  const wanted = fingerprint?.toUpperCase();
  const armored =
    (wanted ? await readIfExists(join(keysDir, `${wanted}.private.asc`)) : undefined) ??
    (await readIfExists(join(keysDir, PRIVATE)));
  let locked = armored ? await openpgp.readPrivateKey({ armoredKey: armored }) : undefined;
  if (wanted && catalogue && (!locked || fingerprintOf(locked) !== wanted)) {
    const copy = await catalogue.privateKey(wanted);
    if (copy) locked = await openpgp.readPrivateKey({ armoredKey: copy });
  }
  const where = catalogue ? `${keysDir} or the catalogue` : keysDir;
  if (!locked) throw new NotFoundError(`no private key in ${where}`);
  if (wanted && fingerprintOf(locked) !== wanted) {
    throw new NotFoundError(`the private key in ${where} is ${fingerprintOf(locked)}, not ${fingerprint}`);
  }
  if (locked.isDecrypted()) return locked;
  try {
    return await openpgp.decryptKey({ privateKey: locked, passphrase });
  } catch (err) {
    const msg = (err as Error).message ?? '';
    if (/passphrase/i.test(msg))
      throw new KeyPassphraseError('wrong passphrase for the recording private key');
    throw err;
  }
}
