/**
 * Secrets the first start generates when none is configured: the recording key's passphrase and
 * the console admin's password, each written once to a mode 0600 file under `<data>/secrets/`.
 * The generated passphrase is read back from its file at every later start while
 * SRS_KEY_PASSPHRASE is unset, and whatever passphrase the server holds is tried on the active key.
 */
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ConsoleApi } from '../api/index.js';
import { readSettingFileText } from '../config/setting-file.js';
import { NotFoundError } from '../errors.js';
import {
  ensureKeyPair,
  KeyPassphraseError,
  loadPrivateKey,
  shareLocalKeys,
  type KeyPairInfo,
} from '../pipeline/keys.js';
import { writeSecretFile } from '../secrets.js';
import type { Database } from '../store/db.js';

/**
 * Whether the server can unlock the active key: `ok`; `missing` (no SRS_KEY_PASSPHRASE and no
 * generated passphrase file); `wrong` (the passphrase does not open it); `no-private-key` (this
 * node has no private half of the active key). Recording works in every state (public key only);
 * playback, export and key rotation need `ok`.
 */
export type PassphraseState = 'ok' | 'missing' | 'wrong' | 'no-private-key';

export interface RecordingKey extends KeyPairInfo {
  /** The passphrase private keys are unlocked with: SRS_KEY_PASSPHRASE, else the generated one. */
  passphrase?: string;
  passphraseState: PassphraseState;
}

/** Where the first start keeps the passphrase it generated (mode 0600). */
export const generatedPassphraseFile = (dataDir: string): string =>
  join(dataDir, 'secrets', 'recording-key-passphrase');

/** The generated passphrase kept in `<data>/secrets/`, or undefined when there is no such file. */
export async function readGeneratedPassphrase(dataDir: string, log?: Logger): Promise<string | undefined> {
  const file = generatedPassphraseFile(dataDir);
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return undefined;
  if (st.isFile() && (st.mode & 0o077) !== 0) {
    // Only its owner may read it: an edit or a copy made it readable by others.
    await chmod(file, 0o600);
    log?.warn({ file }, 'the recording key passphrase file was readable by others: set back to mode 0600');
  }
  const text = (await readSettingFileText(file)).replace(/\r?\n$/, '');
  return text === '' ? undefined : text;
}

/**
 * The active recording key pair, created (with a generated passphrase unless one is set) when
 * missing, or taken from the catalogue (a cluster's key); then this node's private keys are put in
 * the catalogue where it lacks them (keys.inCatalogue). Then the passphrase the server holds is
 * tried on the active key: a wrong or missing one is logged (the server still records).
 */
export async function recordingKey(config: Config, db: Database, log: Logger): Promise<RecordingKey> {
  const keysDir = join(config.dataDir, 'keys');
  const key = await ensureKeyPair({
    keysDir,
    passphrase: config.keys.passphrase,
    log,
    db,
    type: config.keys.firstKeyType,
    inCatalogue: config.keys.inCatalogue,
  });
  if (config.keys.inCatalogue) await shareLocalKeys(keysDir, db, log);
  const file = generatedPassphraseFile(config.dataDir);
  let passphrase = config.keys.passphrase;
  if (key.generatedPassphrase) {
    await writeSecretFile(file, key.generatedPassphrase);
    passphrase = key.generatedPassphrase;
    log.warn(
      { file },
      'generated a passphrase for the recording key, written to this mode 0600 file and read again at each start while SRS_KEY_PASSPHRASE is unset: keep a copy somewhere safe (without it no recording can be played)',
    );
  } else if (passphrase === undefined) {
    passphrase = await readGeneratedPassphrase(config.dataDir, log);
  }
  if (passphrase === undefined) {
    log.warn(
      { file },
      'no recording key passphrase (SRS_KEY_PASSPHRASE unset and no generated passphrase file): playback, export and key rotation are unavailable; calls are still recorded. Set SRS_KEY_PASSPHRASE',
    );
    return { ...key, passphraseState: 'missing' };
  }
  const setting =
    config.keys.passphrase !== undefined
      ? 'keys.passphrase (SRS_KEY_PASSPHRASE)'
      : `the passphrase in ${file}`;
  const active = (await db.keys.active())?.fingerprint ?? key.fingerprint;
  try {
    await loadPrivateKey(keysDir, active, passphrase, config.keys.inCatalogue ? db.keys : undefined);
    return { ...key, passphrase, passphraseState: 'ok' };
  } catch (err) {
    if (err instanceof KeyPassphraseError) {
      log.error(
        { fingerprint: active, setting: 'SRS_KEY_PASSPHRASE' },
        `${setting} does not open the active recording key ${active}: calls are still recorded, but playback, export and key rotation fail until SRS_KEY_PASSPHRASE is set to that key's passphrase`,
      );
      return { ...key, passphrase, passphraseState: 'wrong' };
    }
    if (err instanceof NotFoundError) {
      log.warn(
        { fingerprint: active, err: err.message },
        'this node has no private half of the active recording key: calls are still recorded, but it cannot play or export them',
      );
      return { ...key, passphrase, passphraseState: 'no-private-key' };
    }
    throw err;
  }
}

/** Writes the first admin's generated console password to a mode 0600 file, once. */
export async function keepGeneratedAdminPassword(
  consoleApi: ConsoleApi,
  dataDir: string,
  log: Logger,
): Promise<void> {
  if (!consoleApi.generatedAdminPassword) return;
  const file = join(dataDir, 'secrets', 'admin-password');
  await writeSecretFile(file, consoleApi.generatedAdminPassword);
  log.warn(
    { file, username: 'admin' },
    'generated the web console admin password, written to this mode 0600 file (change it after the first login; set SRS_ADMIN_PASSWORD to choose one)',
  );
}
