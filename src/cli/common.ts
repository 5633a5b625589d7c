import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { readSettingFileText } from '../config/setting-file.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import { SrsError } from '../errors.js';
import { CliError } from './cli-error.js';
import { generatedPassphraseFile, readGeneratedPassphrase } from '../app/first-start.js';
import { createLogger } from '../log.js';
import { openDatabase, type Database } from '../store/db.js';
import { createArtifactStore, type ArtifactStore } from '../storage/index.js';

/**
 * What every `srs` command shares: its streams, its errors (one line on stderr and an exit code,
 * as `srs recordings` documents them), the passphrase, the database and the artifact store opened
 * for one command, and the audit entries it writes.
 */

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadStream;
}

export { CliError } from './cli-error.js';

/** A whole-number option: digits only (no sign, exponent or fraction), from `min` to `max`; else exit 2. */
export function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new CliError(`${flag} must be a whole number from ${min} to ${max}`, 2);
  return n;
}

/**
 * A number of seconds from `min` to `max`, at most three decimals (`30`, `0.5`), as milliseconds;
 * else exit 2.
 */
export function seconds(flag: string, value: string, min: number, max: number): number {
  const n = /^[0-9]{1,7}(\.[0-9]{1,3})?$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new CliError(`${flag} must be a number of seconds from ${min} to ${max} (e.g. 30 or 0.5)`, 2);
  return Math.round(n * 1000);
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(io: CliIo, question: string): Promise<string> {
  const stdin = io.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('cancelled', 2));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    io.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

export async function passphraseFor(config: Config, io: CliIo, file: string | undefined): Promise<string> {
  if (file) {
    let text: string;
    try {
      text = await readSettingFileText(file);
    } catch (err) {
      throw new CliError(`cannot read passphrase file ${file}: ${(err as Error).message}`, 2);
    }
    return text.replace(/\r?\n$/, '');
  }
  if (config.keys.passphrase) return config.keys.passphrase;
  // The one the first start generated, as the server reads it while SRS_KEY_PASSPHRASE is unset.
  const generated = await readGeneratedPassphrase(config.dataDir).catch((err: Error) => {
    throw new CliError(`cannot read ${generatedPassphraseFile(config.dataDir)}: ${err.message}`, 2);
  });
  if (generated) return generated;
  if (io.stdin.isTTY) return promptHidden(io, 'Passphrase for the recording key: ');
  throw new CliError(
    'a passphrase is needed: use --passphrase-file, set SRS_KEY_PASSPHRASE, or run on a terminal',
    2,
  );
}

/** `searchTimeoutMs`: each query of a recordings search stops after this (default: limits.searchTimeoutMs). */
export async function withDatabase<T>(
  config: Config,
  fn: (db: Database) => Promise<T>,
  o: { searchTimeoutMs?: number } = {},
): Promise<T> {
  // Logs would mix with the command's output on stdout: the CLI reports through its errors instead.
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log: createLogger('silent'),
    searchTimeoutMs: o.searchTimeoutMs ?? config.limits.searchTimeoutMs,
  });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Who the CLI acts as in the audit trail: `cli:<unix user>`. */
export const cliActor = (): string => `cli:${userInfo().username}`;

/** An audit entry by the CLI (actor cliActor()), as the API records a console user. */
export async function cliAudit(
  db: Database,
  e: { action: string; resource: string; resourceId: string; details?: Record<string, unknown> },
): Promise<void> {
  await db.audit.append({
    actor: cliActor(),
    actorRole: 'admin',
    ip: '',
    via: 'cli',
    details: {},
    ...e,
  });
}

/** The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of a command's TLS clients (S3, LDAP). */
export const tlsPolicy = (config: Pick<Config, 'security'>): TlsPolicy => ({
  minVersion: config.security.tlsMinVersion,
  ciphers: config.security.tlsCiphers,
});

/** The configured artifact store, for one command. */
export async function withStore<T>(config: Config, fn: (store: ArtifactStore) => Promise<T>): Promise<T> {
  const store = createArtifactStore(config.storage, config.dataDir, tlsPolicy(config));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Runs an action; any error becomes one line on stderr and an exit code. */
export function guarded<A extends unknown[]>(io: CliIo, fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      // A bad configuration is a usage error, as for `srs serve` (exit 2).
      const code =
        err instanceof CliError ? err.exitCode : err instanceof SrsError && err.code === 'ERR_CONFIG' ? 2 : 1;
      const msg = err instanceof Error ? err.message : String(err);
      io.stderr.write(`srs: ${msg.split('\n')[0]}\n`);
      process.exitCode = code;
    }
  };
}
