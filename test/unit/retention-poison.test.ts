/**
 * One file that cannot be removed does not stop retention (real Postgres, the local store, the
 * real purge pass with its state kept as the maintenance timer keeps it; audit-control-retention
 * finding 7). A pass first finishes the removals of recordings purged in the last day, and a
 * removal that failed with anything but an Object Lock refusal was rethrown: the pass ended there,
 * every pass after it too, and nothing more was purged anywhere (for a day with the local store,
 * until a restart with S3). The file here cannot be removed even by root: its path is a non-empty
 * directory (EISDIR), as a file under `chattr +i`, an EIO or an S3 AccessDenied would be. Now each
 * file's failure is logged, audited once (`retention.remove-failed`) and counted, the pass goes on
 * with the due recordings, and the removal is tried again at later passes.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createLogger } from '../../src/log.js';
import { purgeOnce } from '../../src/pipeline/index.js';
import { LocalArtifactStore } from '../../src/storage/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { storedRecording } from '../helpers/ended-call.js';
import { seedDataDir } from '../helpers/pg-template.js';

const quiet = createLogger('silent');
const DAY = 86_400_000;
const policy = { default: '2d', groups: {} };
const DIR = join('recordings', 'p');

describe(
  'retention with a file that cannot be removed (real Postgres, local store)',
  { timeout: 120_000 },
  () => {
    let dataDir: string;
    let db: Database;
    let store: LocalArtifactStore;
    const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    /** As the maintenance timer keeps it between passes. */
    const state = { lockedUntil: new Map<string, number>() };
    let failures = 0;
    const pass = () =>
      purgeOnce({
        retention: db.retention,
        policy,
        dataDir,
        log,
        store,
        state,
        onRemovalFailed: () => failures++,
      });

    /** A stored recording with two small files, started `ageMs` ago. */
    const stored = (ageMs: number): Promise<string> =>
      storedRecording(db, dataDir, {
        startedAt: new Date(Date.now() - ageMs),
        endedAt: new Date(Date.now() - ageMs + 60_000),
        dir: DIR,
        bytes: 4096,
      });
    /** Makes a recording's WAV a path nothing can remove as a file (root included). */
    const poison = async (id: string): Promise<string> => {
      const key = join(DIR, `${id}.wav.gpg`);
      await rm(join(dataDir, key));
      await mkdir(join(dataDir, key));
      await writeFile(join(dataDir, key, 'inside'), 'x');
      return key;
    };
    const stateOf = async (id: string) =>
      (await db.pool.query<{ state: string }>('SELECT state::text FROM recordings WHERE id = $1', [id]))
        .rows[0]?.state;
    const filesOf = async (id: string) => (await readdir(join(dataDir, DIR))).filter((n) => n.startsWith(id));
    const audits = async (id: string) =>
      (
        await db.pool.query<{ details: { key: string; error: string } }>(
          `SELECT details FROM audit WHERE action = 'retention.remove-failed' AND resource_id = $1 ORDER BY id`,
          [id],
        )
      ).rows.map((r) => r.details);

    let stuck: string;
    let stuckKey: string;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'srs-retention-poison-'));
      await seedDataDir(dataDir);
      db = await openDatabase({ dataDir, log: quiet });
      store = new LocalArtifactStore(join(dataDir, 'recordings'));
    });
    after(async () => {
      await db?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('a due recording whose file cannot be removed does not stop the others in the same pass', async () => {
      stuck = await stored(4 * DAY);
      stuckKey = await poison(stuck);
      const due = await stored(3 * DAY);
      const young = await stored(60_000);
      const r = await pass();
      assert.deepEqual([...r.purged].sort(), [stuck, due].sort());
      assert.equal(await stateOf(due), 'purged');
      assert.deepEqual(await filesOf(due), []);
      assert.equal(await stateOf(young), 'stored');
      // The stuck recording is purged (its tombstone written); its MP3 is wiped, its WAV is left.
      assert.equal(await stateOf(stuck), 'purged');
      assert.deepEqual(await filesOf(stuck), [`${stuck}.wav.gpg`]);
      assert.deepEqual(
        r.removalsFailed.map((f) => ({ recordingId: f.recordingId, key: f.key })),
        [{ recordingId: stuck, key: stuckKey }],
      );
      assert.equal(failures, 1);
      const error = lines.find((l) => l.level === 50 && l.key === stuckKey);
      assert.ok(error, `an error line names the file: ${JSON.stringify(lines)}`);
      assert.equal(error.recordingId, stuck);
    });

    it('a file left from an earlier pass does not stall the later passes, and is audited once', async () => {
      const later = await stored(60_000);
      // Due now: the passes after the one that left the file stuck still purge it.
      await db.pool.query(`UPDATE recordings SET started_at = now() - interval '3 days' WHERE id = $1`, [
        later,
      ]);
      const r = await pass();
      assert.deepEqual(r.purged, [later]);
      assert.equal(await stateOf(later), 'purged');
      assert.deepEqual(await filesOf(later), []);
      // Passes that try the stuck file again (a pass without kept state retries it at once).
      for (let i = 0; i < 3; i++) {
        const again = await purgeOnce({ retention: db.retention, policy, dataDir, log, store });
        assert.deepEqual(
          again.removalsFailed.map((f) => f.key),
          [stuckKey],
        );
      }
      const entries = await audits(stuck);
      assert.equal(entries.length, 1, `audit entries: ${JSON.stringify(entries)}`);
      assert.equal(entries[0]!.key, stuckKey);
      assert.match(entries[0]!.error, /EISDIR|directory/i);
      // Once it can be removed, a later pass removes it.
      await rm(join(dataDir, stuckKey), { recursive: true });
      await writeFile(join(dataDir, stuckKey), Buffer.alloc(4096, 7));
      const fixed = await purgeOnce({ retention: db.retention, policy, dataDir, log, store });
      assert.deepEqual(fixed.removalsFailed, []);
      await assert.rejects(stat(join(dataDir, stuckKey)), { code: 'ENOENT' });
    });
  },
);
