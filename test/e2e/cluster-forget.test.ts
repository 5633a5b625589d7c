/**
 * `srs node forget` and `DELETE /api/v1/nodes/{id}` (src/store/node-forget.ts) on two real nodes
 * sharing one Postgres, each on its own disk, heartbeat 1 s. B is killed (kill -9) 2 s into a call.
 * Right away, forgetting B or A is refused as alive (409, CLI exit 3), an unknown id is 404 (exit
 * 2). Once A lists B down, forgetting B is refused because its call's recording waits for B's data
 * directory (409, exit 3, naming the recording). A node C started on B's data directory recovers
 * and stores that recording; then `srs node forget node-b` succeeds: B is gone from A's list, the
 * audit trail has the CLI's `node.forget`, the recording plays back with its tone. C, stopped, is
 * forgotten through the API (audited as the admin token). B started again registers as a new node
 * and still plays its recording. A dead node registered without its finalize queue (before
 * migration 050) is refused while a job waits in any finalize queue no live node works.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { FINALIZE_QUEUE } from '../../src/pipeline/index.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { nodesRepository, type NodeRow } from '../../src/store/nodes.js';
import { answered, api, assertToneVia, startNodePair, until } from '../helpers/cluster.js';
import { recordingRow } from '../helpers/ended-call.js';
import { enqueueOnlyPipeline } from '../helpers/recording.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { run, SRS_BIN, startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');

describe('forgetting a node that is gone for good', () => {
  let dbDir: string;
  let dirA: string;
  let dirB: string;
  let db: Database;
  let a: TestServer;
  let b: TestServer;
  let c: TestServer | undefined;
  let env: Record<string, string>;

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-forget-db-'));
    await seedDataDir(dbDir);
    dirA = await mkdtemp(join(tmpdir(), 'srs-forget-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'srs-forget-b-'));
    db = await openDatabase({ dataDir: dbDir, log });
    env = { DATABASE_URL: db.connectionString, SRS_NODE_HEARTBEAT_SECONDS: '1', SRS_JOB_RETRY_DELAY: '1' };
    ({ a, b } = await startNodePair(env, dirA, dirB, 31000));
  });

  after(async () => {
    for (const s of [a, b, c]) await s?.stop('SIGKILL').catch(() => undefined);
    await db?.close();
    for (const d of [dirA, dirB, dbDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  /** `DELETE /api/v1/nodes/{id}` on A with the admin token. */
  const forgetViaApi = async (id: string) => {
    const r = await fetch(`http://127.0.0.1:${a.httpPort}/api/v1/nodes/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a.token}` },
    });
    return { status: r.status, text: await r.text() };
  };
  const forgetViaCli = (id: string, ...more: string[]) =>
    run(process.execPath, [SRS_BIN, 'node', 'forget', id, ...more], { env: a.env, timeoutMs: 30_000 });
  const nodesOnA = async () => (await api<{ items: NodeRow[] }>(a, '/nodes')).items;
  const statusOf = async (id: string) => (await nodesOnA()).find((n) => n.id === id)?.status;

  /** A recording made in the catalogue whose finalize job waits in `queue`. */
  const queued = async (queue: string) => {
    const id = await recordingRow(db);
    const p = await enqueueOnlyPipeline(db, dbDir, { finalizeQueue: queue });
    try {
      await p.enqueueFinalize(id);
    } finally {
      await p.stop();
    }
    return id;
  };

  it(
    'refuses a live node and one whose recording waits for its disk, forgets a dead one, and the id registers again',
    { timeout: 120_000 },
    async () => {
      // A call on B, killed once B has 2.4 s of its audio (the recovered spool then holds over 1 s).
      const t0 = Date.now();
      const uac = await SiprecUac.open(b.sipPort);
      try {
        const inv = await uac.invite({ streams: 1 });
        assert.equal(inv.status, 200, inv.text);
        void sendLoopbackTone(inv.ports[0]!, 6000, 0x7401);
        const id = await until('the call answered by B', async () => answered(b)[0], 10_000);
        type Media = { recordingId: string; media?: { packetsReceived: number }[] };
        await until('B received 2.4 s of RTP', async () => {
          const call = (await api<{ items: Media[] }>(b, '/calls')).items.find((x) => x.recordingId === id);
          return (call?.media?.[0]?.packetsReceived ?? 0) >= 120;
        });
        await b.stop('SIGKILL');
        const killedAt = Date.now();

        // B's last heartbeat is under 3 s old: alive, as A is.
        const aliveB = await forgetViaApi('node-b');
        assert.equal(aliveB.status, 409, aliveB.text);
        assert.match(aliveB.text, /node \\"node-b\\" is alive/);
        assert.equal((JSON.parse(aliveB.text) as { reason: string }).reason, 'alive');
        const aliveA = await forgetViaApi('node-a');
        assert.equal(aliveA.status, 409, aliveA.text);
        const unknown = await forgetViaApi('node-x');
        assert.equal(unknown.status, 404, unknown.text);
        // The command line's refusals while B's 3 heartbeats run out.
        const [cliAlive, cliUnknown, downAfter] = await Promise.all([
          forgetViaCli('node-a'),
          forgetViaCli('node-x'),
          until('A lists B down', async () => (await statusOf('node-b')) === 'down', 30_000).then(
            () => Date.now() - killedAt,
          ),
        ]);
        assert.equal(cliAlive.code, 3, cliAlive.stderr);
        assert.match(cliAlive.stderr, /^srs: node "node-a" is alive \(up, heartbeat .*stop it first/);
        assert.equal(cliUnknown.code, 2, cliUnknown.stderr);
        assert.match(cliUnknown.stderr, /no node "node-x" in the registry/);
        console.log(`# B listed down ${downAfter} ms after the kill (heartbeat 1 s)`);

        // Dead, but its call's audio is only on its disk: not recovered yet, so not forgotten.
        const pending = await forgetViaApi('node-b');
        assert.equal(pending.status, 409, pending.text);
        const refusal = JSON.parse(pending.text) as { error: string; reason: string; recordings: string[] };
        assert.match(
          refusal.error,
          new RegExp(`1 recording\\(s\\) not yet stored \\(${id}\\).*start a node on that directory`),
        );
        assert.deepEqual([refusal.reason, refusal.recordings], ['pending', [id]]);
        assert.equal(await statusOf('node-b'), 'down', 'still listed after the refusals');
        assert.equal((await db.recordings.get(id))?.state, 'recording');

        // A node on B's data directory (another machine mounting B's disk) recovers and stores it.
        c = await startTestServer(
          { ...env, SRS_NODE_ID: 'node-c', RTP_PORT_MIN: '31400', RTP_PORT_MAX: '31599' },
          dirB,
        );
        await c.waitFor(/SIPREC recording server ready/, 60_000);
        await until('the recording stored by C', async () => {
          const st = (await db.recordings.get(id))?.state;
          assert.notEqual(st, 'failed', c?.output().slice(-3000));
          return st === 'stored';
        });

        const forgot = await forgetViaCli('node-b');
        assert.equal(forgot.code, 0, forgot.stderr);
        assert.match(
          forgot.stdout,
          /^node node-b: forgotten \(was down, .*1 registry call row\(s\) removed\)/,
        );
        assert.ok(!(await nodesOnA()).some((n) => n.id === 'node-b'), 'B no longer listed');
        const rows = await db.pool.query(`SELECT 1 FROM cluster_calls WHERE node_id = 'node-b'`);
        assert.equal(rows.rowCount, 0);
        const audit = (await db.audit.search({ action: 'node.forget', resourceId: 'node-b' })).items;
        assert.equal(audit.length, 1, 'one entry: the refusals wrote none');
        assert.match(audit[0]!.actor, /^cli:/);
        assert.equal(audit[0]!.via, 'cli');
        assert.equal(audit[0]!.details.status, 'down');
        await assertToneVia(c, id, 'the recording after B was forgotten');

        // C stops (its state: stopped) and is forgotten through the API; meanwhile B starts again.
        const forgotAt = Date.now();
        const cStopped = c.stop('SIGTERM').then(async (code) => {
          assert.equal(code, 0, c?.output().slice(-2000));
          c = undefined;
          const r = await forgetViaApi('node-c');
          assert.equal(r.status, 200, r.text);
          assert.deepEqual(JSON.parse(r.text), {
            node: 'node-c',
            forgotten: true,
            status: 'stopped',
            calls: 0,
            abandoned: [],
          });
        });
        b = await startTestServer(
          { ...env, SRS_NODE_ID: 'node-b', RTP_PORT_MIN: '31200', RTP_PORT_MAX: '31399' },
          dirB,
        );
        await b.waitFor(/SIPREC recording server ready/, 60_000);
        await cStopped;
        const entries = (await db.audit.search({ action: 'node.forget', resourceId: 'node-c' })).items;
        assert.equal(entries.length, 1);
        assert.equal(entries[0]!.via, 'admin-token');
        const back = (await nodesOnA()).find((n) => n.id === 'node-b');
        assert.equal(back?.status, 'up', 'B registered again');
        assert.ok(Date.parse(back!.startedAt) >= forgotAt - 1000, `a new registration: ${back.startedAt}`);
        assert.ok(!(await nodesOnA()).some((n) => n.id === 'node-c'), 'C no longer listed');
        await assertToneVia(b, id, 'the recording on B started again');
        console.log(`# the whole scenario took ${Date.now() - t0} ms`);
      } finally {
        uac.close();
      }
    },
  );

  it(
    'refuses a dead node registered without its finalize queue while a finalize job waits in a queue no live node works',
    { timeout: 60_000 },
    async () => {
      const served = `${FINALIZE_QUEUE}.00000000000000aa`;
      // Recordings whose finalize jobs wait: one in a data directory's queue no live node works,
      // one in the shared queue of the versions before, one in a queue a live node works.
      const orphan = await queued(`${FINALIZE_QUEUE}.00000000000000bb`);
      const shared = await queued(FINALIZE_QUEUE);
      await queued(served);
      const register = (id: string, port: number, finalizeQueue?: string) =>
        nodesRepository(db.pool).register({
          id,
          instance: randomUUID(),
          sipAddress: `127.0.0.1:${port}`,
          mediaAddress: '127.0.0.1',
          httpAddress: `http://127.0.0.1:${port}`,
          maxSessions: 10,
          heartbeatSeconds: 3600,
          ...(finalizeQueue ? { finalizeQueue } : {}),
        });
      // A node of a version before its queue was recorded (finalize_queue NULL), dead an hour ago.
      await register('node-old', 9);
      await db.pool.query(
        `UPDATE cluster_nodes SET heartbeat_seconds = 1, heartbeat_at = now() - interval '1 hour' WHERE id = 'node-old'`,
      );
      await register('node-live', 11, served);

      const refused = await forgetViaApi('node-old');
      assert.equal(refused.status, 409, refused.text);
      const body = JSON.parse(refused.text) as { error: string; reason: string; recordings: string[] };
      assert.equal(body.reason, 'pending');
      assert.deepEqual(body.recordings.sort(), [orphan, shared].sort(), 'not the job a live node works');
      assert.match(body.error, /its finalize queue is unknown/);
      const cli = await forgetViaCli('node-old');
      assert.equal(cli.code, 3, cli.stderr);
      assert.match(cli.stderr, /2 recording\(s\) not yet stored/);

      // Giving up what waits for such a node touches only its own calls (here none): the jobs of
      // queues no live node works may be another dead node's, and stay queued.
      await register('node-older', 13);
      await db.pool.query(
        `UPDATE cluster_nodes SET heartbeat_seconds = 1, heartbeat_at = now() - interval '1 hour' WHERE id = 'node-older'`,
      );
      const older = await forgetViaCli('node-older', '--abandon-recordings', '--reason', 'disk lost');
      assert.equal(older.code, 0, older.stderr);
      assert.doesNotMatch(older.stdout, /given up/);
      const left = await db.pool.query<{ state: string }>(
        `SELECT state FROM pgboss.job WHERE id = ANY($1::uuid[])`,
        [[orphan, shared]],
      );
      assert.deepEqual(
        left.rows.map((j) => j.state),
        ['created', 'created'],
      );
      for (const id of [orphan, shared]) assert.equal((await db.recordings.get(id))?.state, 'recording');

      // Once those jobs are done, it is forgotten.
      await db.pool.query(`UPDATE pgboss.job SET state = 'completed' WHERE id = ANY($1::uuid[])`, [
        [orphan, shared],
      ]);
      const forgot = await forgetViaCli('node-old');
      assert.equal(forgot.code, 0, forgot.stderr);
      assert.ok(!(await nodesOnA()).some((n) => n.id === 'node-old'));
    },
  );

  it(
    'gives up the recordings of a node whose disk is lost only when told why, marks them failed, cancels their jobs and audits each',
    { timeout: 90_000 },
    async () => {
      // D takes a call and is killed in it; a finalize job also waits in D's queue (a call that
      // ended just before). Its disk is then taken to be lost.
      const dirD = await mkdtemp(join(tmpdir(), 'srs-forget-d-'));
      let d: TestServer | undefined = await startTestServer(
        { ...env, SRS_NODE_ID: 'node-d', RTP_PORT_MIN: '31600', RTP_PORT_MAX: '31799' },
        dirD,
      );
      const uac = await SiprecUac.open(d.sipPort);
      try {
        await d.waitFor(/SIPREC recording server ready/, 60_000);
        const inv = await uac.invite({ streams: 1 });
        assert.equal(inv.status, 200, inv.text);
        void sendLoopbackTone(inv.ports[0]!, 3000, 0x7402);
        const live = await until('the call answered by D', async () => answered(d!)[0], 10_000);
        const queue = (
          await db.pool.query<{ q: string }>(
            `SELECT finalize_queue AS q FROM cluster_nodes WHERE id = 'node-d'`,
          )
        ).rows[0]?.q;
        assert.ok(queue, 'D registered its finalize queue');
        const ended = await queued(queue);
        const stored = await queued(queue);
        await d.stop('SIGKILL');
        d = undefined;
        // A recording whose job is unfinished but which got stored meanwhile stays as it is.
        await db.pool.query(`UPDATE recordings SET state = 'stored' WHERE id = $1`, [stored]);
        await until('A lists D down', async () => (await statusOf('node-d')) === 'down', 30_000);

        // Bad requests: nothing given up, nothing forgotten.
        const noReason = await forgetViaCli('node-d', '--abandon-recordings');
        assert.equal(noReason.code, 2, noReason.stderr);
        assert.match(noReason.stderr, /--abandon-recordings needs --reason/);
        const reasonOnly = await forgetViaCli('node-d', '--reason', 'disk lost');
        assert.equal(reasonOnly.code, 2, reasonOnly.stderr);
        assert.match(reasonOnly.stderr, /--reason goes with --abandon-recordings/);
        const apiNoReason = await forgetViaApi('node-d?abandonRecordings=true&reason=%20');
        assert.equal(apiNoReason.status, 400, apiNoReason.text);
        assert.match(apiNoReason.text, /a reason is required/);
        const tooLong = await forgetViaApi(`node-d?abandonRecordings=true&reason=${'x'.repeat(501)}`);
        assert.equal(tooLong.status, 400, tooLong.text);
        assert.match(tooLong.text, /501 characters long, at most 500/);
        const plain = await forgetViaCli('node-d');
        assert.equal(plain.code, 3, plain.stderr);
        assert.match(plain.stderr, /3 recording\(s\) not yet stored.*--abandon-recordings --reason/);
        assert.equal(await statusOf('node-d'), 'down');
        assert.equal((await db.recordings.get(live))?.state, 'recording');

        const reason = 'volume vol-0d1 destroyed with the instance';
        const r = await forgetViaApi(`node-d?abandonRecordings=true&reason=${encodeURIComponent(reason)}`);
        assert.equal(r.status, 200, r.text);
        const body = JSON.parse(r.text) as { abandoned: string[]; calls: number };
        assert.deepEqual(body.abandoned.sort(), [live, ended].sort(), 'not the stored one');
        assert.equal(body.calls, 1);
        assert.ok(!(await nodesOnA()).some((n) => n.id === 'node-d'), 'D no longer listed');
        for (const id of [live, ended]) {
          const rec = await db.recordings.get(id);
          assert.equal(rec?.state, 'failed');
          assert.equal(rec?.error, `abandoned with node node-d's data directory: ${reason}`);
          const entries = (await db.audit.search({ action: 'recording.abandon', resourceId: id })).items;
          assert.equal(entries.length, 1);
          assert.equal(entries[0]!.via, 'admin-token');
          assert.deepEqual(entries[0]!.details, { node: 'node-d', reason });
        }
        assert.equal((await db.recordings.get(stored))?.state, 'stored');
        const jobs = await db.pool.query<{ id: string; state: string }>(
          `SELECT id::text AS id, state FROM pgboss.job WHERE id = ANY($1::uuid[])`,
          [[ended, stored]],
        );
        assert.deepEqual(
          Object.fromEntries(jobs.rows.map((j) => [j.id, j.state])),
          { [ended]: 'cancelled', [stored]: 'cancelled' },
          'no node retries them',
        );
        const forget = (await db.audit.search({ action: 'node.forget', resourceId: 'node-d' })).items;
        assert.equal(forget.length, 1, 'the refusals wrote none');
        assert.equal(forget[0]!.details.abandonedRecordings, 2);
        assert.equal(forget[0]!.details.reason, reason);
        // The recording's page shows it failed with the reason, and the entry in its audit trail.
        const detail = await api<{ state: string; error: string; auditTrail: { action: string }[] }>(
          a,
          `/recordings/${live}`,
        );
        assert.equal(detail.state, 'failed');
        assert.match(detail.error, /vol-0d1 destroyed/);
        assert.ok(
          detail.auditTrail.some((e) => e.action === 'recording.abandon'),
          JSON.stringify(detail.auditTrail),
        );
      } finally {
        uac.close();
        await d?.stop('SIGKILL').catch(() => undefined);
        await rm(dirD, { recursive: true, force: true });
      }
    },
  );
});
