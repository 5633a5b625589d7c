/**
 * Each key's file count (GET /keys, `srs keys list`) kept as files change (migration 046), not
 * counted at every read (real embedded Postgres): a catalogue made before the migration is
 * counted once by it; then storing (and storing again after a retry), re-encrypting to another key,
 * moving a file by hand and deleting a recording keep every count equal to a count of the files
 * table.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { chainRepository } from '../../src/store/chain.js';
import { migrate } from '../../src/store/db.js';
import { ensureEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/store/embedded.js';
import { keysRepository } from '../../src/store/keys.js';
import type { RecordingFile } from '../../src/store/types.js';

const log = createLogger('silent');
const MIGRATIONS = fileURLToPath(new URL('../../src/store/migrations/', import.meta.url));

describe('key file counts kept as files change (real Postgres)', { timeout: 120_000 }, () => {
  let dir: string;
  let pgh: EmbeddedPostgresHandle;
  let pool: pg.Pool;
  const A = 'A'.repeat(40);
  const B = 'B'.repeat(40);
  const C = 'C'.repeat(40);

  /** Each key's count as the repository lists it, and as counted from the files table. */
  const counts = async () => {
    const listed = Object.fromEntries(
      (await keysRepository(pool).list()).map((k) => [k.fingerprint, k.files]),
    );
    const r = await pool.query<{ k: string; n: string }>(
      `SELECT k.fingerprint AS k, (SELECT count(*) FROM files f WHERE f.key_fingerprint = k.fingerprint) AS n FROM keys k`,
    );
    const counted = Object.fromEntries(r.rows.map((x) => [x.k, Number(x.n)]));
    return { listed, counted };
  };
  const recording = async () => {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, state)
       VALUES ($1, $2, '127.0.0.1:5060', now(), now(), 'processing')`,
      [id, `${id}@pbx`],
    );
    return id;
  };
  const file = (kind: 'wav' | 'mp3', key: string, n = 1): RecordingFile => ({
    kind,
    path: `x/${randomUUID()}.${kind}.gpg`,
    bytes: 100 * n,
    sha256Plain: 'p'.repeat(64),
    sha256Cipher: String(n).repeat(64).slice(0, 64),
    keyFingerprint: key,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-key-counts-'));
    pgh = await ensureEmbeddedPostgres({ dataDir: dir, log });
    pool = new pg.Pool({ connectionString: pgh.connectionString, max: 4 });
    // The catalogue as it was before migration 046, with files under two keys.
    const before046 = join(dir, 'migrations-045');
    await mkdir(before046);
    for (const f of await readdir(MIGRATIONS))
      if (/^\d+_.*\.sql$/.test(f) && Number(f.slice(0, 3)) <= 45)
        await copyFile(join(MIGRATIONS, f), join(before046, f));
    await migrate(pool, log, before046);
    for (const k of [A, B, C])
      await pool.query(`INSERT INTO keys (fingerprint, algorithm, active) VALUES ($1, 'rsa4096', $2)`, [
        k,
        k === B,
      ]);
    for (let i = 0; i < 3; i++) {
      const id = await recording();
      for (const f of [file('wav', i < 2 ? A : B), file('mp3', i < 2 ? A : B)])
        await pool.query(
          `INSERT INTO files (recording_id, kind, path, bytes, sha256_plain, sha256_cipher, key_fingerprint)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, f.kind, f.path, f.bytes, f.sha256Plain, f.sha256Cipher, f.keyFingerprint],
        );
      await pool.query(`UPDATE recordings SET state = 'stored' WHERE id = $1`, [id]);
    }
  });
  after(async () => {
    await pool?.end();
    await pgh?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts a catalogue made before it once, then keeps every count as files change', async () => {
    // 046 (the counts) and 047 run here; later migrations may follow them.
    assert.deepEqual(
      (await migrate(pool, log)).filter((n) => n <= 47),
      [46, 47],
    );
    let c = await counts();
    assert.deepEqual(c.listed, { [A]: 4, [B]: 2, [C]: 0 });
    assert.deepEqual(c.listed, c.counted);

    // Stored as the pipeline stores (one statement: files, state, chain); a retry of the same
    // recording's store, its MP3 now under C: the row is updated, not added.
    const chain = chainRepository(pool);
    const id = await recording();
    await chain.markStoredChained(id, [file('wav', B), file('mp3', B)]);
    c = await counts();
    assert.deepEqual(c.listed, { [A]: 4, [B]: 4, [C]: 0 });
    await pool.query(`UPDATE recordings SET state = 'processing' WHERE id = $1`, [id]);
    const again = await recording();
    await chain.markStoredChained(again, [file('wav', B)]);
    await pool.query(
      `INSERT INTO files (recording_id, kind, path, bytes, sha256_plain, sha256_cipher, key_fingerprint)
       VALUES ($1, 'mp3', 'y', 1, 'p', 'q', $2)
       ON CONFLICT (recording_id, kind) DO UPDATE SET key_fingerprint = EXCLUDED.key_fingerprint`,
      [id, C],
    );
    c = await counts();
    assert.deepEqual(c.listed, { [A]: 4, [B]: 4, [C]: 1 });
    assert.deepEqual(c.listed, c.counted);

    // Re-encrypted to the active key, file by file, as the re-encryption commits it.
    const keys = keysRepository(pool);
    const under = await keys.filesUnder(A);
    assert.equal(under.length, 4);
    for (const t of under) {
      await keys.beginReencrypt(t, B, `${t.path}.b`);
      await keys.completeReencrypt(
        t,
        { newKey: B, newPath: `${t.path}.b`, bytes: 7, sha256Cipher: 'n'.repeat(64) },
        { actor: 'test', via: 'cli' },
      );
    }
    c = await counts();
    assert.deepEqual(c.listed, { [A]: 0, [B]: 8, [C]: 1 });
    assert.deepEqual(c.listed, c.counted);

    // One statement moving files of several keys at once, and a recording deleted (its files go
    // with it, by the foreign key's cascade).
    await pool.query(
      `UPDATE files SET key_fingerprint = CASE key_fingerprint WHEN $1 THEN $2 ELSE $1 END
                      WHERE key_fingerprint IN ($1, $2) AND recording_id = $3`,
      [B, C, id],
    );
    await pool.query('DELETE FROM recordings WHERE id = $1', [again]);
    c = await counts();
    assert.deepEqual(c.listed, c.counted);
    assert.equal(c.listed[A], 0);
    assert.equal((c.listed[B] ?? 0) + (c.listed[C] ?? 0), 8);
  });
});
