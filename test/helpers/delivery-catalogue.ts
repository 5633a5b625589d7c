import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv } from '../../src/delivery/csv.js';
import { createLogger, type Logger } from '../../src/log.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { storeRecording, toneWav, type StoredFixture } from './delivery-fixtures.js';
import { seedDataDir } from './pg-template.js';

/**
 * What every delivery test delivers from: a private data directory with a real embedded Postgres
 * and a recording key pair, recordings stored into it by the real finalize step, and its audit
 * trail.
 */

/** Silent unless TEST_LOG_LEVEL says otherwise. */
export const testLog: Logger = createLogger((process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent');

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Polls `fn` every `stepMs` until it returns something truthy; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 30_000,
  stepMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface DeliveryCatalogue {
  readonly dataDir: string;
  readonly db: Database;
  readonly key: { fingerprint: string; publicKeyArmored: string };
  /**
   * Stores a tone of `seconds` at `hz` from `sip:<caller>@pbx.example` to
   * `sip:<callee>@carrier.example` (display names from `names`).
   */
  store(
    caller: string,
    callee: string,
    seconds: number,
    hz: number,
    names?: string[],
  ): Promise<StoredFixture>;
  /** The audit trail's actions on one resource, oldest first. */
  actions(resourceId: string): Promise<string[]>;
  /** Closes the database and removes the data directory. */
  close(): Promise<void>;
}

/** A new data directory (`<tmp>/<name>XXXXXX`) with its database and a key under `passphrase`. */
export async function openDeliveryCatalogue(
  name: string,
  passphrase: string,
  log: Logger = testLog,
): Promise<DeliveryCatalogue> {
  const dataDir = await mkdtemp(join(tmpdir(), name));
  await seedDataDir(dataDir);
  const db = await openDatabase({ dataDir, log });
  const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), passphrase, log, db });
  const key = { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored };
  return {
    dataDir,
    db,
    key,
    store: (caller, callee, seconds, hz, names = ['', '']) =>
      storeRecording({
        db,
        dataDir,
        log,
        key,
        caller: { aor: `sip:${caller}@pbx.example`, name: names[0] ?? '' },
        callee: { aor: `sip:${callee}@carrier.example`, name: names[1] ?? '' },
        wav: toneWav(seconds * 1000, hz),
      }),
    actions: async (resourceId) =>
      (await db.audit.search({ resourceId, limit: 200 })).items.map((e) => e.action).reverse(),
    close: async () => {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Today's folder of an MP3 export under `root` (YYYY/MM/DD) and its index's rows, its header checked. */
export async function todaysExportIndex(root: string): Promise<{ day: string; rows: string[][] }> {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const index = await readFile(join(root, day, 'index.csv'), 'utf8');
  assert.ok(index.startsWith('\uFEFFRecording ID,Agent,Extension,Remote Number,Start (UTC),Duration,Group'));
  return { day, rows: parseCsv(index) };
}

/**
 * `k` recordings of today (UTC, from midnight on, 10 ms apart) exported to `primary` an hour ago,
 * put straight into the catalogue as the export leaves them (done items with their index rows):
 * a busy day's index without a busy day's exports (scripts/export-day-rate.ts, the S3 export test).
 */
export async function seedEarlierExports(db: Database, k: number): Promise<void> {
  await db.pool.query(
    `WITH r AS (
       INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
       SELECT gen_random_uuid(), 'earlier-' || i || '@pbx', '127.0.0.1:5060',
              (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') + make_interval(secs => i * 0.01), now(), 60000, 'stored',
              now() - interval '1 hour'
       FROM generate_series(1, $1::int) AS i RETURNING id, started_at, call_id)
     INSERT INTO export_items (recording_id, destination, state, path, day, bytes, sha256, attempts, exported_at, index_row)
     SELECT id, 'primary', 'done', id || '.mp3', (started_at AT TIME ZONE 'UTC')::date, 240000, repeat('0', 64), 1,
            now() - interval '1 hour',
            jsonb_build_object('Recording ID', id::text, 'Agent', 'Agent', 'Extension', '1001',
              'Remote Number', '4930000000', 'Start (UTC)', to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'Duration', '00:01:00', 'Group', '', 'Direction', 'outbound', 'Call-ID', call_id, 'File', id || '.mp3')
     FROM r`,
    [k],
  );
}
