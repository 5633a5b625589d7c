import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import type { MixOptions, MixResult } from '../../src/media/types.js';
import { dataDirId, FINALIZE_QUEUE, finalizeQueueOf, startPipeline } from '../../src/pipeline/index.js';
import { spoolsHere } from '../../src/pipeline/routing.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { toneWav } from '../helpers/audio.js';
import { recordingRow } from '../helpers/ended-call.js';
import { seedDataDir } from '../helpers/pg-template.js';

/**
 * Finalize routing (src/pipeline/routing.ts): a data directory's id is made once, even by
 * processes racing for it, and is what the queue is named after; a pipeline on a directory's queue
 * takes over the jobs waiting in the old shared queue whose spool is in its directory, and leaves
 * the others (another node's spool) where they are. Real Postgres, real pg-boss.
 */

const log = createLogger('silent');
const wav = toneWav(1000);

/** Stands in for the native mixer: the spool must be there (as on the node that recorded it). */
const mixer = {
  calls: [] as string[],
  async mix(o: MixOptions): Promise<MixResult> {
    await stat(o.spoolDir);
    mixer.calls.push(o.spoolDir);
    return { samples: wav.length - 58, durationMs: 1000, legs: 1, data: Buffer.from(wav) };
  },
};

describe('pipeline routing: one finalize queue per data directory', () => {
  let dbDir: string;
  let dirA: string;
  let dirB: string;
  let db: Database;
  let key: { fingerprint: string; publicKeyArmored: string };

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-routing-db-'));
    await seedDataDir(dbDir);
    dirA = await mkdtemp(join(tmpdir(), 'srs-routing-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'srs-routing-b-'));
    db = await openDatabase({ dataDir: dbDir, log });
    const k = await ensureKeyPair({ keysDir: join(dbDir, 'keys'), passphrase: 'routing test', log, db });
    key = { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored };
  });

  after(async () => {
    await db?.close();
    for (const d of [dbDir, dirA, dirB]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('gives a directory one id, kept in spool-id, the same to processes racing for it', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'srs-routing-id-'));
    try {
      const ids = await Promise.all(Array.from({ length: 8 }, () => dataDirId(fresh)));
      assert.match(ids[0]!, /^[0-9a-f]{16}$/);
      assert.deepEqual(new Set(ids).size, 1, 'one id for every racer');
      assert.equal(await dataDirId(fresh), ids[0], 'kept');
      assert.equal(await finalizeQueueOf(fresh), `${FINALIZE_QUEUE}.${ids[0]}`);
      assert.notEqual(await dataDirId(dirA), ids[0], 'another directory, another id');
      await writeFile(join(fresh, 'spool-id'), 'not an id\n');
      await assert.rejects(dataDirId(fresh), /holds no data directory id \(16 hex digits\); remove it/);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('moves the old shared queue’s waiting jobs whose spool is here, and only those', async () => {
    const newRecording = async (dir: string): Promise<string> => {
      const id = await recordingRow(db);
      await mkdir(join(dir, 'spool', id), { recursive: true });
      await writeFile(join(dir, 'spool', id, 'leg0.spool'), Buffer.alloc(4000, 0x55));
      return id;
    };
    const common = {
      db,
      mixer,
      log,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key,
      pollingIntervalSeconds: 0.5,
    };
    // An older version's node queued these on the one shared queue: two recorded on A, one on B.
    const old = await startPipeline({ ...common, dataDir: dirA, concurrency: 0 });
    const onA = [await newRecording(dirA), await newRecording(dirA)];
    const onB = await newRecording(dirB);
    for (const id of [...onA, onB]) await old.enqueueFinalize(id);
    await old.stop();

    const queueA = await finalizeQueueOf(dirA);
    const a = await startPipeline({ ...common, dataDir: dirA, concurrency: 1, finalizeQueue: queueA });
    try {
      await a.idle();
      for (const id of onA) assert.equal((await db.recordings.get(id))?.state, 'stored', `A's ${id}`);
      assert.deepEqual(
        mixer.calls.sort(),
        onA.map((id) => join(dirA, 'spool', id)).sort(),
        'A mixed its own spools only',
      );
      const jobs = await db.pool.query<{ id: string; name: string; state: string }>(
        'SELECT id::text, name, state::text FROM pgboss.job WHERE id = ANY($1::uuid[])',
        [[...onA, onB]],
      );
      const byId = new Map(jobs.rows.map((j) => [j.id, j]));
      for (const id of onA) {
        assert.equal(byId.get(id)?.name, queueA, 'moved to A’s queue');
        assert.equal(byId.get(id)?.state, 'completed');
      }
      assert.equal(
        jobs.rows.filter((j) => onA.includes(j.id)).length,
        onA.length,
        'and out of the shared queue',
      );
      assert.deepEqual(
        [byId.get(onB)?.name, byId.get(onB)?.state],
        [FINALIZE_QUEUE, 'created'],
        'B’s job waits in the shared queue for a node holding its spool',
      );
      assert.equal((await db.recordings.get(onB))?.state, 'recording');
      // What a node may queue again after a store outage: only recordings whose spool is here.
      assert.deepEqual(
        await spoolsHere(dirA, [onB, ...onA, randomUUID()]),
        [],
        'A’s spools wiped once stored',
      );
      assert.deepEqual(await spoolsHere(dirB, [onA[0]!, onB]), [onB]);
    } finally {
      await a.stop();
    }
  });
});
