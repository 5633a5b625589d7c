/**
 * Secrets the first start generates when none is configured: the recording key's passphrase and
 * the console admin's password, each written once to a mode 0600 file under `<data>/secrets/`.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ConsoleApi } from '../api/index.js';
import { ensureKeyPair, shareLocalKeys, type KeyPairInfo } from '../pipeline/keys.js';
import { writeSecretFile } from '../secrets.js';
import type { Database } from '../store/db.js';

/**
 * The active recording key pair, created (with a generated passphrase unless one is set) when
 * missing, or taken from the catalogue (a cluster's key); then this node's private keys are put in
 * the catalogue where it lacks them (keys.inCatalogue).
 */
export async function recordingKey(config: Config, db: Database, log: Logger): Promise<KeyPairInfo> {
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
  if (key.generatedPassphrase) {
    const file = join(config.dataDir, 'secrets', 'recording-key-passphrase');
    await writeSecretFile(file, key.generatedPassphrase);
    log.warn(
      { file },
      'generated a passphrase for the recording key, written to this mode 0600 file: keep it somewhere safe, remove the file, and set SRS_KEY_PASSPHRASE',
    );
  }
  return key;
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
