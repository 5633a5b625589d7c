import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Pipeline } from '../../src/pipeline/index.js';
import type { S3StorageConfig } from '../../src/config/storage.js';
import { S3ArtifactStore } from '../../src/storage/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlawWav, spoolFile, tone, toneLevelDb } from './audio.js';
import { gpgDecrypt } from './gpg.js';
import { seedDataDir } from './pg-template.js';
import { enqueueOnlyPipeline } from './recording.js';
import { startS3Server, type S3Server } from './s3-server.js';
import { SRS_BIN, run, startTestServer, type TestServer } from './server.js';

/**
 * The world of the tests of the pipeline with the s3 artifact store (test/e2e/storage-pipeline.test.ts
 * and storage-migrate.test.ts): a Ceph radosgw of their own (scripts/s3-server.sh, one start per
 * file) with one bucket, a data directory with its catalogue (embedded Postgres) and its finalize
 * queue, which the real `srs serve` processes started on that data directory work, and the `srs`
 * CLI on it. The objects go under the prefix `node-1`; the key passphrase is startTestServer's.
 */

const PASSPHRASE = 'e2e-secret-passphrase';

export const log = createLogger('silent');
export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const DAY = 86_400_000;

export interface S3PipelineWorldOptions {
  /** The data directory's name prefix (`<tmp>/<name>XXXXXX`). */
  name: string;
  /**
   * radosgw's port on 127.0.0.1: each file its own, fixed and below the ephemeral range (32768 on),
   * so that no free port picked by a file running beside it takes it while radosgw is stopped.
   */
  rgwPort: number;
  /** The bucket, made at the start. */
  bucket: string;
  /** The bucket made with Object Lock, and the store's settings a GOVERNANCE lock of 1 day. */
  objectLock: boolean;
}

export interface S3PipelineWorld {
  readonly s3: S3Server;
  readonly dataDir: string;
  readonly db: Database;
  /** The data directory's finalize queue (src/pipeline/routing.ts): jobs queued only. */
  readonly queue: Pipeline;
  /** A store on storeEnv(): the bucket under the prefix. */
  readonly store: S3ArtifactStore;
  /** The s3 store's settings as the environment gives them (with the Object Lock when asked). */
  storeEnv(): Record<string, string>;
  /** The catalogue and the finalize jobs' settings: one at a time, retried once after 1 s. */
  jobEnv(): Record<string, string>;
  /** `srs serve` on the data directory; the latest one's output goes with waitFor's timeouts. */
  startServer(env: Record<string, string>): Promise<TestServer>;
  /** The `srs` CLI on the data directory. */
  srs(args: string[], env: Record<string, string>): ReturnType<typeof run>;
  /** A finished call: catalogue row, a spool with one tone, its finalize job queued. */
  newCall(o: { hz: number; ms: number; startedAgoMs?: number }): Promise<string>;
  stateOf(id: string): Promise<string | undefined>;
  waitFor(what: string, ok: () => Promise<boolean>, ms?: number): Promise<void>;
  waitStored(id: string, ms?: number): Promise<void>;
  /** The versions and delete markers of a key (under the prefix) in the bucket. */
  versions(key: string): Promise<{ versions: number; markers: number }>;
  /**
   * The wav read back from the store, decrypted by gpg: its SHA-256 is the catalogue's, it holds the
   * call's tone (and only it) at each [from, to] ms.
   */
  checkAudio(id: string, at: [number, number][]): Promise<void>;
  /** The files under a directory, at any depth (none when it does not exist). */
  filesUnder(dir: string): Promise<{ name: string }[]>;
  /** Kills the servers, stops the queue, closes the catalogue and the store, stops radosgw. */
  close(): Promise<void>;
}

/** Starts radosgw, makes the bucket and opens the catalogue and the queue; undone on failure. */
export async function openS3PipelineWorld(opts: S3PipelineWorldOptions): Promise<S3PipelineWorld> {
  const servers: TestServer[] = [];
  const tones = new Map<string, number>();
  let latest: TestServer | undefined;
  let s3: S3Server | undefined;
  let store: S3ArtifactStore | undefined;
  let dataDir: string | undefined;
  let db: Database | undefined;
  let queue: Pipeline | undefined;
  const close = async () => {
    for (const s of servers) await s.stop('SIGKILL').catch(() => undefined);
    await queue?.stop();
    await db?.close();
    await store?.close();
    await s3?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const srv = await startS3Server({ port: opts.rgwPort });
    s3 = srv;
    console.log(`# radosgw started in ${srv.startMs} ms`);
    const storeEnv = (): Record<string, string> => ({
      SRS_STORAGE: 's3',
      S3_BUCKET: opts.bucket,
      S3_PREFIX: 'node-1',
      S3_ENDPOINT: srv.endpoint,
      S3_REGION: srv.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREDENTIALS_FILE: srv.credentialsFile,
      S3_PART_SIZE_MB: '5',
      S3_MAX_ATTEMPTS: '2',
      ...(opts.objectLock ? { S3_OBJECT_LOCK_MODE: 'GOVERNANCE', S3_OBJECT_LOCK_DAYS: '1' } : {}),
    });
    const c = loadConfig(storeEnv()).storage;
    assert.equal(c.backend, 's3');
    const st = new S3ArtifactStore(c as S3StorageConfig);
    store = st;
    await st.client.send(
      new CreateBucketCommand({
        Bucket: opts.bucket,
        ...(opts.objectLock ? { ObjectLockEnabledForBucket: true } : {}),
      }),
    );
    const dir = await mkdtemp(join(tmpdir(), opts.name));
    dataDir = dir;
    await seedDataDir(dir);
    const cat = await openDatabase({ dataDir: dir, log });
    db = cat;
    // The data directory's finalize queue, which the servers on it work (src/pipeline/routing.ts).
    const q = await enqueueOnlyPipeline(cat, dir, { retryLimit: 2 });
    queue = q;

    const stateOf = async (id: string) => (await cat.recordings.get(id))?.state;
    const waitFor = async (what: string, ok: () => Promise<boolean>, ms = 90_000) => {
      const deadline = Date.now() + ms;
      while (!(await ok())) {
        assert.ok(
          Date.now() < deadline,
          `timed out waiting for ${what}\n${latest?.output().slice(-3000) ?? ''}`,
        );
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    return {
      s3: srv,
      dataDir: dir,
      db: cat,
      queue: q,
      store: st,
      storeEnv,
      jobEnv: () => ({
        DATABASE_URL: cat.connectionString,
        SRS_JOB_CONCURRENCY: '1',
        SRS_JOB_RETRY_DELAY: '1',
        SRS_JOB_RETRY_LIMIT: '2',
      }),
      startServer: async (env) => {
        const s = await startTestServer(env, dir);
        servers.push(s);
        latest = s;
        return s;
      },
      srs: (args, env) =>
        run(process.execPath, [SRS_BIN, ...args], {
          env: {
            ...(process.env as Record<string, string>),
            SRS_DATA_DIR: dir,
            SRS_KEY_PASSPHRASE: PASSPHRASE,
            ...env,
          },
          timeoutMs: 120_000,
        }),
      newCall: async (o) => {
        const id = randomUUID();
        tones.set(id, o.hz);
        await cat.recordings.create({
          id,
          sessionId: `sess-${id.slice(0, 8)}`,
          callId: `s3-${id}@pbx`,
          srcAddress: '127.0.0.1:5060',
          startedAt: new Date(Date.now() - (o.startedAgoMs ?? o.ms + 60_000)),
          participants: [{ participantId: 'a', aor: 'sip:1001@pbx', name: 'Caller', sendsLabels: ['1'] }],
          streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
          metadataXml: null,
        });
        await cat.recordings.markEnded(id, new Date(), o.ms, { legs: 1 });
        const spool = join(dir, 'spool', id);
        await mkdir(spool, { recursive: true });
        await writeFile(join(spool, 'leg0.spool'), spoolFile(tone(o.hz, o.ms, 8000)));
        await q.enqueueFinalize(id);
        return id;
      },
      stateOf,
      waitFor,
      waitStored: (id, ms) =>
        waitFor(`recording ${id} stored`, async () => (await stateOf(id)) === 'stored', ms),
      versions: async (key) => {
        const r = await st.client.send(
          new ListObjectVersionsCommand({ Bucket: opts.bucket, Prefix: `node-1/${key}` }),
        );
        return { versions: r.Versions?.length ?? 0, markers: r.DeleteMarkers?.length ?? 0 };
      },
      checkAudio: async (id, at) => {
        const rec = await cat.recordings.get(id);
        const wav = rec!.files.find((f) => f.kind === 'wav')!;
        const { body } = await st.get(wav.path);
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        const cipher = Buffer.concat(chunks);
        assert.equal(sha(cipher), wav.sha256Cipher);
        const file = join(dir, `check-${id}.gpg`);
        await writeFile(file, cipher);
        const plain = await gpgDecrypt(join(dir, 'keys', 'private.asc'), PASSPHRASE, file);
        await rm(file);
        assert.equal(sha(plain), wav.sha256Plain);
        const pcm = decodeUlawWav(plain);
        const hz = tones.get(id)!;
        for (const [a, b] of at) {
          assert.ok(toneLevelDb(pcm, a, b, hz) > -3, `tone ${hz} Hz at ${a}-${b} ms in ${id}`);
          assert.ok(toneLevelDb(pcm, a, b, hz + 175) < -20, `only that tone in ${id}`);
        }
      },
      filesUnder: async (d) =>
        (await readdir(d, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) =>
          e.isFile(),
        ),
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
