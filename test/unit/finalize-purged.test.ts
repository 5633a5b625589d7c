/**
 * A finalize job retried after its recording was purged (audit-durability finding 5): the first
 * attempt stores the recording and dies before pg-boss hears of it (after `stored`, before the
 * wipe; or after the wipe), the recording is purged meanwhile (a transfer's purge: purgeStored,
 * its files wiped), then the job's retry runs. Real Postgres, the real mixer, the real pg-boss
 * workers (beginRun) and the real finalizeRecording. The recording must stay purged, its files
 * must not be made again, the spool's plaintext must go, and the job must end completed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { endedCallWithTone } from '../helpers/ended-call.js';
import { createLogger } from '../../src/log.js';
import { mixSpool } from '../../src/media/index.js';
import { wipeFile } from '../../src/pipeline/artifacts.js';
import {
  artifactDir,
  finalizeRecording,
  type FinalizeContext,
  type FinalizeStep,
} from '../../src/pipeline/finalize.js';
import { startPipeline } from '../../src/pipeline/index.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { purgeStored } from '../../src/store/deliveries/common.js';
import { inTransaction } from '../../src/store/tx.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');

describe('finalize: a recording purged between two attempts of its job stays purged', () => {
  let dataDir: string;
  let db: Database;
  let key: { fingerprint: string; publicKeyArmored: string };
  const startedAt = new Date('2026-05-06T10:00:00Z');
  const mp3 = { bitrateKbps: 32, sampleRate: 8000 };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-purged-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db });
    key = { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored };
  });

  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** An ended call with a 2 s tone in its spool, as the recording service leaves it. */
  const newCall = async (): Promise<string> => {
    return endedCallWithTone(db, dataDir, { prefix: 'purged', startedAt, hz: 600, ms: 2000 });
  };

  /** What a purge after a confirmed transfer does: the tombstone and its audit, then the files wiped. */
  const purge = async (id: string) => {
    const paths = await inTransaction(db.pool, (c) => purgeStored(c, id, 'test.purge'));
    assert.ok(paths && paths.length === 2, 'the stored recording was purged');
    for (const p of paths) await wipeFile(join(dataDir, p));
  };

  /** The recording is purged, with no file of it on disk, no spool, and its one chain entry. */
  const checkStaysPurged = async (id: string) => {
    const row = await db.recordings.get(id);
    assert.equal(row?.state, 'purged', `state after the retry: ${row?.state} (${row?.error ?? ''})`);
    assert.ok(row.purgedAt);
    const day = join(dataDir, artifactDir(startedAt));
    const mine = (await readdir(day)).filter((n) => n.startsWith(id));
    assert.deepEqual(mine, [], 'no file of the purged recording made again');
    await assert.rejects(stat(join(dataDir, 'spool', id)), { code: 'ENOENT' }, 'spool wiped');
    const chained = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM recording_chain WHERE recording_id = $1',
      [id],
    );
    assert.equal(chained.rows[0]!.n, 1, 'chained once, by the attempt that stored it');
  };

  /** The first attempt dies after `crashAfter`, once the recording is purged; pg-boss retries it. */
  const purgedBeforeRetry = async (crashAfter: FinalizeStep) => {
    const id = await newCall();
    const steps: FinalizeStep[] = [];
    const pipeline = await startPipeline({
      db,
      mixer: { mix: (o) => mixSpool(o) },
      dataDir,
      log,
      mp3,
      key,
      concurrency: 1,
      retryLimit: 2,
      retryDelaySeconds: 1,
      pollingIntervalSeconds: 0.5,
      afterStep: async (s, recordingId) => {
        if (recordingId !== id) return;
        steps.push(s);
        if (s === crashAfter && steps.filter((x) => x === s).length === 1) {
          await purge(id);
          throw new Error(`test: the process dies after ${s}`);
        }
      },
    });
    try {
      await pipeline.enqueueFinalize(id);
      await pipeline.idle();
    } finally {
      await pipeline.stop();
    }
    await checkStaysPurged(id);
    assert.equal(steps.filter((s) => s === 'mixed').length, 1, `mixed once only: ${steps.join(' ')}`);
    const job = await db.pool.query<{ state: string; retry_count: number }>(
      'SELECT state, retry_count FROM pgboss.job WHERE id = $1',
      [id],
    );
    assert.deepEqual(job.rows[0], { state: 'completed', retry_count: 1 }, 'the retry ended the job');
  };

  it('a retry after a crash between the commit and the wipe leaves it purged and wipes the spool', async () => {
    await purgedBeforeRetry('stored');
  });

  it('a retry after a crash after the wipe leaves it purged, not processing or failed', async () => {
    await purgedBeforeRetry('wiped');
  });

  it('finalizeRecording called again on a purged recording returns purged and touches nothing', async () => {
    const id = await newCall();
    const ctx: FinalizeContext = {
      recordings: db.recordings,
      chain: db.chain,
      mixer: { mix: (o) => mixSpool(o) },
      dataDir,
      log,
      mp3,
      key,
      afterStep: (s) => {
        if (s === 'stored') throw new Error('test: the process dies after stored');
      },
    };
    await assert.rejects(finalizeRecording(ctx, id), /dies after stored/);
    await purge(id);
    let mixed = 0;
    const outcome = await finalizeRecording(
      { ...ctx, afterStep: undefined, mixer: { mix: (o) => (mixed++, mixSpool(o)) } },
      id,
    );
    assert.equal(outcome, 'purged');
    assert.equal(mixed, 0, 'nothing mixed again');
    await checkStaysPurged(id);
    // A late markFailed (an attempt that failed for good) leaves the tombstone alone.
    await db.recordings.markFailed(id, 'test: a late failure');
    assert.equal((await db.recordings.get(id))?.state, 'purged');
  });
});
