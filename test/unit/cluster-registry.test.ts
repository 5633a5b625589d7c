/**
 * The node registry and the drain of a ClusterNode, on a real (embedded) Postgres: registration,
 * an id held by a live node refused, a node that stops heartbeating listed down (by the database
 * clock, after 3 missed heartbeats), the drain flag seen through NOTIFY, the drain waiting for the
 * live call and for the node's recording to be stored, the live-call registry. `srs node forget`
 * (src/store/node-forget.ts): refused for an unknown node, a live one, and one whose recordings
 * wait for its data directory (a call it held, a job of its finalize queue, real pg-boss); a dead
 * node forgotten with its rows and an audit entry, then registered anew; a process forgotten
 * while it missed its heartbeats registers again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterNode } from '../../src/cluster/node.js';
import { NotFoundError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { ensureQueue, startBoss } from '../../src/pipeline/boss.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { forgetNode, NodeForgetRefused } from '../../src/store/node-forget.js';
import { nodesRepository, type NodesRepository } from '../../src/store/nodes.js';
import { ConflictError } from '../../src/store/users.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The recording service's live side as the cluster node sees it: calls start and end. */
class Live extends EventEmitter {
  calls = new Map<string, ActiveCall>();
  get activeCount() {
    return this.calls.size;
  }
  activeCalls() {
    return [...this.calls.values()];
  }
  start(c: ActiveCall) {
    this.calls.set(c.recordingId, c);
    this.emit('event', { type: 'call-start', call: c } satisfies RecordingEvent);
  }
  end(id: string) {
    const call = this.calls.get(id)!;
    this.calls.delete(id);
    this.emit('event', {
      type: 'call-end',
      call,
      endedAt: new Date().toISOString(),
      durationMs: 1,
      reason: 'bye',
    } satisfies RecordingEvent);
  }
}

describe('cluster node registry (Postgres)', () => {
  let dir: string;
  let db: Database;
  let nodes: NodesRepository;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-cluster-unit-'));
    await seedDataDir(dir);
    db = await openDatabase({ dataDir: dir, log });
    nodes = nodesRepository(db.pool);
  });
  after(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const reg = (id: string, instance: string, httpPort = 8080) => ({
    id,
    instance,
    sipAddress: '127.0.0.1:5060',
    mediaAddress: '127.0.0.1',
    httpAddress: `http://127.0.0.1:${httpPort}`,
    maxSessions: 100,
    heartbeatSeconds: 1,
  });

  it('refuses a second live process on one id; a node that stops heartbeating is down', async () => {
    await nodes.register(reg('n1', 'first'));
    await assert.rejects(nodes.register(reg('n1', 'second', 8081)), (e: unknown) => {
      assert.ok(e instanceof ConflictError);
      assert.match((e as Error).message, /node id "n1" is in use.*SRS_NODE_ID/);
      return true;
    });
    assert.equal((await nodes.get('n1'))?.status, 'up');
    await nodes.heartbeat('n1', 'first', 7);
    assert.equal((await nodes.get('n1'))?.activeCalls, 7);
    // No heartbeat for more than 3 intervals (3 s): down, and its id may be taken over.
    await sleep(3300);
    const n = await nodes.get('n1');
    assert.equal(n?.status, 'down');
    assert.ok(n!.heartbeatAgeSeconds >= 3);
    await nodes.register(reg('n1', 'second', 8081));
    assert.equal((await nodes.get('n1'))?.status, 'up');
    // A restart on the same addresses (the old process died: we hold its ports) takes over at once.
    await nodes.register(reg('n1', 'third', 8081));
    assert.equal((await nodes.get('n1'))?.httpAddress, 'http://127.0.0.1:8081');
  });

  it('drains on request: refuses calls, waits for the live call and its recording, then stops', async () => {
    const live = new Live();
    const node = new ClusterNode({
      config: {
        nodeId: 'n2',
        heartbeatSeconds: 1,
        drainTimeoutSeconds: 0,
        httpAddress: undefined,
        secret: undefined,
      },
      nodes,
      pool: db.pool,
      addresses: { sip: '127.0.0.1:5062', media: '127.0.0.1', http: 'http://127.0.0.1:8082' },
      maxSessions: 10,
      live,
      log,
    });
    await node.start();
    const recordingId = randomUUID();
    await db.recordings.create({
      id: recordingId,
      sessionId: null,
      callId: 'drain-1@pbx',
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date(),
      participants: [],
      streams: [],
      metadataXml: null,
    });
    live.start({
      recordingId,
      callId: 'drain-1@pbx',
      sessionId: null,
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date().toISOString(),
      participants: [],
      streams: [],
    });
    // The live-call registry shows it to the other nodes.
    await sleep(200);
    const seen = await nodes.remoteCalls('other');
    assert.deepEqual(
      seen.map((c) => [c.nodeId, c.recordingId]),
      [['n2', recordingId]],
    );
    assert.equal(node.refusal, null);

    assert.equal(await nodes.requestDrain('n2'), true);
    let drained = false;
    void node.drained.then(() => (drained = true));
    // NOTIFY: refused well before the next heartbeat could tell it.
    for (let i = 0; i < 40 && node.refusal === null; i++) await sleep(25);
    assert.match(node.refusal ?? '', /node n2 is draining/);
    await sleep(600);
    assert.equal((await nodes.get('n2'))?.status, 'draining');
    assert.equal(drained, false, 'a live call holds the drain');
    live.end(recordingId);
    await sleep(800);
    assert.equal(drained, false, 'the recording not yet stored holds the drain');
    await db.recordings.markFailed(recordingId, 'test: finished');
    await node.drained;
    assert.deepEqual(await nodes.remoteCalls('other'), []);
    await node.stop();
    assert.equal((await nodes.get('n2'))?.status, 'stopped');
    assert.equal(await nodes.requestDrain('n2'), false);
    await node.stop(); // twice is safe
  });

  /** Makes node `id` look dead: its last heartbeat 10 s ago (past 3 intervals of 1 s). */
  const kill = (id: string) =>
    db.pool.query(`UPDATE cluster_nodes SET heartbeat_at = now() - interval '10 seconds' WHERE id = $1`, [
      id,
    ]);
  const entry = (id: string) => () => ({
    actor: 'cli:test',
    actorRole: 'admin',
    ip: '',
    via: 'cli',
    action: 'node.forget',
    resource: 'node',
    resourceId: id,
  });
  const refused = (reason: string, re: RegExp) => (e: unknown) => {
    assert.ok(e instanceof NodeForgetRefused, String(e));
    assert.equal(e.reason, reason);
    assert.match(e.message, re);
    return true;
  };
  const newRecording = async (callId: string) => {
    const id = randomUUID();
    await db.recordings.create({
      id,
      sessionId: null,
      callId,
      srcAddress: '127.0.0.1:5060',
      startedAt: new Date(),
      participants: [],
      streams: [],
      metadataXml: null,
    });
    return id;
  };

  it('forgets only a dead node whose recordings are stored, with its rows and an audit entry', async () => {
    const queue = 'finalize-recording.f1f1f1f1f1f1f1f1';
    const forgets = async () =>
      (await db.audit.search({ action: 'node.forget', resourceId: 'f1' })).items.length;
    await assert.rejects(forgetNode(db.pool, 'nope', entry('nope')), (e: unknown) => {
      assert.ok(e instanceof NotFoundError);
      assert.match((e as Error).message, /no node "nope"/);
      return true;
    });
    await nodes.register({ ...reg('f1', 'f1-first', 8090), finalizeQueue: queue });
    await assert.rejects(
      forgetNode(db.pool, 'f1', entry('f1')),
      refused('alive', /node "f1" is alive \(up, heartbeat .* down after 3 s/),
    );
    // Dead while it held a call: the recording waits for its data directory.
    const held = await newRecording('forget-held@pbx');
    await nodes.addCall('f1', held, { recordingId: held }, new Date());
    await kill('f1');
    await assert.rejects(
      forgetNode(db.pool, 'f1', entry('f1')),
      refused(
        'pending',
        new RegExp(`1 recording\\(s\\) not yet stored \\(${held}\\).*start a node on that directory`),
      ),
    );
    await db.recordings.markStored(held);
    // A finalize job waiting in its directory's queue (real pg-boss): refused too.
    const { boss } = await startBoss(db.pool, log);
    try {
      await ensureQueue(boss, queue, { name: queue });
      const queued = await newRecording('forget-queued@pbx');
      await boss.send(queue, { recordingId: queued }, { id: queued });
      await assert.rejects(forgetNode(db.pool, 'f1', entry('f1')), (e: unknown) => {
        assert.ok(e instanceof NodeForgetRefused);
        assert.deepEqual(e.recordingIds, [queued]);
        return true;
      });
      assert.equal(await forgets(), 0, 'a refusal is not audited');
      // Another live node works the same queue (a shared data directory): the job is not stranded.
      await nodes.register({ ...reg('f2', 'f2-first', 8091), finalizeQueue: queue });
      const gone = await forgetNode(db.pool, 'f1', entry('f1'));
      assert.equal(gone.status, 'down');
      assert.equal(gone.calls, 1);
      await boss.cancel(queue, queued);
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
    assert.equal(await nodes.get('f1'), undefined);
    assert.ok(!(await nodes.list()).some((n) => n.id === 'f1'));
    const calls = await db.pool.query(`SELECT 1 FROM cluster_calls WHERE node_id = 'f1'`);
    assert.equal(calls.rowCount, 0);
    assert.equal(await forgets(), 1);
    // The same id starting again registers as a new node.
    await nodes.register({ ...reg('f1', 'f1-second', 8092), finalizeQueue: queue });
    const back = await nodes.get('f1');
    assert.equal(back?.status, 'up');
    assert.equal(back?.httpAddress, 'http://127.0.0.1:8092');
    // A stopped node (a clean shutdown) may be forgotten at once.
    await nodes.setState('f1', 'f1-second', 'stopped');
    assert.equal((await forgetNode(db.pool, 'f1', entry('f1'))).status, 'stopped');
  });

  it('a process forgotten while it missed its heartbeats registers again at its next one', async () => {
    const node = new ClusterNode({
      config: {
        nodeId: 'f3',
        heartbeatSeconds: 1,
        drainTimeoutSeconds: 0,
        httpAddress: undefined,
        secret: undefined,
      },
      nodes,
      pool: db.pool,
      addresses: { sip: '127.0.0.1:5063', media: '127.0.0.1', http: 'http://127.0.0.1:8093' },
      maxSessions: 10,
      live: new Live(),
      log,
    });
    await node.start();
    try {
      // Its heartbeat every second may land between the two steps: try again until forgotten.
      for (let i = 0; ; i++) {
        await kill('f3');
        const ok = await forgetNode(db.pool, 'f3', entry('f3')).then(
          () => true,
          (e: unknown) => (e instanceof NodeForgetRefused && i < 20 ? false : Promise.reject(e)),
        );
        if (ok) break;
      }
      assert.equal(await nodes.get('f3'), undefined);
      for (let i = 0; i < 40 && !(await nodes.get('f3')); i++) await sleep(100);
      assert.equal((await nodes.get('f3'))?.status, 'up', 'registered again at its next heartbeat');
      assert.equal(node.refusal, null, 'still takes calls');
    } finally {
      await node.stop();
    }
  });
});
