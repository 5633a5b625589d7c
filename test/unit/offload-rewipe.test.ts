/**
 * The offload purge's hourly re-wipe (real Postgres, the local store): it finishes the removals
 * of recordings purged after offload in the last day, which a crash or a refusal of the store
 * interrupted. Before, a file it could not remove there was only logged: nothing named it any
 * more, so it stayed in the store for good. Now the refusal is recorded as a pending deletion
 * (source offload, audited once) that the retention pass tries again until the file is gone.
 * The file here cannot be removed even by root: its path is a non-empty directory (EISDIR), as an
 * immutable file, an EIO or an S3 AccessDenied would be.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import type { Decryptor } from '../../src/delivery/decrypt.js';
import type { OffloadDestination } from '../../src/delivery/destination.js';
import { OffloadService } from '../../src/delivery/offload.js';
import { retryPendingDeletions } from '../../src/pipeline/retention-pending.js';
import { LocalArtifactStore } from '../../src/storage/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { storedRecording } from '../helpers/ended-call.js';
import { seedDataDir } from '../helpers/pg-template.js';

const quiet = createLogger('silent');
const DIR = join('recordings', 'o');

describe(
  'the offload purge re-wipe records what the store refuses (real Postgres)',
  { timeout: 120_000 },
  () => {
    let dataDir: string;
    let db: Database;
    let store: LocalArtifactStore;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'srs-offload-rewipe-'));
      await seedDataDir(dataDir);
      db = await openDatabase({ dataDir, log: quiet });
      store = new LocalArtifactStore(dataDir);
    });
    after(async () => {
      await db?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('a file of a recording purged after offload that cannot be removed becomes a pending deletion, removed later', async () => {
      const id = await storedRecording(db, dataDir, {
        startedAt: new Date(Date.now() - 3_600_000),
        endedAt: new Date(Date.now() - 3_540_000),
        dir: DIR,
        bytes: 2048,
      });
      // Offloaded in a done batch and purged; a crash (or a refusal) left both files behind, and
      // the WAV's path cannot be removed.
      const batch = randomUUID();
      await db.pool.query(
        `INSERT INTO offload_batches (id, cut_at, csv_name, csv, count, state) VALUES ($1, now(), 'b.csv', '', 1, 'done')`,
        [batch],
      );
      await db.pool.query(
        `INSERT INTO offload_items (recording_id, batch_id, media_name, transferred_at, purged_at)
       VALUES ($1, $2, 'r.wav', now(), now())`,
        [id, batch],
      );
      await db.pool.query(`UPDATE recordings SET state = 'purged' WHERE id = $1`, [id]);
      const wav = join(DIR, `${id}.wav.gpg`);
      const mp3 = join(DIR, `${id}.mp3.gpg`);
      await rm(join(dataDir, wav));
      await mkdir(join(dataDir, wav));
      await writeFile(join(dataDir, wav, 'inside'), 'x');

      const offload = new OffloadService({
        repo: db.offload,
        decryptor: {} as Decryptor,
        dataDir,
        artifacts: store,
        pending: db.pendingDeletions,
        log: quiet,
        audio: {} as OffloadDestination,
        intervalMs: 1_800_000,
        purgeAfterTransfer: true,
        manifest: false,
      });
      assert.equal(await offload.purge(), 0, 'nothing new to purge: only the re-wipe runs');
      await assert.rejects(stat(join(dataDir, mp3)), { code: 'ENOENT' }, 'the MP3 is wiped');
      const rows = await db.pendingDeletions.ofRecording(id);
      assert.deepEqual(
        rows.map((r) => [r.path, r.source, r.reason]),
        [[wav, 'offload', 'error']],
      );
      const audited = await db.pool.query(
        `SELECT 1 FROM audit WHERE action = 'deletion.pending' AND resource_id = $1`,
        [id],
      );
      assert.equal(audited.rows.length, 1);

      // Once the store lets it go, the retention pass removes it and the row.
      await rm(join(dataDir, wav), { recursive: true });
      await writeFile(join(dataDir, wav), Buffer.alloc(2048, 7));
      const done = await retryPendingDeletions({ pending: db.pendingDeletions, store, dataDir, log: quiet });
      assert.deepEqual(done.removed, [wav]);
      await assert.rejects(stat(join(dataDir, wav)), { code: 'ENOENT' });
      assert.deepEqual(await db.pendingDeletions.ofRecording(id), []);
    });
  },
);
