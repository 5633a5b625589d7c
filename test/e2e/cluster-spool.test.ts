/**
 * Two `srs serve` nodes on one Postgres, each with its OWN data directory (spool, recordings; the
 * recording key copied from A to B): calls on both at once, one post-call job at a time on each,
 * so that with one shared queue the nodes would take each other's jobs. Every finalize job must
 * run on the node that recorded the call (its data directory's queue, src/pipeline/routing.ts):
 * each recording is stored by its own node, with its audio (the SIPp tone, played back through
 * that node's API), and each job sits in the queue of its node's data directory only. A node
 * killed mid-call: its call leaves the other node's live view, and its recording waits for it (no
 * other node can store it without its spool) and is stored with its audio once it restarts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { FINALIZE_QUEUE, finalizeQueueOf } from '../../src/pipeline/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import {
  answered,
  api,
  assertToneVia,
  sippCalls,
  startNodePair,
  storedBy,
  until,
} from '../helpers/cluster.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');

describe('cluster on separate disks: a finalize job runs on the node holding its spool', () => {
  let dbDir: string;
  let dirA: string;
  let dirB: string;
  let db: Database;
  let a: TestServer;
  let b: TestServer;
  let env: Record<string, string>;

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-spool-db-'));
    await seedDataDir(dbDir);
    dirA = await mkdtemp(join(tmpdir(), 'srs-spool-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'srs-spool-b-'));
    db = await openDatabase({ dataDir: dbDir, log });
    env = {
      DATABASE_URL: db.connectionString,
      SRS_NODE_HEARTBEAT_SECONDS: '1',
      SRS_JOB_RETRY_DELAY: '1',
      SRS_JOB_CONCURRENCY: '1',
    };
    // B gets A's recording key (one key pair for the cluster), nothing else of A's directory.
    ({ a, b } = await startNodePair(env, dirA, dirB, 30000));
  });

  after(async () => {
    await a?.stop('SIGKILL').catch(() => undefined);
    await b?.stop('SIGKILL').catch(() => undefined);
    await db?.close();
    for (const d of [dirA, dirB, dbDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it(
    'stores every call of both nodes with its audio, each by its own node',
    { timeout: 180_000 },
    async () => {
      const [queueA, queueB] = [await finalizeQueueOf(dirA), await finalizeQueueOf(dirB)];
      assert.notEqual(queueA, queueB, 'one queue per data directory');
      assert.match(a.output(), new RegExp(`"finalizeQueue":"${queueA.replaceAll('.', '\\.')}"`));

      // Calls on both nodes at once: each node ends 5 calls while the other is busy with its own jobs.
      const [onA, onB] = await Promise.all([
        sippCalls(a.sipPort, 5, 5, 3000),
        sippCalls(b.sipPort, 5, 5, 3000),
      ]);
      assert.equal(onA.code, 0, `SIPp to A failed:\n${onA.stdout.slice(-2000)}${onA.stderr}`);
      assert.equal(onB.code, 0, `SIPp to B failed:\n${onB.stdout.slice(-2000)}${onB.stderr}`);
      const idsA = answered(a);
      const idsB = answered(b);
      assert.equal(idsA.length, 5);
      assert.equal(idsB.length, 5);
      const all = [...idsA, ...idsB];

      await until(
        'every recording stored',
        async () => {
          const r = await db.pool.query<{ id: string; state: string }>(
            'SELECT id::text, state FROM recordings WHERE id = ANY($1::uuid[])',
            [all],
          );
          const bad = r.rows.find((x) => x.state === 'failed');
          assert.equal(
            bad,
            undefined,
            `recording ${bad?.id} failed:\n${a.output().slice(-2000)}\n${b.output().slice(-2000)}`,
          );
          return r.rows.length === all.length && r.rows.every((x) => x.state === 'stored');
        },
        120_000,
      );

      // Each node ran exactly the jobs of its own calls. A node logs "recording stored" after the
      // commit the query above saw: its line can trail the row by a moment on a busy machine.
      await until(
        'both nodes logged every store',
        async () => all.every((id) => storedBy(a).includes(id) || storedBy(b).includes(id)),
        10_000,
      ).catch(() => undefined); // a line still missing is reported by the assertions below
      assert.deepEqual(storedBy(a).sort(), [...idsA].sort(), 'A stored its own recordings, and only those');
      assert.deepEqual(storedBy(b).sort(), [...idsB].sort(), 'B stored its own recordings, and only those');
      const jobs = await db.pool.query<{ id: string; name: string; state: string }>(
        'SELECT id::text, name, state::text FROM pgboss.job WHERE id = ANY($1::uuid[])',
        [all],
      );
      assert.deepEqual(
        jobs.rows.map((j) => `${j.name} ${j.id} ${j.state}`).sort(),
        [
          ...idsA.map((id) => `${queueA} ${id} completed`),
          ...idsB.map((id) => `${queueB} ${id} completed`),
        ].sort(),
        'one completed job per recording, in its node’s queue',
      );
      const shared = await db.pool.query('SELECT 1 FROM pgboss.job WHERE name = $1', [FINALIZE_QUEUE]);
      assert.equal(shared.rowCount, 0, 'nothing in the shared queue');

      // With its audio: the SIPp tone, decrypted by the node that holds the files.
      for (const id of idsA) await assertToneVia(a, id, `A's ${id}`);
      for (const id of idsB) await assertToneVia(b, id, `B's ${id}`);
    },
  );

  it(
    'leaves a frozen node’s queued jobs to it: none run elsewhere, all stored once it is back',
    { timeout: 240_000 },
    async () => {
      // Calls on B ending together, then B frozen (SIGSTOP) the moment one of their jobs is seen
      // queued: B runs no more of them, and A, idle, polls for work meanwhile. With one shared
      // queue A would take the queued ones (and store them without their audio: their spool is on
      // B's disk). B may run the jobs before the freeze catches one queued: then B is let go, its
      // recordings stored, and the round is tried again (up to 5 rounds).
      const notStored = async (ids: string[]): Promise<string[]> =>
        (
          await db.pool.query<{ id: string }>(
            `SELECT id::text FROM recordings WHERE id = ANY($1::uuid[]) AND state <> 'stored'`,
            [ids],
          )
        ).rows.map((r) => r.id);
      /** The jobs of these recordings: queue, state, attempts, start. */
      const jobs = async (ids: string[]): Promise<string[]> =>
        (
          await db.pool.query<{
            id: string;
            name: string;
            state: string;
            retry_count: number;
            started_on: Date | null;
          }>(
            'SELECT id::text, name, state::text, retry_count, started_on FROM pgboss.job WHERE id = ANY($1::uuid[])',
            [ids],
          )
        ).rows
          .map((j) => `${j.id} ${j.name} ${j.state} ${j.retry_count} ${j.started_on?.toISOString() ?? '-'}`)
          .sort();
      const queued = (rows: string[]): boolean => rows.some((j) => j.includes(' created 0 -'));
      const storedAll = (ids: string[]) =>
        until('B’s recordings stored', async () => (await notStored(ids)).length === 0, 60_000);

      for (let round = 1; ; round++) {
        const before = answered(b).length;
        const calls = await sippCalls(b.sipPort, 6, 100, 2000);
        assert.equal(calls.code, 0, `SIPp to B failed:\n${calls.stdout.slice(-2000)}${calls.stderr}`);
        const ids = answered(b).slice(before);
        assert.equal(ids.length, 6);
        const until10s = Date.now() + 10_000;
        let seen: string[] = [];
        while (!queued(seen) && seen.length < ids.length && Date.now() < until10s) {
          seen = await jobs(ids);
          if (!queued(seen)) await new Promise((r) => setTimeout(r, 5));
        }
        b.proc.kill('SIGSTOP');
        try {
          const waiting = await notStored(ids);
          const atFreeze = await jobs(ids);
          if (!queued(atFreeze)) {
            assert.ok(
              round < 5,
              `B never frozen with a job still queued in 5 rounds: ${atFreeze.join(', ')}`,
            );
            b.proc.kill('SIGCONT');
            await storedAll(ids);
            continue;
          }
          console.log(
            `# B frozen with ${atFreeze.filter((j) => queued([j])).length} job(s) queued (round ${round})`,
          );
          await new Promise((r) => setTimeout(r, 5000));
          // A fetch B sent just before the freeze may still start a job in Postgres (B's, in B's
          // queue): created or active is one class; anything else (retried, done) is a change.
          const settled = (rows: string[]) =>
            rows.map((j) => j.replace(/ (created|active) 0 \S+$/, ' waiting 0'));
          // B may have been committing the hand-off of more of these calls as it froze: their jobs
          // appear afterwards (seen in CI: 3 jobs at the freeze, 6 five seconds later), queued.
          const frozen = settled(atFreeze);
          const now = settled(await jobs(ids));
          assert.deepEqual(
            now.filter((j) => frozen.includes(j)),
            frozen,
            'nobody ran B’s jobs while B was frozen',
          );
          assert.deepEqual(
            now.filter((j) => !frozen.includes(j) && !j.endsWith(' waiting 0')),
            [],
            'the jobs that appeared since the freeze are still queued',
          );
          assert.deepEqual(
            (await notStored(ids)).sort(),
            waiting.sort(),
            'nobody stored B’s recordings meanwhile',
          );
          for (const id of ids)
            assert.doesNotMatch(
              a.output(),
              new RegExp(`"recordingId":"${id}"[^\\n]*"msg":"(finalize|recording stored)`),
            );
          assert.ok(
            storedBy(a).every((id) => answered(a).includes(id)),
            'A ran none of B’s jobs',
          );
          b.proc.kill('SIGCONT');
          await storedAll(ids);
          // The log line follows the commit storedAll saw.
          await until(
            'B logged its stores',
            async () => ids.every((id) => storedBy(b).includes(id) || storedBy(a).includes(id)),
            10_000,
          ).catch(() => undefined);
          for (const id of ids) assert.ok(storedBy(b).includes(id), `B stored ${id}`);
          for (const id of waiting) await assertToneVia(b, id, `B's ${id} (queued while frozen)`);
          return;
        } finally {
          b.proc.kill('SIGCONT');
        }
      }
    },
  );

  it(
    'a node killed (kill -9) mid-call: the other node stops listing its call after 3 heartbeats; restarted, it stores the recording with its audio',
    { timeout: 180_000 },
    async () => {
      type LiveCall = { recordingId: string; nodeId?: string };
      const listedOnA = async (id: string) =>
        (await api<{ items: LiveCall[] }>(a, '/calls')).items.find((c) => c.recordingId === id);
      const before = answered(b).length;
      // One 8 s call to B; B dies 3 s into it (SIPp's BYE then goes unanswered).
      const sipp = sippCalls(b.sipPort, 1, 1, 8000);
      const id = await until('the call answered by B', async () => answered(b)[before], 15_000);
      const listed = await until('A lists B’s live call', () => listedOnA(id), 10_000);
      assert.equal(listed.nodeId, 'node-b');
      // Killed once B has 3 s of the call's audio (its own view counts the packets received).
      type Media = { media?: { packetsReceived: number }[] };
      await until(
        'B received 3 s of RTP',
        async () => {
          const c = (await api<{ items: (LiveCall & Media)[] }>(b, '/calls')).items.find(
            (x) => x.recordingId === id,
          );
          return (c?.media?.[0]?.packetsReceived ?? 0) >= 150;
        },
        15_000,
      );
      await b.stop('SIGKILL');
      const killed = Date.now();
      await until('A no longer lists the dead node’s call', async () => !(await listedOnA(id)), 15_000);
      console.log(
        `# A dropped the dead node's call ${Date.now() - killed} ms after the kill (heartbeat 1 s)`,
      );
      assert.notEqual(
        (await db.recordings.get(id))?.state,
        'stored',
        'nothing stored the recording while its node was dead',
      );
      // B again, on its own disk: the unfinished recording is recovered and stored by B.
      b = await startTestServer(
        { ...env, SRS_NODE_ID: 'node-b', RTP_PORT_MIN: '30200', RTP_PORT_MAX: '30399' },
        dirB,
      );
      await b.waitFor(/SIPREC recording server ready/, 60_000);
      await until(
        'the recording stored after the restart',
        async () => {
          const st = (await db.recordings.get(id))?.state;
          assert.notEqual(st, 'failed', b.output().slice(-3000));
          return st === 'stored';
        },
        60_000,
      );
      await until('B logged the store', async () => storedBy(b).includes(id), 10_000);
      assert.ok(!storedBy(a).includes(id), 'A did not store it');
      await assertToneVia(b, id, `B's ${id} (recovered after kill -9)`);
      await sipp; // its BYE timed out against the dead node
    },
  );
});
