import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { FINALIZE_QUEUE } from '../../src/pipeline/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { NODE_LOCK, orphanCandidates } from '../../src/store/jobs.js';
import { recordingRow } from '../helpers/ended-call.js';
import { enqueueOnlyPipeline } from '../helpers/recording.js';
import { seedDataDir } from '../helpers/pg-template.js';

/**
 * The reaper's candidates (src/store/jobs.ts orphanCandidates, run every 10 s by
 * src/pipeline/maintenance.ts): running jobs of its queue whose node died, never the jobs still
 * queued. Before, every recording ended a minute ago and not claimed was a candidate, read back
 * one job at a time: in a soak whose backlog reached 3,894 jobs that was thousands of queries every
 * 10 s, and Postgres took 2.4x its CPU per audio-minute. Real Postgres, real pg-boss.
 */

const log = createLogger('silent');
const QUEUE = `${FINALIZE_QUEUE}.00000000000000cc`;
const OTHER = `${FINALIZE_QUEUE}.00000000000000dd`;

describe('orphaned finalize jobs: running ones only, never a backlog', () => {
  let dir: string;
  let db: Database;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-orphans-'));
    await seedDataDir(dir);
    db = await openDatabase({ dataDir: dir, log });
  });

  after(async () => {
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** `n` ended recordings whose finalize jobs are queued in `queue`, ended and last updated 2 min ago. */
  const queued = async (queue: string, n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = await recordingRow(db, { startedAt: new Date(Date.now() - 180_000) });
      await db.recordings.markEnded(id, new Date(Date.now() - 120_000), 60_000, null);
      ids.push(id);
    }
    const p = await enqueueOnlyPipeline(db, dir, { finalizeQueue: queue });
    try {
      for (const id of ids) await p.enqueueFinalize(id);
    } finally {
      await p.stop();
    }
    await db.pool.query(
      `UPDATE recordings SET state = 'processing', updated_at = now() - interval '2 minutes' WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return ids;
  };
  const running = (id: string, startedSecondsAgo: number) =>
    db.pool.query(
      `UPDATE pgboss.job SET state = 'active', started_on = now() - make_interval(secs => $2) WHERE id = $1`,
      [id, startedSecondsAgo],
    );
  const claim = (id: string, nodeKey: number) =>
    db.pool.query('INSERT INTO pipeline_runs (recording_id, node_key) VALUES ($1, $2)', [id, nodeKey]);

  it('takes a running job of a dead node or of a crash before its claim, and leaves a backlog of 300 queued jobs alone', async () => {
    const [crashed, fresh, deadNode, liveNode, ...backlog] = await queued(QUEUE, 304);
    const [elsewhere] = await queued(OTHER, 1);
    // Fetched 2 min ago and never claimed (a crash between the fetch and the claim): orphaned.
    await running(crashed!, 120);
    // Fetched 5 s ago and not claimed yet: its node is about to claim it.
    await running(fresh!, 5);
    // Claimed by a node whose liveness lock nobody holds: orphaned (once confirmed, maintenance.ts).
    await running(deadNode!, 30);
    await claim(deadNode!, 4242);
    // Claimed by a node that holds its lock: alive.
    const holder = new pg.Client({ connectionString: db.connectionString });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [NODE_LOCK, 4343]);
      await running(liveNode!, 30);
      await claim(liveNode!, 4343);
      // Another data directory's running, unclaimed job: for the nodes of that queue.
      await running(elsewhere!, 120);

      const found = await orphanCandidates(db.pool, QUEUE, 60);
      assert.deepEqual(
        found.sort((a, b) => a.id.localeCompare(b.id)),
        [
          { id: crashed!, claimed: false },
          { id: deadNode!, claimed: true },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      assert.equal(backlog.length, 300);
      const other = await orphanCandidates(db.pool, OTHER, 60);
      assert.deepEqual(other, [{ id: elsewhere!, claimed: false }]);
    } finally {
      await holder.end();
    }
  });
});
