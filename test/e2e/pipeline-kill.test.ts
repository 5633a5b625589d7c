/**
 * The post-call pipeline survives kill -9 at every step, in real server processes: finished calls
 * (catalogue rows + native-format spools) are queued in one Postgres; `srs serve` is started with
 * the test-only SRS_TEST_CRASH_AFTER_STEP and SIGKILLs itself right after that step of a job; this
 * is repeated for every step; then two servers sharing the same Postgres finish everything between
 * them. Each recording must end stored exactly once (one row per file kind, one chain entry, one
 * completed job), with both artifacts present and matching their hashes, the audio right (the
 * decrypted WAV holds the spool's tone), and no plaintext anywhere under the data directory.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { finalizeQueueOf, type Pipeline } from '../../src/pipeline/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlawWav, spoolFile, tone, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { enqueueOnlyPipeline } from '../helpers/recording.js';
import { SRS_BIN, died, run, startTestServer, type TestServer } from '../helpers/server.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const STEPS = ['mixed', 'mp3', 'encrypted-mp3', 'encrypted-wav', 'stored', 'wiped'] as const;

async function plaintextFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dataDir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = relative(dataDir, join(e.parentPath, e.name));
    if (p.startsWith('pg/') || p.startsWith('keys/') || /^(pg\.|admin-token|spool-id$|secrets\/)/.test(p))
      continue;
    if (!p.endsWith('.gpg')) out.push(p);
  }
  return out;
}

describe('pipeline: kill -9 at every step in a real server, then two servers share the work', () => {
  let dataDir: string;
  let db: Database;
  let queue: Pipeline;
  /** The data directory's finalize queue: the servers sharing it work it (src/pipeline/routing.ts). */
  let finalizeQueue: string;
  const servers: TestServer[] = [];
  const tones = new Map<string, number>();

  const newCall = async (i: number): Promise<string> => {
    const id = randomUUID();
    const hz = 400 + 50 * (i % 12);
    tones.set(id, hz);
    await db.recordings.create({
      id,
      sessionId: `sess-${i}`,
      callId: `kill-${i}@pbx`,
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date(Date.now() - 60_000),
      participants: [
        { participantId: 'a', aor: `sip:10${i}@pbx`, name: `Caller ${i}`, sendsLabels: ['1'] },
        { participantId: 'b', aor: 'sip:2000@pbx', name: 'Agent', sendsLabels: ['2'] },
      ],
      streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
      metadataXml: null,
    });
    await db.recordings.markEnded(id, new Date(), 2000, { legs: 1 });
    const spool = join(dataDir, 'spool', id);
    await mkdir(spool, { recursive: true });
    await writeFile(join(spool, 'leg0.spool'), spoolFile(tone(hz, 2000, 8000)));
    return id;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-kill-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    finalizeQueue = await finalizeQueueOf(dataDir);
    queue = await enqueueOnlyPipeline(db, dataDir);
  });

  after(async () => {
    for (const s of servers) await s.stop('SIGKILL').catch(() => undefined);
    await queue?.stop();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'every recording completes exactly once, without plaintext, across crashes and two nodes',
    { timeout: 420_000 },
    async () => {
      const env = {
        DATABASE_URL: db.connectionString,
        SRS_JOB_CONCURRENCY: '1',
        SRS_JOB_RETRY_DELAY: '1',
        SRS_JOB_RETRY_LIMIT: '20',
      };
      const ids: string[] = [];
      for (const step of STEPS) {
        const id = await newCall(ids.length);
        ids.push(id);
        await queue.enqueueFinalize(id);
        const s = await startTestServer({ ...env, SRS_TEST_CRASH_AFTER_STEP: step }, dataDir);
        servers.push(s);
        // The server dies by its own SIGKILL right after `step` of some job.
        const code = await died(s);
        assert.equal(
          code,
          'SIGKILL',
          `server should have killed itself after "${step}":\n${s.output().slice(-3000)}`,
        );
      }
      // The last server died right after a job's final step and before pg-boss marked it done, so
      // at least that job is left for the two nodes (its recording may already be stored: a later
      // server can finish earlier jobs whole before it reaches its own crash step).
      const completed = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`,
        [finalizeQueue],
      );
      assert.ok(completed.rows[0]!.n < ids.length, 'crashes left work to do');

      // Two nodes on the same Postgres; more calls arrive once both are up.
      const a = await startTestServer(env, dataDir);
      const b = await startTestServer(env, dataDir);
      servers.push(a, b);
      await a.waitFor(/SIPREC recording server ready/);
      await b.waitFor(/SIPREC recording server ready/);
      for (let i = 0; i < 10; i++) {
        const id = await newCall(ids.length);
        ids.push(id);
        await queue.enqueueFinalize(id);
      }
      const allStored = async () => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const r = await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM recordings WHERE id = ANY($1::uuid[]) AND state = 'stored'`,
            [ids],
          );
          if (r.rows[0]!.n === ids.length) break;
          assert.ok(
            Date.now() < deadline,
            `only ${r.rows[0]!.n}/${ids.length} stored:\n${a.output().slice(-2000)}`,
          );
          await new Promise((res) => setTimeout(res, 250));
        }
        await queue.idle();
      };
      await allStored();
      const storedBy = (s: TestServer) => (s.output().match(/"msg":"recording stored"/g) ?? []).length;
      // A fast node can empty the queue between two polls of the other (the MP3 is encoded
      // in-process in milliseconds): then freeze the node that did the work (SIGSTOP; its lease
      // stays held, so nothing is orphaned) and queue more, which only the other can take.
      if (storedBy(a) === 0 || storedBy(b) === 0) {
        const busy = storedBy(a) > 0 ? a : b;
        busy.proc.kill('SIGSTOP');
        try {
          for (let i = 0; i < 3; i++) {
            const id = await newCall(ids.length);
            ids.push(id);
            await queue.enqueueFinalize(id);
          }
          await allStored();
        } finally {
          busy.proc.kill('SIGCONT');
        }
      }
      const byA = storedBy(a);
      const byB = storedBy(b);
      assert.ok(byA > 0 && byB > 0, `both nodes ran jobs (a: ${byA}, b: ${byB})`);

      // Exactly once: one file row per kind, one chain entry, one completed job, per recording.
      const files = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM files WHERE recording_id = ANY($1::uuid[])`,
        [ids],
      );
      assert.equal(files.rows[0]!.n, ids.length * 2);
      const chain = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM recording_chain WHERE recording_id = ANY($1::uuid[])`,
        [ids],
      );
      assert.equal(chain.rows[0]!.n, ids.length);
      const jobs = await db.pool.query<{ state: string; n: number }>(
        `SELECT state::text, count(*)::int AS n FROM pgboss.job WHERE name = $1 GROUP BY 1`,
        [finalizeQueue],
      );
      assert.deepEqual(jobs.rows, [{ state: 'completed', n: ids.length }]);

      // No duplicate artifact, no leftover temp or plaintext; each file matches its catalogue hash.
      const onDisk = (await readdir(join(dataDir, 'recordings'), { recursive: true })).filter((f) =>
        /\./.test(f),
      );
      assert.equal(onDisk.length, ids.length * 2, `artifacts on disk: ${onDisk.join(', ')}`);
      assert.deepEqual(await plaintextFiles(dataDir), []);
      const verify = await run(process.execPath, [SRS_BIN, 'recordings', 'verify', '--all'], { env: a.env });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(
        verify.stdout,
        new RegExp(`verified ${ids.length} recording\\(s\\), ${ids.length * 2} file\\(s\\)`),
      );

      // The audio is right: each decrypted WAV holds its own call's tone.
      for (const id of [ids[0]!, ids[3]!, ids[ids.length - 1]!]) {
        const rec = await db.recordings.get(id);
        const wav = rec!.files.find((f) => f.kind === 'wav')!;
        const plain = await gpgDecrypt(
          join(dataDir, 'keys', 'private.asc'),
          a.passphrase,
          join(dataDir, wav.path),
        );
        assert.equal(sha(plain), wav.sha256Plain);
        const pcm = decodeUlawWav(plain);
        const hz = tones.get(id)!;
        assert.ok(toneLevelDb(pcm, 200, 1800, hz) > -3, `tone ${hz} Hz present in ${id}`);
        assert.ok(toneLevelDb(pcm, 200, 1800, hz + 175) < -20, `only that tone in ${id}`);
      }
    },
  );
});
