import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { readIfExists, writeFileDurable } from '../files.js';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { NotFoundError, SrsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KeysRepository } from '../store/keys.js';

/**
 * The recording key pair. Artifacts are encrypted to the public key; only someone with the private
 * key file and its passphrase can read them. The private key on disk is always passphrase-protected.
 */

export type KeyType = 'curve25519' | 'rsa4096';

export interface EnsureKeyPairOptions {
  keysDir: string;
  /** Protects the private key. When absent and a key must be generated, one is generated and returned. */
  passphrase?: string | undefined;
  log: Logger;
  /** When given, the key is recorded (active) in the catalogue. */
  db?: { keys: KeysRepository } | undefined;
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

  const generated = opts.passphrase ? undefined : newPassphrase();
  const passphrase = opts.passphrase ?? (generated as string);
  const type = opts.type ?? 'curve25519';
  const started = Date.now();
  const { privateKey, publicKey, fingerprint } = await generateArmored(type, passphrase, opts.userId);
  await writeFileAtomic(privatePath, privateKey, 0o600);
  await writeFileAtomic(publicPath, publicKey, 0o644);
  await opts.db?.keys.register({ fingerprint, algorithm: type, publicKey });
  log.info({ fingerprint, type, ms: Date.now() - started }, 'generated the recording encryption key pair');
  return generated
    ? { fingerprint, publicKeyArmored: publicKey, generatedPassphrase: generated }
    : { fingerprint, publicKeyArmored: publicKey };
}

/**
 * Reads and unlocks the private key. Throws NotFoundError when there is no key (or not the one
 * asked for) and KeyPassphraseError when the passphrase is wrong.
 */
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
}): Promise<{ fingerprint: string; type: KeyType; ms: number }> {
  if (!o.passphrase)
    throw new KeyPassphraseError('a non-empty passphrase is needed to protect the new private key');
  await mkdir(o.keysDir, { recursive: true, mode: 0o700 });
  const started = Date.now();
  const { privateKey, publicKey, fingerprint } = await generateArmored(o.type, o.passphrase);
  await writeFileAtomic(join(o.keysDir, `${fingerprint}.private.asc`), privateKey, 0o600);
  await writeFileAtomic(join(o.keysDir, `${fingerprint}.public.asc`), publicKey, 0o644);
  await o.db.keys.add({ fingerprint, algorithm: o.type, active: o.activate, publicKey });
  return { fingerprint, type: o.type, ms: Date.now() - started };
}

/** Reads a public key file's fingerprint (for `srs keys` messages and checks). */
export async function publicKeyFingerprint(armored: string): Promise<string> {
  return fingerprintOf(await openpgp.readKey({ armoredKey: armored }));
}

/**
 * Reads and unlocks the private key: `<FINGERPRINT>.private.asc` when a fingerprint is given and
 * that file exists, else the first-start `private.asc`.
 */
export async function loadPrivateKey(
  keysDir: string,
  fingerprint: string | undefined,
  passphrase: string,
): Promise<openpgp.PrivateKey> {
  const armored =
    (fingerprint
      ? await readIfExists(join(keysDir, `${fingerprint.toUpperCase()}.private.asc`))
      : undefined) ?? (await readIfExists(join(keysDir, PRIVATE)));
  if (!armored) throw new NotFoundError(`no private key in ${keysDir}`);
  const locked = await openpgp.readPrivateKey({ armoredKey: armored });
  if (fingerprint && fingerprintOf(locked) !== fingerprint.toUpperCase()) {
    throw new NotFoundError(`the private key in ${keysDir} is ${fingerprintOf(locked)}, not ${fingerprint}`);
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
