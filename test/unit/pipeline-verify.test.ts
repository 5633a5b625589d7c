/**
 * Verification on a real embedded Postgres, a real pipeline and the real `srs` CLI
 * (test/helpers/integrity-world.ts): changed, missing and substituted files, recordings removed
 * from the catalogue, chain entries reordered, removed or forged behind the append-only
 * triggers' back.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/store/db.js';
import { startIntegrityWorld, type IntegrityWorld } from '../helpers/integrity-world.js';

describe('pipeline integrity: verify', () => {
  let w: IntegrityWorld;
  let dataDir: string;
  let db: Database;
  const newStored = (o?: Parameters<IntegrityWorld['newStored']>[0]) => w.newStored(o);
  const srs = (...args: string[]) => w.srs(...args);
  const tamper = (sql: string, params?: unknown[]) => w.tamper(sql, params);

  before(async () => {
    w = await startIntegrityWorld();
    ({ dataDir, db } = w);
  });

  after(async () => {
    await w?.close();
  });

  it('verify finds changed, missing and substituted files and removed or reordered recordings', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await newStored({ hz: 500 + 100 * i }));
    const paths = await db.pool.query<{ path: string }>(
      'SELECT path FROM files WHERE recording_id = ANY($1::uuid[])',
      [ids],
    );
    const ok = await srs('recordings', 'verify', '--all');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /verified 5 recording\(s\), 10 file\(s\).*all good/);
    const parties = await db.pool.query(
      'SELECT caller_number, callee_number, caller_name, stored_at FROM recordings WHERE id = $1',
      [ids[0]],
    );
    assert.equal(parties.rows[0].caller_number, '1001');
    assert.equal(parties.rows[0].callee_number, '+4930123');

    const fileOf = async (id: string, kind: string) =>
      join(dataDir, (await db.recordings.get(id))!.files.find((f) => f.kind === kind)!.path);
    // Changed: one byte flipped.
    const changed = await fileOf(ids[0]!, 'mp3');
    const buf = await readFile(changed);
    buf.writeUInt8(buf.readUInt8(buf.length >> 1) ^ 0xff, buf.length >> 1);
    await writeFile(changed, buf);
    // Missing.
    await unlink(await fileOf(ids[1]!, 'wav'));
    // Substituted: another recording's (valid, decryptable) file copied over this one.
    await copyFile(await fileOf(ids[3]!, 'wav'), await fileOf(ids[2]!, 'wav'));

    const one = await srs('recordings', 'verify', ids[0]!);
    assert.equal(one.code, 3);
    assert.match(one.stdout, /^CHANGED\s.*mp3 file .* does not match/m);
    const all = await srs('recordings', 'verify', '--all');
    assert.equal(all.code, 3);
    assert.match(all.stdout, new RegExp(`^MISSING\\s+${ids[1]}\\s+wav file .* is missing`, 'm'));
    assert.match(
      all.stdout,
      new RegExp(`^SUBSTITUTED\\s+${ids[2]}\\s+wav file .* holds the wav of recording ${ids[3]}`, 'm'),
    );
    assert.match(all.stdout, /3 PROBLEM\(S\)/);

    const swap = async (d: string) => {
      await tamper(`UPDATE recording_chain SET seq = -1 WHERE day = $1 AND seq = 1`, [d]);
      await tamper(`UPDATE recording_chain SET seq = 1 WHERE day = $1 AND seq = 2`, [d]);
      await tamper(`UPDATE recording_chain SET seq = 2 WHERE day = $1 AND seq = -1`, [d]);
    };
    // A recording removed from the catalogue (its chain entry stays) and two entries reordered.
    await db.pool.query('DELETE FROM recordings WHERE id = $1', [ids[4]]);
    const day = new Date().toISOString().slice(0, 10);
    await swap(day);
    const chain = await srs('recordings', 'verify', '--all', '--json');
    assert.equal(chain.code, 3);
    const report = JSON.parse(chain.stdout) as {
      problems: { code: string; recordingId: string; detail: string }[];
    };
    const chainProblems = report.problems.filter((p) => p.code === 'CHAIN');
    assert.ok(
      chainProblems.some((p) => p.recordingId === ids[4] && /removed from the catalogue/.test(p.detail)),
    );
    assert.ok(
      chainProblems.some((p) => /chain broken/.test(p.detail)),
      JSON.stringify(chainProblems),
    );

    // Usage errors are told apart from findings.
    const bad = await srs('recordings', 'verify');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /give a recording id or --all/);
    // Put the day back in order for the tests that follow.
    await swap(day);
    await tamper('DELETE FROM recording_chain WHERE recording_id = ANY($1::uuid[])', [ids]);
    for (const p of paths.rows) await rm(join(dataDir, p.path), { force: true });
    await db.pool.query('DELETE FROM recordings WHERE id = ANY($1::uuid[])', [ids]);
  });

  it('verify finds the last entries of a day removed together with their recordings', async () => {
    const day = '2021-06-01';
    const first = await newStored({ hz: 600, startedAt: new Date(`${day}T10:00:00Z`) });
    const last = await newStored({ hz: 800, startedAt: new Date(`${day}T10:05:00Z`) });
    const files = (
      await db.pool.query<{ path: string }>('SELECT path FROM files WHERE recording_id = ANY($1::uuid[])', [
        [first, last],
      ])
    ).rows;
    const clean = JSON.parse((await srs('recordings', 'verify', first, '--json')).stdout) as {
      problems: unknown[];
    };
    assert.deepEqual(clean.problems, []);
    // The chain itself refuses edits and deletions...
    await assert.rejects(
      db.pool.query('DELETE FROM recording_chain WHERE recording_id = $1', [last]),
      /append-only/,
    );
    // ...so a superuser removes the day's last entry and its recording behind the triggers' back.
    await tamper('DELETE FROM recording_chain WHERE recording_id = $1', [last]);
    await tamper('DELETE FROM recordings WHERE id = $1', [last]);
    const v = await srs('recordings', 'verify', first, '--json');
    assert.equal(v.code, 3, v.stdout);
    const rep = JSON.parse(v.stdout) as { problems: { code: string; detail: string }[] };
    assert.ok(
      rep.problems.some(
        (p) => p.code === 'CHAIN' && /ends at entry 1 but audit row \d+ anchored entry 2/.test(p.detail),
      ),
      v.stdout,
    );
    // An entry slipped in behind the triggers' back has no anchor and is named too.
    await tamper(
      `INSERT INTO recording_chain (day, seq, recording_id, content, prev_hash, hash)
       SELECT day, 2, gen_random_uuid(), 'forged', hash, 'x' FROM recording_chain WHERE recording_id = $1`,
      [first],
    );
    await tamper(
      `INSERT INTO recording_chain (day, seq, recording_id, content, prev_hash, hash)
       SELECT day, 3, gen_random_uuid(), 'forged', 'x', 'y' FROM recording_chain WHERE recording_id = $1`,
      [first],
    );
    const v2 = JSON.parse((await srs('recordings', 'verify', first, '--json')).stdout) as {
      problems: { detail: string }[];
    };
    assert.ok(
      v2.problems.some((p) => /entries were replaced/.test(p.detail)),
      JSON.stringify(v2.problems),
    );
    // Leave nothing of this day for the tests that follow.
    await tamper(`DELETE FROM recording_chain WHERE day = $1`, [day]);
    await db.pool.query('DELETE FROM recordings WHERE id = $1', [first]);
    for (const f of files) await rm(join(dataDir, f.path), { force: true });
  });
});
