/**
 * The list of end-of-call hand-offs that gave up (src/recording/handoff.ts), with a real catalogue:
 * a later try runs the hand-off of a recording still `recording`, stops its round at the first
 * failure, and drops one finished meanwhile elsewhere (stored by another node's startup recovery)
 * without touching it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { HandoffBacklog } from '../../src/recording/handoff.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');

describe('hand-offs tried again later (real Postgres)', () => {
  let dir: string;
  let db: Database;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-handoff-backlog-'));
    await seedDataDir(dir);
    db = await openDatabase({ dataDir: dir, log });
  });
  after(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const newCall = async (): Promise<string> => {
    const id = randomUUID();
    await db.recordings.create({
      id,
      sessionId: `s-${id.slice(0, 6)}`,
      callId: `${id}@pbx`,
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date(),
      participants: [],
      streams: [],
      metadataXml: null,
    });
    return id;
  };

  it('runs a waiting hand-off once it succeeds and drops one finished elsewhere', async () => {
    const backlog = new HandoffBacklog(log, db.recordings, 3_600_000);
    const live = await newCall();
    const elsewhere = await newCall();
    const ran: string[] = [];
    let fail = true;
    backlog.add(live, async () => {
      ran.push(live);
      if (fail) throw new Error('the database is away');
      await db.recordings.markEnded(live, new Date(), 1000, null);
    });
    backlog.add(elsewhere, async () => {
      ran.push(elsewhere);
    });
    await backlog.retry();
    assert.deepEqual(ran, [live], 'a failure ends the round');
    assert.equal(backlog.size, 2);
    // Another node's recovery stored the second one meanwhile.
    await db.pool.query(`UPDATE recordings SET state = 'stored', stored_at = now() WHERE id = $1`, [
      elsewhere,
    ]);
    fail = false;
    await backlog.retry();
    assert.deepEqual(ran, [live, live], 'the finished one is not handed off again');
    assert.equal(backlog.size, 0);
    assert.equal((await db.recordings.get(live))?.durationMs, 1000);
    backlog.stop();
  });
});
