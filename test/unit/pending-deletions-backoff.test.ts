/**
 * A pending deletion the store keeps refusing with an error backs off (real Postgres, the local
 * store, the retention pass's retry function). The file here cannot be removed even by root: its
 * path is a non-empty directory (EISDIR), as an S3 bucket policy denying the deletion or a store
 * that answers AccessDenied for good would be. Before, an `error` row was due again at once after
 * every failure, so each retention pass (every minute by default) tried it and logged a warning,
 * for as long as the refusal lasted. Now the first retry is at the next pass and the later ones
 * wait 10 s, 20 s, 40 s and so on, doubling up to an hour; the row is removed and audited once the
 * store lets the file go.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createLogger } from '../../src/log.js';
import { retryPendingDeletions } from '../../src/pipeline/retention-pending.js';
import { LocalArtifactStore } from '../../src/storage/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { ERROR_RETRY_FIRST_SECONDS, HOLD_RETRY_SECONDS } from '../../src/store/pending-deletions.js';
import { seedDataDir } from '../helpers/pg-template.js';

describe('pending deletions refused with an error back off (real Postgres)', { timeout: 120_000 }, () => {
  let dataDir: string;
  let db: Database;
  let store: LocalArtifactStore;
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const recordingId = randomUUID();
  const key = join('recordings', 'b', `${recordingId}.wav.gpg`);

  const pass = () => retryPendingDeletions({ pending: db.pendingDeletions, store, dataDir, log });
  const row = async () =>
    (
      await db.pool.query<{ attempts: number; wait: number }>(
        `SELECT attempts, extract(epoch FROM next_attempt_at - last_attempt_at)::float8 AS wait
           FROM pending_deletions WHERE path = $1`,
        [key],
      )
    ).rows[0];
  /** As if the row's wait had passed. */
  const makeDue = () =>
    db.pool.query(`UPDATE pending_deletions SET next_attempt_at = now() WHERE path = $1`, [key]);
  const stillRefusedLines = () => lines.filter((l) => /still refused/.test(l.msg)).length;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-pending-backoff-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log: createLogger('silent') });
    store = new LocalArtifactStore(dataDir);
    await mkdir(join(dataDir, key), { recursive: true });
    await writeFile(join(dataDir, key, 'inside'), 'x');
  });
  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a refusal that lasts is tried at the next pass, then after waits that double up to an hour', async () => {
    assert.equal(
      await db.pendingDeletions.record({
        path: key,
        recordingId,
        source: 'retention',
        reason: 'error',
        error: 'EISDIR',
      }),
      true,
    );
    // Ten passes in a row (a day of one-minute passes, squeezed): only the first is due.
    for (let i = 0; i < 10; i++) {
      const r = await pass();
      assert.equal(r.pending, 1);
    }
    assert.equal(stillRefusedLines(), 1, 'one retry and one warning, not one per pass');
    let r = await row();
    assert.equal(r?.attempts, 2);
    assert.ok(Math.abs(r!.wait - ERROR_RETRY_FIRST_SECONDS) < 1, `waits ${r?.wait} s`);
    const waits: number[] = [r!.wait];
    for (let i = 0; i < 12; i++) {
      await makeDue();
      await pass();
      await pass();
      r = await row();
      waits.push(Math.round(r!.wait));
    }
    assert.equal(r?.attempts, 14);
    assert.equal(stillRefusedLines(), 13);
    assert.deepEqual(
      waits,
      [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600, 3600].map((s) =>
        Math.min(s, HOLD_RETRY_SECONDS),
      ),
    );
  });

  it('an error recorded again by another path keeps its backoff, and the file is removed once it can be', async () => {
    await db.pendingDeletions.record({
      path: key,
      recordingId,
      source: 'offload',
      reason: 'error',
      error: 'EIO',
    });
    const r = await row();
    assert.equal(r?.attempts, 15);
    assert.equal(Math.round(r!.wait), HOLD_RETRY_SECONDS);
    await rm(join(dataDir, key), { recursive: true });
    await writeFile(join(dataDir, key), Buffer.alloc(1024, 7));
    await makeDue();
    const done = await pass();
    assert.deepEqual(done.removed, [key]);
    assert.equal(done.pending, 0);
    await assert.rejects(stat(join(dataDir, key)), { code: 'ENOENT' });
    const audit = await db.pool.query<{ details: { attempts: number } }>(
      `SELECT details FROM audit WHERE action = 'deletion.completed' AND resource_id = $1`,
      [recordingId],
    );
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0]!.details.attempts, 16);
  });
});
