/**
 * Retention on a cluster: every node runs the purge pass on its own timer against the one
 * catalogue. Two nodes' passes racing over the same due recordings (separate connection pools to
 * one real embedded Postgres, files on the shared data directory) must purge each recording once:
 * one node claims it (the guarded UPDATE), one `retention.purge` audit entry, its files wiped, and
 * neither pass fails, also when one is finishing the other's removals at the same moment.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { purgeOnce, type PurgeResult } from '../../src/pipeline/index.js';
import { wipeFile } from '../../src/pipeline/artifacts.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { storedRecording } from '../helpers/ended-call.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');
const DUE = 40;

describe('retention on two nodes sharing one catalogue', () => {
  let dataDir: string;
  let a: Database;
  let b: Database;

  /** A stored recording with two 256 KiB artifact files, started `ageMs` ago. */
  const stored = (ageMs: number): Promise<string> =>
    storedRecording(a, dataDir, {
      startedAt: new Date(Date.now() - ageMs),
      endedAt: new Date(),
      dir: join('recordings', 'r'),
      bytes: 256 << 10,
    });

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-retention-cluster-'));
    await seedDataDir(dataDir);
    a = await openDatabase({ dataDir, log });
    b = await openDatabase({ dataDir, log }); // a second node: its own pool, the same Postgres
  });

  after(async () => {
    await b?.close();
    await a?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('racing passes purge each due recording once, audit it once and wipe its files', async () => {
    const due: string[] = [];
    for (let i = 0; i < DUE; i++) due.push(await stored(3 * 86_400_000));
    const young = await stored(60_000);
    const policy = { default: '2d', groups: {} };
    const pass = (db: Database) => purgeOnce({ retention: db.retention, policy, dataDir, log, batch: 1000 });

    // Three rounds of both nodes at once: the first splits the purges between them, the later ones
    // race on finishing removals (each pass re-wipes the files of recordings purged in the last day).
    const results: PurgeResult[] = [];
    for (let round = 0; round < 3; round++) results.push(...(await Promise.all([pass(a), pass(b)])));

    const purged = results.flatMap((r) => r.purged);
    assert.equal(purged.length, DUE, `purges reported: ${purged.length}`);
    assert.deepEqual([...new Set(purged)].sort(), [...due].sort());
    const audits = await a.pool.query<{ resource_id: string; n: number }>(
      `SELECT resource_id, count(*)::int AS n FROM audit WHERE action = 'retention.purge' GROUP BY 1`,
    );
    assert.equal(audits.rows.length, DUE);
    assert.ok(audits.rows.every((r) => r.n === 1));
    const states = await a.pool.query<{ state: string; n: number }>(
      `SELECT state::text, count(*)::int AS n FROM recordings GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(states.rows, [
      { state: 'purged', n: DUE },
      { state: 'stored', n: 1 },
    ]);
    // Only the young recording's two files are left.
    const left = await readdir(join(dataDir, 'recordings', 'r'));
    assert.deepEqual(left.sort(), [`${young}.mp3.gpg`, `${young}.wav.gpg`]);
  });

  it('two nodes wiping the same file at once both succeed, and the file is gone', async () => {
    // What the race below comes down to: both open the file, overwrite it and sync; one unlinks
    // first. The other's unlink must not fail the pass (the file is wiped and removed either way).
    for (let i = 0; i < 10; i++) {
      const p = join(dataDir, `same-${i}.gpg`);
      await writeFile(p, Buffer.alloc(1 << 20, 9));
      const r = await Promise.allSettled([wipeFile(p), wipeFile(p)]);
      assert.deepEqual(
        r.map((x) => (x.status === 'rejected' ? String(x.reason) : 'ok')),
        ['ok', 'ok'],
      );
      await assert.rejects(stat(p), { code: 'ENOENT' });
    }
  });

  it('a pass that starts while the other node is wiping finishes its removals without failing', async () => {
    // The second pass begins by re-wiping the files of recordings purged in the last day, which
    // now includes the ones the first pass is wiping at that moment: both wipe the same files.
    const policy = { default: '2d', groups: {} };
    for (let round = 0; round < 5; round++) {
      const due: string[] = [];
      for (let i = 0; i < 20; i++) due.push(await stored(3 * 86_400_000));
      const first = purgeOnce({ retention: a.retention, policy, dataDir, log });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const n = await a.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM recordings WHERE id = ANY($1::uuid[]) AND state = 'purged'`,
          [due],
        );
        if (n.rows[0]!.n >= 2) break;
        assert.ok(Date.now() < deadline, 'the first pass purged nothing');
        await new Promise((r) => setTimeout(r, 1));
      }
      const [r1, r2] = await Promise.all([
        first,
        purgeOnce({ retention: b.retention, policy, dataDir, log }),
      ]);
      assert.deepEqual([...r1.purged, ...r2.purged].sort(), [...due].sort());
    }
    const young = (await a.pool.query<{ id: string }>(`SELECT id FROM recordings WHERE state = 'stored'`))
      .rows;
    assert.equal(young.length, 1);
    const left = await readdir(join(dataDir, 'recordings', 'r'));
    assert.deepEqual(left.sort(), [`${young[0]!.id}.mp3.gpg`, `${young[0]!.id}.wav.gpg`]);
  });
});
