/**
 * Retention on the database clock (real Postgres, the real purge pass; audit-control-retention
 * finding 6). started_at comes from the recording node's clock and stored_at / purged_at from
 * Postgres, but the pass decided what was due from the purging node's own wall clock
 * (`new Date()`): a node whose clock read 40 days ahead (a VM restored from a snapshot, an NTP
 * step after a bad RTC) purged recordings the policy still kept, irreversibly. The node's clock is
 * set here with node:test's Date mock (Date.now and new Date, as a clock that is wrong would give
 * them); the database keeps the true time. Now the pass takes its `now` from Postgres, and a node
 * whose clock differs from the database's by more than a few minutes skips the pass with an error.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { pino } from 'pino';
import { createLogger } from '../../src/log.js';
import { purgeOnce, type PurgeResult } from '../../src/pipeline/index.js';
import type { ScanState } from '../../src/pipeline/retention-scan.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { storedRecording } from '../helpers/ended-call.js';
import { seedDataDir } from '../helpers/pg-template.js';

const quiet = createLogger('silent');
const DAY = 86_400_000;
const MINUTE = 60_000;
const policy = { default: '30d', groups: {} };

describe('retention takes its clock from the database (real Postgres)', { timeout: 120_000 }, () => {
  let dataDir: string;
  let db: Database;

  /** A stored recording with two small files, started `ageMs` before the database's clock. */
  const stored = async (ageMs: number): Promise<string> => {
    const dbNow = (await db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    return storedRecording(db, dataDir, {
      startedAt: new Date(dbNow.getTime() - ageMs),
      endedAt: new Date(dbNow.getTime() - ageMs + 60_000),
      dir: join('recordings', 'c'),
      bytes: 4096,
    });
  };
  const stateOf = async (id: string) =>
    (await db.pool.query<{ state: string }>('SELECT state::text FROM recordings WHERE id = $1', [id])).rows[0]
      ?.state;
  const fileThere = (id: string) => stat(join(dataDir, 'recordings', 'c', `${id}.wav.gpg`)).then(() => true);
  /** The node's clock reads the true time plus `offsetMs` (the database keeps the true time). */
  const nodeClock = (offsetMs: number) => mock.timers.enable({ apis: ['Date'], now: Date.now() + offsetMs });
  /** A logger whose lines are kept. */
  const capture = () => {
    const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    return { log, lines };
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-retention-clock-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log: quiet });
  });
  afterEach(() => mock.timers.reset());
  after(async () => {
    mock.timers.reset();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the store reads the database clock', async () => {
    const before = Date.now();
    const dbNow = await db.retention.clock();
    assert.ok(dbNow instanceof Date);
    assert.ok(Math.abs(dbNow.getTime() - before) < 5_000, `database clock ${dbNow.toISOString()}`);
  });

  it('a node whose clock is 40 days ahead purges nothing and skips the pass with an error', async () => {
    const young = await stored(10 * DAY);
    const { log, lines } = capture();
    nodeClock(40 * DAY);
    let r: PurgeResult;
    try {
      r = await purgeOnce({ retention: db.retention, policy, dataDir, log });
    } finally {
      mock.timers.reset();
    }
    assert.deepEqual(r.purged, []);
    assert.equal(await stateOf(young), 'stored');
    assert.equal(await fileThere(young), true);
    assert.ok(r.skipped, 'the pass is skipped');
    assert.equal(r.skipped.reason, 'clock-skew');
    assert.ok(Math.abs(r.skipped.skewMs - 40 * DAY) < 60_000, `skew ${r.skipped.skewMs}`);
    const error = lines.find((l) => l.level === 50 && /clock/.test(l.msg));
    assert.ok(error, `an error line about the clock: ${JSON.stringify(lines)}`);
    assert.match(error.msg, /skipped/);
    assert.ok(typeof error.skewMs === 'number');
  });

  it('a node whose clock is 40 days behind skips the pass too', async () => {
    const due = await stored(31 * DAY);
    nodeClock(-40 * DAY);
    let r: PurgeResult;
    try {
      r = await purgeOnce({ retention: db.retention, policy, dataDir, log: quiet });
    } finally {
      mock.timers.reset();
    }
    assert.equal(r.skipped?.reason, 'clock-skew');
    assert.equal(await stateOf(due), 'stored');
    // With the clock right again, the due recording goes.
    const again = await purgeOnce({ retention: db.retention, policy, dataDir, log: quiet });
    assert.equal(again.skipped, undefined);
    assert.ok(again.purged.includes(due));
    assert.equal(await stateOf(due), 'purged');
  });

  it('a node whose clock is 2 minutes ahead purges by the database clock', async () => {
    // Due by the node's clock, not yet by the database's (one minute to go).
    const almost = await stored(30 * DAY - MINUTE);
    const due = await stored(30 * DAY + MINUTE);
    nodeClock(2 * MINUTE);
    let r: PurgeResult;
    try {
      r = await purgeOnce({ retention: db.retention, policy, dataDir, log: quiet });
    } finally {
      mock.timers.reset();
    }
    assert.equal(r.skipped, undefined);
    assert.ok(r.purged.includes(due));
    assert.ok(!r.purged.includes(almost), 'purged a recording not yet due by the database clock');
    assert.equal(await stateOf(almost), 'stored');
    assert.equal(await fileThere(almost), true);
  });

  it('the incremental scan state is kept on the database clock', async () => {
    const state: { lockedUntil: Map<string, number>; scan?: ScanState } = { lockedUntil: new Map() };
    const dbBefore = (await db.retention.clock()).getTime();
    nodeClock(-4 * MINUTE);
    try {
      const r = await purgeOnce({ retention: db.retention, policy, dataDir, log: quiet, state });
      assert.equal(r.skipped, undefined);
      assert.equal(r.search, 'full');
    } finally {
      mock.timers.reset();
    }
    const dbAfter = (await db.retention.clock()).getTime();
    assert.ok(state.scan, 'a full search keeps its state');
    // Recordings stored from 10 minutes before the pass (by stored_at, the database clock) are read again.
    assert.ok(
      state.scan.storedSince >= dbBefore - 10 * MINUTE - 1_000 &&
        state.scan.storedSince <= dbAfter - 10 * MINUTE + 1_000,
      `storedSince ${new Date(state.scan.storedSince).toISOString()}, database ${new Date(dbBefore).toISOString()}`,
    );
    assert.ok(state.scan.fullAt >= dbBefore - 1_000 && state.scan.fullAt <= dbAfter + 1_000);
  });
});
