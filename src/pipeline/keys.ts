import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
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

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write to a temporary name, fsync, then rename: a crash leaves the old file or the new one, never half. */
async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(tmp, mode);
  await rename(tmp, path);
}

const fingerprintOf = (key: openpgp.Key) => key.getFingerprint().toUpperCase();

function algorithmOf(key: openpgp.Key): string {
  const info = key.getAlgorithmInfo() as { algorithm: string; bits?: number; curve?: string };
  if (info.bits) return `${info.algorithm.replace(/Encrypt|Sign/g, '')}${info.bits}`;
  return info.curve ?? info.algorithm;
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
    await opts.db?.keys.add({ fingerprint, algorithm: algorithmOf(key), active: true });
    return { fingerprint, publicKeyArmored: existingPublic };
  }
  if (existingPublic || existingPrivate) {
    throw new NotFoundError(
      `${keysDir} holds only one of ${PUBLIC} and ${PRIVATE}; restore the missing one (or move both away to generate a new pair)`,
    );
  }

  const generated = opts.passphrase ? undefined : randomBytes(24).toString('base64url');
  const passphrase = opts.passphrase ?? (generated as string);
  const type = opts.type ?? 'curve25519';
  const started = Date.now();
  const { privateKey, publicKey } = await openpgp.generateKey({
    // v4 keys with Curve25519 (legacy encoding) or RSA: what gpg 2.2 and later read.
    ...(type === 'rsa4096'
      ? { type: 'rsa' as const, rsaBits: 4096 }
      : { type: 'ecc' as const, curve: 'curve25519Legacy' as const }),
    userIDs: [opts.userId ?? { name: 'SIPREC recording server' }],
    passphrase,
    format: 'armored',
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  const fingerprint = fingerprintOf(key);
  await writeFileAtomic(privatePath, privateKey, 0o600);
  await writeFileAtomic(publicPath, publicKey, 0o644);
  await opts.db?.keys.add({ fingerprint, algorithm: type, active: true });
  log.info({ fingerprint, type, ms: Date.now() - started }, 'generated the recording encryption key pair');
  return generated
    ? { fingerprint, publicKeyArmored: publicKey, generatedPassphrase: generated }
    : { fingerprint, publicKeyArmored: publicKey };
}

/**
 * Reads and unlocks the private key. Throws NotFoundError when there is no key (or not the one
 * asked for) and KeyPassphraseError when the passphrase is wrong.
 */
export async function loadPrivateKey(
  keysDir: string,
  fingerprint: string | undefined,
  passphrase: string,
): Promise<openpgp.PrivateKey> {
  const armored = await readIfExists(join(keysDir, PRIVATE));
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
