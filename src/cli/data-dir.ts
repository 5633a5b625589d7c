import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { CliError } from './cli-error.js';

/**
 * Where the `srs` commands other than `serve` find the server's data. They resolve the directory
 * exactly as the server does (`--data-dir`, else SRS_DATA_DIR, else `dataDir` in the config file,
 * else `./data` under the current directory) and then insist that a server has used it: a command
 * run from the wrong directory must not start a second, empty database there and report nothing.
 */

/** Which setting chose the data directory, for the message when nothing is there. */
export function dataDirSource(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  fileDataDir: string | undefined,
  configPath: string | undefined,
): string {
  if (flag) return '--data-dir';
  if (env.SRS_DATA_DIR) return 'SRS_DATA_DIR';
  if (fileDataDir) return `dataDir in ${configPath ?? 'the config file'}`;
  return `the default ./data under ${process.cwd()}`;
}

/** True when a server has used dataDir: its embedded Postgres cluster or settings are there. */
export function hasServerData(dataDir: string): boolean {
  return existsSync(join(dataDir, 'pg', 'PG_VERSION')) || existsSync(join(dataDir, 'pg.json'));
}

/**
 * Throws a one-line CliError (exit 2) naming the directory looked at and how it was chosen when no
 * server data is there. With DATABASE_URL the catalogue is elsewhere, so only the directory's
 * existence is asked for (the audio files live under it).
 */
export function requireServerData(config: Config, source: string): void {
  const dir = resolve(config.dataDir);
  if (config.databaseUrl ? existsSync(dir) : hasServerData(dir)) return;
  throw new CliError(
    `no recording server data in ${dir} (from ${source}); ` +
      'point to the server data directory with --data-dir, SRS_DATA_DIR or dataDir in the config file',
    2,
  );
}
