/**
 * `srs storage migrate` against a real S3 implementation (Ceph radosgw, one throwaway cluster for
 * the whole file; test/helpers/s3-pipeline-world.ts) and a real `srs serve` on local storage: a
 * local node's recordings moved to a bucket: dry run, a corrupted local file refused and kept,
 * resumed, idempotent; then retention deletes the objects. The pipeline storing into the bucket
 * itself is in storage-pipeline.test.ts.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { purgeOnce } from '../../src/pipeline/index.js';
import { sha256Of } from '../../src/storage/index.js';
import { log, openS3PipelineWorld, type S3PipelineWorld } from '../helpers/s3-pipeline-world.js';
import { s3ServerMissing } from '../helpers/s3-server.js';

/** radosgw's port (storage-pipeline.test.ts has 27480, storage-s3-read.test.ts 28480). */
const RGW_PORT = 27481;

const missing = await s3ServerMissing();
if (missing) console.log(`# storage-migrate tests skipped: ${missing}`);

describe('srs storage migrate to the s3 store on Ceph radosgw', { skip: missing, timeout: 600_000 }, () => {
  let world: S3PipelineWorld;

  before(async () => {
    world = await openS3PipelineWorld({
      name: 'srs-s3-migrate-',
      rgwPort: RGW_PORT,
      bucket: 'srs-moved',
      objectLock: false,
    });
  });

  after(async () => {
    await world?.close();
  });

  it('srs storage migrate: dry run, verified copies, a bad local file kept, resumed, idempotent; then retention deletes the objects', async () => {
    const { dataDir, db, store: moved, storeEnv, jobEnv, startServer, srs, newCall, stateOf } = world;
    const { waitStored, checkAudio, filesUnder } = world;
    // A node on local storage stores two recordings.
    const server = await startServer(jobEnv());
    const ids = [await newCall({ hz: 500, ms: 2000 }), await newCall({ hz: 650, ms: 2000 })];
    for (const id of ids) await waitStored(id);
    await server.waitFor(/SIPREC recording server ready/);
    assert.equal(await server.stop(), 0);
    const files = (await Promise.all(ids.map((id) => db.recordings.get(id)))).flatMap((r) => r!.files);
    assert.equal(files.length, 4);

    // Without an object store configured: a usage error.
    const local = await srs(['storage', 'migrate'], { DATABASE_URL: db.connectionString });
    assert.equal(local.code, 2, local.stderr);
    assert.match(local.stderr, /SRS_STORAGE=s3/);

    const env = { ...storeEnv(), DATABASE_URL: db.connectionString };
    const dry = await srs(['storage', 'migrate', '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /\[4\/4\] .*would copy/);
    assert.match(dry.stdout, /dry run: 4 file\(s\): 4 would be copied/);
    for (const f of files) assert.equal(await moved.exists(f.path), false, 'dry run uploads nothing');
    const trail = async (action: string) => (await db.audit.search({ action })).items;
    assert.equal((await trail('storage.migrate')).length, 0, 'a dry run moves nothing and is not a run');

    // One local file damaged: refused (its SHA-256 is not the catalogue's), kept; the others are
    // copied (their local files kept too, --keep-local).
    const bad = files[0]!;
    const backup = join(dataDir, 'backup.gpg');
    await copyFile(join(dataDir, bad.path), backup);
    const damaged = await readFile(backup);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 5) ^ 0xff, damaged.length - 5);
    await writeFile(join(dataDir, bad.path), damaged);
    const first = await srs(['storage', 'migrate', '--keep-local'], env);
    assert.equal(first.code, 1, first.stdout + first.stderr);
    assert.match(
      first.stdout,
      new RegExp(`${bad.path}: FAILED: the local file does not match the catalogue`),
    );
    assert.match(first.stdout, /4 file\(s\): 3 copied .* 0 local copies removed, 1 failed/);
    for (const f of files) assert.ok((await stat(join(dataDir, f.path))).isFile(), `${f.path} kept`);
    assert.match(first.stderr, /1 file\(s\) not moved/);
    assert.equal(await moved.exists(bad.path), false, 'the damaged file was not stored');
    assert.ok((await stat(join(dataDir, bad.path))).isFile(), 'the damaged file is kept');
    // On the trail: the run and where it went, every file that left (the damaged one was refused
    // by the store after its entry), and the outcome.
    const runs = await trail('storage.migrate');
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.resourceId, 's3://srs-moved/node-1/');
    assert.equal(runs[0]!.via, 'cli');
    const copies = await trail('artifact.copy');
    assert.deepEqual(copies.map((e) => e.details.path).sort(), files.map((f) => f.path).sort());
    assert.ok(copies.every((e) => e.details.to === 's3://srs-moved/node-1/' && e.resource === 'recording'));
    const done = await trail('storage.migrate.done');
    assert.deepEqual([done[0]!.details.copied, done[0]!.details.failed], [3, 1]);

    // Fixed and run again: resumes (the three already there are read back, their local copies
    // removed; the fixed one copied), then nothing is left to do.
    await copyFile(backup, join(dataDir, bad.path));
    await rm(backup);
    const second = await srs(['storage', 'migrate'], env);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(
      second.stdout,
      /4 file\(s\): 1 copied .* 3 already in s3:\/\/srs-moved\/node-1\/, 4 local copies removed, 0 failed/,
    );
    assert.match(
      second.stdout,
      new RegExp(`${files[1]!.path}: already in the store, verified; local copy removed`),
    );
    const third = await srs(['storage', 'migrate', '--json'], env);
    assert.equal(third.code, 0, third.stdout + third.stderr);
    const summary = JSON.parse(third.stdout.trim().split('\n').pop()!) as {
      copied: number;
      alreadyThere: number;
    };
    assert.deepEqual([summary.copied, summary.alreadyThere], [0, 4]);
    for (const f of files) {
      assert.deepEqual(await sha256Of(moved, f.path), { sha256: f.sha256Cipher, size: f.bytes });
      const h = await moved.head(f.path);
      assert.equal(h?.metadata?.['sha256-plain'], f.sha256Plain);
    }
    assert.deepEqual(
      (await filesUnder(join(dataDir, 'recordings'))).map((e) => e.name),
      [],
      'no local artifact left',
    );
    await checkAudio(ids[1]!, [[200, 1800]]);

    // Retention deletes through the store.
    const r = await purgeOnce({
      retention: db.retention,
      policy: { default: '1h', groups: {} },
      dataDir,
      log,
      store: moved,
      now: new Date(Date.now() + 2 * 3_600_000),
    });
    assert.deepEqual(r.purged.sort(), [...ids].sort());
    assert.deepEqual(r.refused, []);
    for (const f of files) assert.equal(await moved.exists(f.path), false, `${f.path} deleted`);
    for (const id of ids) assert.equal(await stateOf(id), 'purged');
  });
});
