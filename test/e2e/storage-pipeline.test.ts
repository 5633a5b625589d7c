/**
 * The pipeline with the s3 artifact store, against a real S3 implementation (Ceph radosgw, one
 * throwaway cluster for the whole file; test/helpers/s3-pipeline-world.ts) and real `srs serve`
 * processes sharing one Postgres, storing into a bucket with Object Lock:
 *   - kill -9 between the upload and the catalogue commit: after the restart, one object (one
 *     version) per artifact and one catalogue row, the recording decrypts to its tone, locked by
 *     Object Lock until its retention policy's end;
 *   - a long recording goes up in parts and reads back whole;
 *   - radosgw killed while recordings wait to be stored: they wait (spool kept, not failed), and
 *     are stored once it is back;
 *   - retention meeting an Object Lock: refused, reported (log, audit, metric), the recording kept.
 * `srs storage migrate` (a local node's recordings moved to a bucket) is in storage-migrate.test.ts.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { artifactDir } from '../../src/pipeline/index.js';
import { sha256Of } from '../../src/storage/index.js';
import { DAY, openS3PipelineWorld, type S3PipelineWorld } from '../helpers/s3-pipeline-world.js';
import { s3ServerMissing } from '../helpers/s3-server.js';
import { died, type TestServer } from '../helpers/server.js';

/** radosgw's port (storage-migrate.test.ts has 27481, storage-s3-read.test.ts 28480). */
const RGW_PORT = 27480;

const missing = await s3ServerMissing();
if (missing) console.log(`# storage-pipeline tests skipped: ${missing}`);

describe('pipeline with the s3 store on Ceph radosgw', { skip: missing, timeout: 600_000 }, () => {
  let world: S3PipelineWorld;
  /** The server started by the kill -9 test, which the later tests use (the last one stops it). */
  let server: TestServer | undefined;

  before(async () => {
    world = await openS3PipelineWorld({
      name: 'srs-s3-pipe-',
      rgwPort: RGW_PORT,
      bucket: 'srs-rec',
      objectLock: true,
    });
  });

  after(async () => {
    await world?.close();
  });

  it('kill -9 between the upload and the catalogue commit: one object version and one row per artifact after the restart', async () => {
    const { dataDir, db, store: worm, storeEnv, jobEnv, startServer, newCall, stateOf, waitStored } = world;
    const { versions, checkAudio, filesUnder } = world;
    const env = { ...jobEnv(), ...storeEnv(), SRS_RETENTION: '3d', SRS_PURGE_INTERVAL: '5' };
    const id = await newCall({ hz: 440, ms: 2000 });
    const crashing = await startServer({ ...env, SRS_TEST_CRASH_AFTER_STEP: 'uploaded' });
    const signal = await died(crashing);
    assert.equal(signal, 'SIGKILL', crashing.output().slice(-3000));
    assert.notEqual(await stateOf(id), 'stored');
    const dir = artifactDir((await db.recordings.get(id))!.startedAt);
    const keys = ['wav', 'mp3'].map((k) => `${dir}/${id}.${k}.gpg`);
    for (const k of keys) assert.deepEqual(await versions(k), { versions: 1, markers: 0 }, k);

    server = await startServer(env);
    await waitStored(id);
    await server.waitFor(/artifacts uploaded by an earlier attempt: reused/, 10000);
    const rec = await db.recordings.get(id);
    assert.deepEqual(rec!.files.map((f) => f.path).sort(), [...keys].sort());
    const rows = await db.pool.query('SELECT count(*)::int AS n FROM files WHERE recording_id = $1', [id]);
    assert.equal(rows.rows[0].n, 2);
    const chain = await db.pool.query(
      'SELECT count(*)::int AS n FROM recording_chain WHERE recording_id = $1',
      [id],
    );
    assert.equal(chain.rows[0].n, 1);
    for (const f of rec!.files) {
      assert.deepEqual(await versions(f.path), { versions: 1, markers: 0 }, f.path);
      const h = await worm.client.send(new HeadObjectCommand({ Bucket: 'srs-rec', Key: `node-1/${f.path}` }));
      assert.equal(h.Metadata?.sha256, f.sha256Cipher);
      // WORM until the 3-day retention policy ends (later than the configured 1 day).
      assert.equal(h.ObjectLockMode, 'GOVERNANCE');
      const until = rec!.startedAt.getTime() + 3 * DAY;
      assert.ok(
        Math.abs(h.ObjectLockRetainUntilDate!.getTime() - until) < 2000,
        `${f.path} locked until ${until}`,
      );
    }
    await checkAudio(id, [[200, 1800]]);
    await assert.rejects(stat(join(dataDir, 'spool', id)), /ENOENT/);
    assert.deepEqual(await filesUnder(join(dataDir, 'recordings')), [], 'nothing written locally');
  });

  it('a long recording goes up in 5 MiB parts and reads back whole', async () => {
    const { db, store: worm, newCall, waitStored, checkAudio } = world;
    const ms = 12 * 60_000; // a 5.8 MB WAV
    const id = await newCall({ hz: 700, ms });
    await waitStored(id, 180_000);
    const wav = (await db.recordings.get(id))!.files.find((f) => f.kind === 'wav')!;
    assert.ok(wav.bytes > 5 * 1024 * 1024);
    const h = await worm.client.send(new HeadObjectCommand({ Bucket: 'srs-rec', Key: `node-1/${wav.path}` }));
    assert.match(h.ETag ?? '', /-2"$/, 'a two-part upload');
    assert.equal(h.ObjectLockMode, 'GOVERNANCE');
    assert.deepEqual(await sha256Of(worm, wav.path), { sha256: wav.sha256Cipher, size: wav.bytes });
    await checkAudio(id, [
      [1000, 2000],
      [330_000, 331_000],
      [ms - 2000, ms - 1000],
    ]);
  });

  it('radosgw down while calls end: the recordings wait (spool kept, not failed), then are stored', async () => {
    const { s3, dataDir, db, newCall, stateOf, waitFor, waitStored, versions, checkAudio } = world;
    await s3.stopGateway();
    let restarted = false;
    try {
      const id = await newCall({ hz: 550, ms: 2000 });
      // Every attempt fails; the last leaves the recording processing (not failed), its spool kept.
      await waitFor(
        'the last attempt',
        async () =>
          (await db.pool.query(`SELECT 1 FROM pgboss.job WHERE id = $1 AND state = 'failed'`, [id]))
            .rowCount === 1,
      );
      assert.match(server!.output(), /"waits":true/);
      assert.equal(await stateOf(id), 'processing');
      assert.ok((await stat(join(dataDir, 'spool', id, 'leg0.spool'))).size > 0, 'spool kept');
      await new Promise((r) => setTimeout(r, 7000)); // a check of the waiting recordings passes
      assert.equal(await stateOf(id), 'processing');
      const metrics = await fetch(`http://127.0.0.1:${server!.httpPort}/metrics`, {
        headers: { authorization: `Bearer ${server!.token}` },
      }).then((r) => r.text());
      assert.match(metrics, /^srs_storage_waiting_recordings 1$/m);
      await s3.startGateway();
      restarted = true;
      await waitStored(id);
      assert.match(server!.output(), /recordings waiting for it queued again/);
      const rec = await db.recordings.get(id);
      for (const f of rec!.files)
        assert.deepEqual(await versions(f.path), { versions: 1, markers: 0 }, f.path);
      await checkAudio(id, [[200, 1800]]);
      await assert.rejects(stat(join(dataDir, 'spool', id)), /ENOENT/);
    } finally {
      if (!restarted) await s3.startGateway();
    }
  });

  it('retention meets an Object Lock: refused, reported once (log, audit, metric), the recording kept', async () => {
    const { db, store: worm, newCall, stateOf, waitFor, waitStored } = world;
    // Started 4 days ago: past its 3-day policy, but locked for the configured day from its upload.
    const id = await newCall({ hz: 600, ms: 2000, startedAgoMs: 4 * DAY });
    await waitStored(id);
    const audits = async () =>
      (
        await db.pool.query<{ details: { mode: string; key: string } }>(
          `SELECT details FROM audit WHERE action = 'retention.purge-refused' AND resource_id = $1`,
          [id],
        )
      ).rows;
    await waitFor('the refusal audited', async () => (await audits()).length > 0, 30_000);
    assert.match(server!.output(), /recording not purged, the store refuses to delete it/);
    const rec = await db.recordings.get(id);
    assert.equal(rec!.state, 'stored');
    assert.equal(rec!.purgedAt ?? null, null);
    for (const f of rec!.files) assert.equal(await worm.exists(f.path), true);
    assert.equal((await audits())[0]!.details.mode, 'GOVERNANCE');
    const metrics = await fetch(`http://127.0.0.1:${server!.httpPort}/metrics`, {
      headers: { authorization: `Bearer ${server!.token}` },
    }).then((r) => r.text());
    assert.match(metrics, /^srs_storage_deletes_refused_total 1$/m);
    // The next passes do not report it again.
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal((await audits()).length, 1);
    assert.equal(await stateOf(id), 'stored');
    // A deletion through the API meets the same lock: 409 naming it, audited, nothing marked deleted.
    const del = await fetch(`http://127.0.0.1:${server!.httpPort}/api/v1/recordings/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server!.token}` },
    });
    const body = (await del.json()) as { error?: string };
    assert.equal(del.status, 409, JSON.stringify(body));
    assert.match(body.error ?? '', /GOVERNANCE Object Lock retention until/);
    const refused = await db.pool.query<{ details: { reason: string; mode: string } }>(
      `SELECT details FROM audit WHERE action = 'delete-refused' AND resource_id = $1`,
      [id],
    );
    assert.equal(refused.rows.length, 1);
    assert.equal(refused.rows[0]!.details.mode, 'GOVERNANCE');
    assert.equal(await stateOf(id), 'stored');
    for (const f of rec!.files) assert.equal(await worm.exists(f.path), true);
    assert.equal(await server!.stop(), 0);
  });
});
