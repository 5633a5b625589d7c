/**
 * The queries that run on a timer whatever the load (the capacity refresh every 2 s, the job
 * counts of the console and /metrics, the purge pass's reads between its full searches) read the few unfinished or failed recordings through their
 * own indexes (migration 045), never a scan of every recording ever made. Real Postgres; the
 * planner is kept off sequential scans so that a missing or unusable index shows in the plan even
 * on a small table (the timing at 1,000,000 recordings: scripts/catalogue-scan-cost.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { ensureQueue, startBoss } from '../../src/pipeline/boss.js';
import { BACKLOG_SQL } from '../../src/store/jobs.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { FROM_INSTANT, RETENTION_SQL } from '../../src/store/retention.js';
import { OVERDUE_SQL } from '../../src/store/retention-overdue.js';
import { inTransaction } from '../../src/store/tx.js';
import { seedDataDir } from '../helpers/pg-template.js';

describe('timer queries over the catalogue', { timeout: 60_000 }, () => {
  let db: Database;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-timer-queries-'));
    await seedDataDir(dir);
    db = await openDatabase({ dataDir: dir, log: createLogger('silent') });
  });
  after(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const plan = (sql: string, args: unknown[] = []) =>
    inTransaction(db.pool, async (c) => {
      await c.query('SET LOCAL enable_seqscan = off');
      const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, args);
      return r.rows.map((x) => x['QUERY PLAN']).join('\n');
    });

  it('the oldest spool still on disk: the unfinished recordings’ index', async () => {
    const p = await plan(`SELECT min(started_at) FROM recordings WHERE state IN ('recording', 'processing')`);
    assert.match(p, /recordings_unfinished_idx/, p);
    assert.doesNotMatch(p, /Seq Scan on recordings/, p);
  });

  it('recordings left processing, and the failed count: the same indexes', async () => {
    const processing = await plan(
      `SELECT id FROM recordings WHERE state = 'processing' AND updated_at < now() - interval '5 seconds'`,
    );
    assert.match(processing, /recordings_unfinished_idx/, processing);
    const failed = await plan(`SELECT count(*)::int AS n FROM recordings WHERE state = 'failed'`);
    assert.match(failed, /recordings_failed_idx/, failed);
  });

  it('the purge pass between full searches: a slice, the recently stored, the recently purged, each through an index', async () => {
    // Ten days of stored recordings, none stored lately (the planner's statistics as a busy
    // catalogue's: the reads below would otherwise look alike on an empty table).
    await db.pool.query(
      `INSERT INTO recordings (id, call_id, src_address, started_at, state, stored_at)
       SELECT gen_random_uuid(), 'old-' || i || '@pbx', '127.0.0.1:5060', s, 'stored', s
       FROM generate_series(1, 20000) AS i, LATERAL (SELECT now() - make_interval(secs => i * 43)) AS x (s)`,
    );
    await db.pool.query('ANALYZE recordings');
    const now = new Date();
    const policy = [now, 1000, [], null, JSON.stringify({ sales: 86_400_000 })];
    const from = new Date(now.getTime() - 86_400_000 - 300_000).toISOString();
    const slice = await plan(RETENTION_SQL.dueInSlice, [...policy, from, FROM_INSTANT, 86_400_000]);
    assert.doesNotMatch(slice, /Seq Scan on recordings/, slice);
    assert.match(
      slice,
      /Scan using recordings_(stored_)?started(_at)?_idx on recordings r\s+\(.*\)\n\s+Index Cond: \(\(started_at >=/,
      slice,
    );
    const stored = await plan(RETENTION_SQL.dueStoredSince, [
      ...policy,
      new Date(now.getTime() - 900_000),
      86_400_000,
    ]);
    assert.doesNotMatch(stored, /Seq Scan on recordings/, stored);
    assert.match(
      stored,
      /recordings_stored_at_idx on recordings r\s+\(.*\)\n\s+Index Cond: \(stored_at >=/,
      stored,
    );
    const purged = await plan(RETENTION_SQL.recentlyPurgedFiles, [new Date()]);
    assert.match(purged, /recordings_purged_idx/, purged);
    assert.doesNotMatch(purged, /Seq Scan/, purged);
    // Failed recordings (finalize gave up) due under their policy: few, through their own index.
    const failed = await plan(RETENTION_SQL.dueFailed, policy);
    assert.match(failed, /recordings_failed_idx/, failed);
    assert.doesNotMatch(failed, /Seq Scan on recordings/, failed);
    // The spools on this node's disk whose recording is purged: by primary key (or the purged).
    const spools = await plan(RETENTION_SQL.purgedAmong, [[FROM_INSTANT]]);
    assert.match(spools, /recordings_pkey|recordings_purged_idx/, spools);
    assert.doesNotMatch(spools, /Seq Scan/, spools);
  });

  it('the report of recordings past their retention never stored: the unfinished recordings index', async () => {
    const p = await plan(OVERDUE_SQL, [3_600_000, JSON.stringify({ sales: null }), 1000]);
    assert.match(p, /recordings_unfinished_idx/, p);
    assert.doesNotMatch(p, /Seq Scan on recordings/, p);
  });

  it('the capacity refresh: the unfinished jobs through an index of pg-boss’s table, which keeps completed jobs 12 hours', async () => {
    const { boss } = await startBoss(db.pool, createLogger('silent'));
    try {
      await ensureQueue(boss, 'finalize-recording.timer', { name: 'finalize-recording.timer' });
      const p = await plan(BACKLOG_SQL, ['finalize-recording.timer']);
      assert.doesNotMatch(p, /Seq Scan/, p);
      assert.match(p, /_name_state_idx/, p);
      assert.match(p, /recordings_unfinished_idx/, p);
      // The failed recordings, whose spools may still be on disk: their own index.
      assert.match(p, /recordings_failed_idx/, p);
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
  });
});
