/**
 * The pipeline with the s3 artifact store, against a real S3 implementation (Ceph radosgw, one
 * throwaway cluster for the whole file) and real `srs serve` processes sharing one Postgres:
 *   - `srs storage migrate` moves a local node's recordings to a bucket: dry run, a corrupted local
 *     file refused and kept, resumed, idempotent; then retention deletes the objects;
 *   - kill -9 between the upload and the catalogue commit: after the restart, one object (one
 *     version) per artifact and one catalogue row, the recording decrypts to its tone, locked by
 *     Object Lock until its retention policy's end;
 *   - a long recording goes up in parts and reads back whole;
 *   - radosgw killed while recordings wait to be stored: they wait (spool kept, not failed), and
 *     are stored once it is back;
 *   - retention meeting an Object Lock: refused, reported (log, audit, metric), the recording kept.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { artifactDir, purgeOnce, type Pipeline } from '../../src/pipeline/index.js';
import type { S3StorageConfig } from '../../src/storage/config.js';
import { S3ArtifactStore, sha256Of } from '../../src/storage/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlawWav, spoolFile, tone, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { enqueueOnlyPipeline } from '../helpers/recording.js';
import { s3ServerMissing, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const DAY = 86_400_000;
const RGW_PORT = 27480;

const missing = await s3ServerMissing();
if (missing) console.log(`# storage-pipeline tests skipped: ${missing}`);

describe('pipeline with the s3 store on Ceph radosgw', { skip: missing, timeout: 600_000 }, () => {
  let s3: S3Server;
  let dataDir: string;
  let db: Database;
  let queue: Pipeline;
  let worm: S3ArtifactStore;
  let moved: S3ArtifactStore;
  let server: TestServer | undefined;
  const servers: TestServer[] = [];
  const tones = new Map<string, number>();

  const s3Env = (bucket: string): Record<string, string> => ({
    SRS_STORAGE: 's3',
    S3_BUCKET: bucket,
    S3_PREFIX: 'node-1',
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREDENTIALS_FILE: s3.credentialsFile,
    S3_PART_SIZE_MB: '5',
    S3_MAX_ATTEMPTS: '2',
  });
  const wormEnv = () => ({
    ...s3Env('srs-rec'),
    S3_OBJECT_LOCK_MODE: 'GOVERNANCE',
    S3_OBJECT_LOCK_DAYS: '1',
  });
  const storeFor = (env: Record<string, string>) => {
    const c = loadConfig(env).storage;
    assert.equal(c.backend, 's3');
    return new S3ArtifactStore(c as S3StorageConfig);
  };
  const jobEnv = () => ({
    DATABASE_URL: db.connectionString,
    SRS_JOB_CONCURRENCY: '1',
    SRS_JOB_RETRY_DELAY: '1',
    SRS_JOB_RETRY_LIMIT: '2',
  });

  /** A finished call: catalogue row, a spool with one tone, its finalize job queued. */
  const newCall = async (o: { hz: number; ms: number; startedAgoMs?: number }): Promise<string> => {
    const id = randomUUID();
    tones.set(id, o.hz);
    await db.recordings.create({
      id,
      sessionId: `sess-${id.slice(0, 8)}`,
      callId: `s3-${id}@pbx`,
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date(Date.now() - (o.startedAgoMs ?? o.ms + 60_000)),
      participants: [{ participantId: 'a', aor: 'sip:1001@pbx', name: 'Caller', sendsLabels: ['1'] }],
      streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
      metadataXml: null,
    });
    await db.recordings.markEnded(id, new Date(), o.ms, { legs: 1 });
    const spool = join(dataDir, 'spool', id);
    await mkdir(spool, { recursive: true });
    await writeFile(join(spool, 'leg0.spool'), spoolFile(tone(o.hz, o.ms, 8000)));
    await queue.enqueueFinalize(id);
    return id;
  };
  const stateOf = async (id: string) => (await db.recordings.get(id))?.state;
  const waitFor = async (what: string, ok: () => Promise<boolean>, ms = 90_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      assert.ok(
        Date.now() < deadline,
        `timed out waiting for ${what}\n${server?.output().slice(-3000) ?? ''}`,
      );
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const waitStored = (id: string, ms?: number) =>
    waitFor(`recording ${id} stored`, async () => (await stateOf(id)) === 'stored', ms);
  const versions = async (store: S3ArtifactStore, bucket: string, key: string) => {
    const r = await store.client.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `node-1/${key}` }),
    );
    return { versions: r.Versions?.length ?? 0, markers: r.DeleteMarkers?.length ?? 0 };
  };
  /** The object read back, decrypted by gpg: its SHA-256 is the catalogue's, it holds the call's tone. */
  const checkAudio = async (store: S3ArtifactStore, id: string, at: [number, number][]) => {
    const rec = await db.recordings.get(id);
    const wav = rec!.files.find((f) => f.kind === 'wav')!;
    const { body } = await store.get(wav.path);
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const cipher = Buffer.concat(chunks);
    assert.equal(sha(cipher), wav.sha256Cipher);
    const file = join(dataDir, `check-${id}.gpg`);
    await writeFile(file, cipher);
    const plain = await gpgDecrypt(join(dataDir, 'keys', 'private.asc'), 'e2e-secret-passphrase', file);
    await rm(file);
    assert.equal(sha(plain), wav.sha256Plain);
    const pcm = decodeUlawWav(plain);
    const hz = tones.get(id)!;
    for (const [a, b] of at) {
      assert.ok(toneLevelDb(pcm, a, b, hz) > -3, `tone ${hz} Hz at ${a}-${b} ms in ${id}`);
      assert.ok(toneLevelDb(pcm, a, b, hz + 175) < -20, `only that tone in ${id}`);
    }
  };
  const srs = (args: string[], env: Record<string, string>) =>
    run(process.execPath, [SRS_BIN, ...args], {
      env: {
        ...(process.env as Record<string, string>),
        SRS_FROM_SOURCE: '1',
        SRS_DATA_DIR: dataDir,
        SRS_KEY_PASSPHRASE: 'e2e-secret-passphrase',
        ...env,
      },
      timeoutMs: 120_000,
    });
  const filesUnder = async (dir: string) =>
    (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile());

  before(async () => {
    s3 = await startS3Server({ port: RGW_PORT });
    console.log(`# radosgw started in ${s3.startMs} ms`);
    worm = storeFor(wormEnv());
    moved = storeFor(s3Env('srs-moved'));
    await worm.client.send(new CreateBucketCommand({ Bucket: 'srs-rec', ObjectLockEnabledForBucket: true }));
    await moved.client.send(new CreateBucketCommand({ Bucket: 'srs-moved' }));
    dataDir = await mkdtemp(join(tmpdir(), 'srs-s3-pipe-'));
    db = await openDatabase({ dataDir, log });
    // The data directory's finalize queue, which the servers on it work (src/pipeline/routing.ts).
    queue = await enqueueOnlyPipeline(db, dataDir, { retryLimit: 2 });
  });

  after(async () => {
    for (const s of servers) await s.stop('SIGKILL').catch(() => undefined);
    await queue?.stop();
    await db?.close();
    await worm?.close();
    await moved?.close();
    await s3?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('srs storage migrate: dry run, verified copies, a bad local file kept, resumed, idempotent; then retention deletes the objects', async () => {
    // A node on local storage stores two recordings.
    server = await startTestServer(jobEnv(), dataDir);
    servers.push(server);
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

    const env = { ...s3Env('srs-moved'), DATABASE_URL: db.connectionString };
    const dry = await srs(['storage', 'migrate', '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /\[4\/4\] .*would copy/);
    assert.match(dry.stdout, /dry run: 4 file\(s\): 4 would be copied/);
    for (const f of files) assert.equal(await moved.exists(f.path), false, 'dry run uploads nothing');

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
    await checkAudio(moved, ids[1]!, [[200, 1800]]);

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

  it('kill -9 between the upload and the catalogue commit: one object version and one row per artifact after the restart', async () => {
    const env = { ...jobEnv(), ...wormEnv(), SRS_RETENTION: '3d', SRS_PURGE_INTERVAL: '5' };
    const id = await newCall({ hz: 440, ms: 2000 });
    const crashing = await startTestServer({ ...env, SRS_TEST_CRASH_AFTER_STEP: 'uploaded' }, dataDir);
    servers.push(crashing);
    const signal = await new Promise<string | null>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), 60_000);
      crashing.proc.once('exit', (_c, sig) => {
        clearTimeout(t);
        resolve(sig);
      });
    });
    assert.equal(signal, 'SIGKILL', crashing.output().slice(-3000));
    assert.notEqual(await stateOf(id), 'stored');
    const dir = artifactDir((await db.recordings.get(id))!.startedAt);
    const keys = ['wav', 'mp3'].map((k) => `${dir}/${id}.${k}.gpg`);
    for (const k of keys)
      assert.deepEqual(await versions(worm, 'srs-rec', k), { versions: 1, markers: 0 }, k);

    server = await startTestServer(env, dataDir);
    servers.push(server);
    await waitStored(id);
    assert.match(server.output(), /artifacts uploaded by an earlier attempt: reused/);
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
      assert.deepEqual(await versions(worm, 'srs-rec', f.path), { versions: 1, markers: 0 }, f.path);
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
    await checkAudio(worm, id, [[200, 1800]]);
    await assert.rejects(stat(join(dataDir, 'spool', id)), /ENOENT/);
    assert.deepEqual(await filesUnder(join(dataDir, 'recordings')), [], 'nothing written locally');
  });

  it('a long recording goes up in 5 MiB parts and reads back whole', async () => {
    const ms = 12 * 60_000; // a 5.8 MB WAV
    const id = await newCall({ hz: 700, ms });
    await waitStored(id, 180_000);
    const wav = (await db.recordings.get(id))!.files.find((f) => f.kind === 'wav')!;
    assert.ok(wav.bytes > 5 * 1024 * 1024);
    const h = await worm.client.send(new HeadObjectCommand({ Bucket: 'srs-rec', Key: `node-1/${wav.path}` }));
    assert.match(h.ETag ?? '', /-2"$/, 'a two-part upload');
    assert.equal(h.ObjectLockMode, 'GOVERNANCE');
    assert.deepEqual(await sha256Of(worm, wav.path), { sha256: wav.sha256Cipher, size: wav.bytes });
    await checkAudio(worm, id, [
      [1000, 2000],
      [330_000, 331_000],
      [ms - 2000, ms - 1000],
    ]);
  });

  it('radosgw down while calls end: the recordings wait (spool kept, not failed), then are stored', async () => {
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
        assert.deepEqual(await versions(worm, 'srs-rec', f.path), { versions: 1, markers: 0 }, f.path);
      await checkAudio(worm, id, [[200, 1800]]);
      await assert.rejects(stat(join(dataDir, 'spool', id)), /ENOENT/);
    } finally {
      if (!restarted) await s3.startGateway();
    }
  });

  it('retention meets an Object Lock: refused, reported once (log, audit, metric), the recording kept', async () => {
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
