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
