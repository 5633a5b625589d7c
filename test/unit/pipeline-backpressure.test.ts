import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Metrics } from '../../src/api/metrics.js';
import { CapacityError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { loadMediaEngine, PortPool, type MediaEngine } from '../../src/media/index.js';
import {
  backlogFromDatabase,
  capacityMetrics,
  FINALIZE_QUEUE,
  PipelineCapacity,
  startPipeline,
  type Pipeline,
} from '../../src/pipeline/index.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { RecordingService } from '../../src/recording/service.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');

/**
 * Back-pressure end to end below SIP: finalize jobs queued in pg-boss (a node that only enqueues,
 * so they stay queued), the capacity reading them from the database, and the recording service
 * refusing a new call once the backlog would take longer than the limit to drain.
 */
describe('pipeline back-pressure', () => {
  let dataDir: string;
  let db: Database;
  let engine: MediaEngine;
  let pipeline: Pipeline;
  let service: RecordingService;
  let capacity: PipelineCapacity;

  const queueRecording = async (minutes: number) => {
    const id = randomUUID();
    await db.recordings.create({
      id,
      sessionId: null,
      callId: `bp-${id}@pbx`,
      srcAddress: '192.0.2.1:5060',
      startedAt: new Date(Date.now() - minutes * 60_000 - 30_000),
      participants: [],
      streams: [],
      metadataXml: null,
    });
    await db.recordings.markEnded(id, new Date(), minutes * 60_000, null);
    await pipeline.enqueueFinalize(id);
  };
  const start = () =>
    service.start({
      callId: `new-${randomUUID()}@pbx`,
      srcAddress: '127.0.0.1:5060',
      sessionId: null,
      participants: [],
      metadataXml: null,
      streams: [{ index: 0, label: '1', codec: 'PCMU', pt: 0, telephoneEventPt: null }],
    });

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-backpressure-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    const key = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db, type: 'curve25519' });
    engine = loadMediaEngine({ bindAddress: '127.0.0.1' });
    pipeline = await startPipeline({
      db,
      mixer: engine,
      dataDir,
      log,
      concurrency: 0, // enqueue only: the jobs stay queued
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key: { fingerprint: key.fingerprint, publicKeyArmored: key.publicKeyArmored },
    });
    capacity = new PipelineCapacity({
      cores: 2,
      maxConcurrency: 2,
      cpuShare: 0.5,
      maxBacklogSeconds: 5,
      initialCostPerAudioMinute: 0.2,
      liveCalls: () => service.activeCount,
      backlog: backlogFromDatabase(db.pool, FINALIZE_QUEUE),
    });
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    service = new RecordingService({
      engine,
      ports: new PortPool(base, base + 99),
      store: db.recordings,
      finalize: pipeline,
      dataDir,
      maxSessions: 10,
      log,
      admit: () => capacity.admission(),
    });
  });

  after(async () => {
    await service?.close();
    await pipeline?.stop();
    engine?.close();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('takes calls while the backlog drains in time, refuses them past the limit', async () => {
    // 4 recordings of 10 minutes: 40 audio-minutes x 0.2 CPU s / 2 cores = 4 s to drain (limit 5).
    for (let i = 0; i < 4; i++) await queueRecording(10);
    await capacity.refresh();
    let s = capacity.snapshot();
    assert.equal(s.backlogJobs, 4);
    assert.equal(Math.round(s.backlogAudioMinutes), 40);
    assert.ok(s.admitting, `admitting at ${s.backlogSeconds} s`);
    assert.ok(s.oldestSpoolAgeSeconds >= 600, 'the oldest unstored recording started 10.5 minutes ago');
    const taken = await start();
    await service.end(taken.recordingId, 'bye');

    // 2 more (and the one just ended): 70 audio-minutes-ish = 7 s > 5 s.
    await queueRecording(10);
    await queueRecording(10);
    await capacity.refresh();
    s = capacity.snapshot();
    assert.equal(s.admitting, false);
    assert.ok(s.inUse > 1);
    const rowsBefore = (await db.pool.query('SELECT count(*)::int AS n FROM recordings')).rows[0].n as number;
    const spoolsBefore = (await readdir(join(dataDir, 'spool'))).length;
    await assert.rejects(start(), (err: unknown) => {
      assert.ok(err instanceof CapacityError);
      assert.match(
        err.message,
        /post-call backlog needs \d+ s to drain \(limit 5 s, SRS_MAX_BACKLOG_SECONDS\)/,
      );
      // Retry-After: the time the backlog needs to get back under the limit, not a fixed 5 s.
      const over = capacity.snapshot().backlogSeconds - 5;
      assert.ok(err.retryAfterSeconds !== undefined && over > 1, `retry after ${err.retryAfterSeconds}`);
      assert.equal(err.retryAfterSeconds, Math.min(300, Math.ceil(over)));
      return true;
    });
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM recordings')).rows[0].n, rowsBefore);
    assert.equal(
      (await readdir(join(dataDir, 'spool'))).length,
      spoolsBefore,
      'no spool made for a refused call',
    );

    const m = new Metrics();
    capacityMetrics(m, capacity);
    const text = await m.render();
    assert.match(text, /^srs_backlog_jobs 7$/m);
    assert.match(text, /^srs_capacity_in_use 1\.\d+$/m);
    assert.match(text, /^srs_bye_to_stored_seconds_bucket\{le="\+Inf"\} 0$/m);
    assert.match(text, /^srs_bye_to_stored_seconds_count 0$/m);
    assert.match(text, /^srs_oldest_plaintext_spool_seconds \d+/m);
  });
});
