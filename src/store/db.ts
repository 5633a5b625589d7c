import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { databaseUnavailable, SrsError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded.js';
import { keysRepository, type KeysRepository } from './keys.js';
import { recordingsRepository, type RecordingsRepository } from './recordings.js';
import { usersRepository, type UsersRepository } from './users.js';
import { auditRepository, type AuditRepository } from './audit.js';
import { accessRepository, type AccessRepository } from './users-access.js';
import { chainRepository, type ChainRepository } from './chain.js';
import { retentionRepository, type RetentionRepository } from './retention.js';
import { offloadRepository, type OffloadRepository } from './offload.js';
import { recordModesRepository, type RecordModesRepository } from './record-modes.js';
import { customFieldsRepository, type CustomFieldsRepository } from './custom-fields.js';
import { reportsRepository, type ReportsRepository } from './reports.js';
import { evaluationsRepository, type EvaluationsRepository } from './evaluations.js';
import { languagesRepository, type LanguagesRepository } from './languages.js';
import { savedSearchesRepository, type SavedSearchesRepository } from './saved-searches.js';
import { pendingDeletionsRepository, type PendingDeletionsRepository } from './pending-deletions.js';

export interface Database {
  readonly pool: pg.Pool;
  readonly recordings: RecordingsRepository;
  readonly keys: KeysRepository;
  /** Users, groups, sessions, API tokens, settings. */
  readonly users: UsersRepository;
  /** The append-only, hash-chained audit trail. */
  readonly audit: AuditRepository;
  /** Role-scoped recordings search, notes, categories, preservation, deletion. */
  readonly access: AccessRepository;
  /** Stored state + the per-day hash chain; file listing for verification. */
  readonly chain: ChainRepository;
  /** Retention purge candidates and tombstones. */
  readonly retention: RetentionRepository;
  /** Removals the artifact store refused (Object Lock, legal hold, errors), tried again by retention. */
  readonly pendingDeletions: PendingDeletionsRepository;
  /** Delivery state: SFTP offload batches, MP3 export, email notifications. */
  readonly offload: OffloadRepository;
  /** Record modes per user and group; what the recording control decided per recording. */
  readonly recordModes: RecordModesRepository;
  /** Admin-defined custom fields and their values per recording. */
  readonly fields: CustomFieldsRepository;
  /** Agent evaluation: forms and evaluations of the users who took part in recordings. */
  readonly evaluations: EvaluationsRepository;
  /** Counts and durations per day, user or group (within a principal's scope). */
  readonly reports: ReportsRepository;
  /** Users' named recordings searches. */
  readonly savedSearches: SavedSearchesRepository;
  /** The console's language: the user's own, their group's default, the site's default. */
  readonly languages: LanguagesRepository;
  /** Where the pool connects (for components such as pg-boss that want their own connection). */
  readonly connectionString: string;
  /** True when this process started the embedded Postgres and will stop it on close(). */
  readonly ownsEmbedded: boolean;
  /** Ends the pool, then stops the embedded Postgres if this process started it. Safe to call twice. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A real server; when absent an embedded Postgres in `<dataDir>/pg` is started or attached to. */
  databaseUrl?: string | undefined;
  dataDir: string;
  log: Logger;
  /** Pool size (default 10). */
  poolSize?: number;
  /** Each query of a recordings search, and the list, stops after this (limits.searchTimeoutMs; 30 s). */
  searchTimeoutMs?: number;
}

export class MigrationError extends SrsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MIGRATION', message, options);
  }
}

/**
 * A new database connection must be ready (TCP, TLS, authentication) within this, and a query waits
 * no longer for a free connection of the pool: a database host that accepts connections and answers
 * nothing made `srs serve` and every `srs` command wait for ever without a word.
 */
export const DB_CONNECT_TIMEOUT_MS = 10_000;

/** Where a connection string points, without its credentials (for messages). */
export function databaseAddress(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    return 'the configured database';
  }
}

/** Arbitrary constant key for pg_advisory_lock: every process migrating this database takes it. */
const MIGRATION_LOCK = 78_660_001;
const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => /^\d+_.+\.sql$/.test(n));
  const out: Migration[] = [];
  for (const name of names) {
    out.push({ version: Number.parseInt(name, 10), name, sql: await readFile(`${dir}/${name}`, 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]?.version === out[i - 1]?.version)
      throw new MigrationError(`two migrations numbered ${out[i]?.version}`);
  }
  return out;
}

/**
 * Applies the numbered migrations not yet recorded in schema_migrations, each in its own
 * transaction, under an advisory lock so that concurrent starters apply each exactly once.
 * Returns the versions applied now.
 */
export async function migrate(pool: pg.Pool, log: Logger, dir?: string): Promise<number[]> {
  const migrations = await loadMigrations(dir);
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
          (r) => r.version,
        ),
      );
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.version);
        log.info({ migration: m.name }, 'database migration applied');
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
  return applied;
}

/** Opens the catalogue database (embedded unless databaseUrl is given) and brings its schema up to date. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const { log } = opts;
  let embedded: EmbeddedPostgresHandle | undefined;
  let connectionString = opts.databaseUrl;
  if (!connectionString) {
    embedded = await ensureEmbeddedPostgres({ dataDir: opts.dataDir, log });
    connectionString = embedded.connectionString;
  }
  const pool = new pg.Pool({
    connectionString,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: DB_CONNECT_TIMEOUT_MS,
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'database: idle connection error'));
  try {
    await migrate(pool, log);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await embedded?.close().catch(() => undefined);
    if (databaseUnavailable(err))
      throw new Error(
        `the database at ${databaseAddress(connectionString)} cannot be used: ${(err as Error).message}` +
          (opts.databaseUrl ? ' (DATABASE_URL)' : ''),
        { cause: err },
      );
    throw err;
  }
  let closed = false;
  return {
    pool,
    recordings: recordingsRepository(pool, { searchTimeoutMs: opts.searchTimeoutMs }),
    keys: keysRepository(pool),
    users: usersRepository(pool),
    audit: auditRepository(pool),
    access: accessRepository(pool, { searchTimeoutMs: opts.searchTimeoutMs }),
    chain: chainRepository(pool),
    retention: retentionRepository(pool),
    pendingDeletions: pendingDeletionsRepository(pool),
    offload: offloadRepository(pool),
    recordModes: recordModesRepository(pool),
    fields: customFieldsRepository(pool),
    reports: reportsRepository(pool),
    evaluations: evaluationsRepository(pool),
    savedSearches: savedSearchesRepository(pool),
    languages: languagesRepository(pool),
    connectionString,
    ownsEmbedded: embedded?.owned ?? false,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end().catch((err: unknown) => log.warn({ err }, 'database: pool end failed'));
      await embedded?.close();
    },
  };
}
