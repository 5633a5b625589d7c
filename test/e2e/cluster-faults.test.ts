/**
 * Two `srs serve` nodes on one Postgres (A straight, B through a TCP relay the test can cut), both
 * with the cluster secret:
 *
 * - a call on B ends while B cannot reach the database (its end-of-call hand-off gives up at once,
 *   SRS_HANDOFF_RETRY_LIMIT=1, so its call-end comes while the database is away): once the
 *   database is back, A stops listing it. Before, B's delete of the call's row failed and was not
 *   tried again: A listed the ended call for as long as B heartbeated. B also LISTENs again on the
 *   cluster channel (before, its lost LISTEN connection was never replaced: drains were seen only
 *   at a heartbeat).
 * - a peer credential made out to B opens one socket on B; read off the wire, it opens nothing on
 *   A, nor on B's next process (its memory of spent nonces is new). Before, the MAC named no
 *   receiver: the header B had taken opened a peer socket (admin, control for the user it names)
 *   on A, and on B again after a restart.
 * - B frozen past 3 heartbeats, a process C started as node-b takes the id; B, running again, says
 *   so and answers new INVITEs 503. Before, B went on silently as node-b (its heartbeats updated
 *   nothing, its calls were written under C's registration, 200 to new calls).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { peerHeaders } from '../../src/cluster/live.js';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { api, audienceOf, copyKeys, until } from '../helpers/cluster.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { seedDataDir } from '../helpers/pg-template.js';

const SECRET = 'cluster-faults-secret-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay to the embedded Postgres's Unix socket; `cut` resets every connection and refuses new ones. */
async function pgRelay(
  connectionString: string,
): Promise<{ url: string; server: Server; cut(on: boolean): void }> {
  const host = decodeURIComponent(/host=([^&]+)/.exec(connectionString)?.[1] ?? '');
  const port = /port=(\d+)/.exec(connectionString)?.[1] ?? '';
  const password = /srs:([^@]+)@/.exec(connectionString)?.[1] ?? '';
  let cut = false;
  const open = new Set<Socket>();
  const server = createServer((c) => {
    if (cut) return void c.destroy();
    const up = connect(join(host, `.s.PGSQL.${port}`));
    const end = () => {
      c.destroy();
      up.destroy();
      open.delete(c);
    };
    open.add(c);
    c.pipe(up).pipe(c);
    for (const s of [c, up]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const relayPort = (server.address() as AddressInfo).port;
  return {
    url: `postgres://srs:${password}@127.0.0.1:${relayPort}/srs`,
    server,
    cut(on) {
      cut = on;
      if (on) for (const s of open) s.destroy();
    },
  };
}

/** The HTTP status of a monitor upgrade with these headers (101 when it opens). */
function upgrade(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/monitor`, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
}

/** Connections whose last statement was LISTEN srs_cluster (one per node while its listener is up). */
async function listenersIn(db: Database): Promise<number> {
  const r = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'LISTEN srs_cluster' AND state = 'idle'`,
  );
  return r.rows[0]?.n ?? 0;
}

type Calls = { items: { recordingId: string; nodeId?: string }[] };

describe('cluster faults: the database lost by a node, a peer credential replayed', () => {
  let dbDir: string;
  let dirA: string;
  let dirB: string;
  let db: Database;
  let relay: Awaited<ReturnType<typeof pgRelay>>;
  let a: TestServer;
  let b: TestServer;
  let c: TestServer | undefined;
  let dirC: string | undefined;

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-faults-db-'));
    await seedDataDir(dbDir);
    dirA = await mkdtemp(join(tmpdir(), 'srs-faults-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'srs-faults-b-'));
    db = await openDatabase({ dataDir: dbDir, log: createLogger('silent') });
    relay = await pgRelay(db.connectionString);
    const env = { SRS_NODE_HEARTBEAT_SECONDS: '1', SRS_CLUSTER_SECRET: SECRET };
    a = await startTestServer({ ...env, DATABASE_URL: db.connectionString, SRS_NODE_ID: 'node-a' }, dirA);
    await a.waitFor(/SIPREC recording server ready/, 60_000);
    await copyKeys(dirA, dirB);
    b = await startTestServer(
      { ...env, DATABASE_URL: relay.url, SRS_NODE_ID: 'node-b', SRS_HANDOFF_RETRY_LIMIT: '1' },
      dirB,
    );
    await b.waitFor(/SIPREC recording server ready/, 60_000);
  });

  after(async () => {
    await a?.stop('SIGKILL').catch(() => undefined);
    await b?.stop('SIGKILL').catch(() => undefined);
    relay?.server.close();
    await db?.close();
    await c?.stop('SIGKILL').catch(() => undefined);
    for (const d of [dirA, dirB, dirC, dbDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it(
    'stops listing a call that ended while its node had lost the database, and listens again',
    { timeout: 90_000 },
    async () => {
      const uac = await SiprecUac.open(b.sipPort);
      try {
        assert.equal((await uac.invite()).status, 200);
        const listeners = () => listenersIn(db);
        assert.equal(await listeners(), 2, 'each node listens on the cluster channel');
        const onA = await until('A lists the call on B', async () =>
          (await api<Calls>(a, '/calls')).items.find((c) => c.nodeId === 'node-b'),
        );
        relay.cut(true);
        await uac.request('BYE');
        await b.waitFor(/could not hand the recording to the pipeline/, 30_000);
        await sleep(1000);
        relay.cut(false);
        // B heartbeats again (fresh row), then A must drop the ended call.
        await until('B heartbeating again', async () => {
          const r = await db.pool.query<{ age: number }>(
            `SELECT extract(epoch FROM now() - heartbeat_at)::float8 AS age FROM cluster_nodes WHERE id = 'node-b'`,
          );
          return (r.rows[0]?.age ?? 99) < 1;
        });
        // B listens on the cluster channel again (drains seen at once), as A does: two listeners.
        await until(
          'B to LISTEN srs_cluster again',
          async () => (await listeners()) === 2,
          15_000,
          async () => `${await listeners()} connections listen`,
        );
        await until(
          'A to stop listing the call that ended on B',
          async () => !(await api<Calls>(a, '/calls')).items.some((c) => c.recordingId === onA.recordingId),
          15_000,
          async () =>
            `cluster_calls: ${JSON.stringify((await db.pool.query('SELECT node_id, recording_id FROM cluster_calls')).rows)}`,
        );
      } finally {
        uac.close();
      }
    },
  );

  it(
    'refuses a peer credential made out to another node or to an earlier process',
    { timeout: 90_000 },
    async () => {
      const user = {
        userId: null,
        username: 'admin-token',
        via: 'admin-token' as const,
        channel: 'api' as const,
        ip: '',
        credential: '',
      };
      // Right after the outage of the test before, B's database probe (every 2 s) may still say
      // down; a credential that is not a peer's is then refused 503 (a user's needs the database).
      await until('B sees its database again', async () =>
        /^srs_database_up 1$/m.test(
          await (
            await fetch(`http://127.0.0.1:${b.httpPort}/metrics`, {
              headers: { authorization: `Bearer ${b.token}` },
            })
          ).text(),
        ),
      );
      const forB = peerHeaders(SECRET, 'node-a', await audienceOf(db, 'node-b'), user);
      assert.equal(await upgrade(b.httpPort, forB), 101, 'B takes a credential made out to it');
      assert.equal(await upgrade(b.httpPort, forB), 401, 'B refuses it again');
      assert.equal(await upgrade(a.httpPort, forB), 401, 'A refuses a credential made out to B');

      // B again on the same ports and data directory (kill -9, restart): the spent header stays spent.
      const unused = peerHeaders(SECRET, 'node-a', await audienceOf(db, 'node-b'), user);
      await b.stop('SIGKILL');
      b = await startTestServer({ ...b.env }, dirB);
      await b.waitFor(/SIPREC recording server ready/, 60_000);
      const port = Number(b.env.HTTP_PORT);
      assert.equal(await upgrade(port, forB), 401, 'B restarted refuses the header its last process took');
      assert.equal(await upgrade(port, unused), 401, 'and one made out to its last process');
      const fresh = peerHeaders(SECRET, 'node-a', await audienceOf(db, 'node-b'), user);
      assert.equal(await upgrade(port, fresh), 101, 'a credential made out to the running process opens');
    },
  );

  it(
    'refuses new calls on a node whose id another process took while it was frozen',
    { timeout: 90_000 },
    async () => {
      // B frozen past 3 heartbeats: listed down, so a process started as node-b takes the id (C).
      b.proc.kill('SIGSTOP');
      try {
        await until(
          'B listed down',
          async () =>
            (
              await db.pool.query<{ late: boolean }>(
                `SELECT heartbeat_at < now() - interval '3.5 seconds' AS late FROM cluster_nodes WHERE id = 'node-b'`,
              )
            ).rows[0]?.late,
        );
        dirC = await mkdtemp(join(tmpdir(), 'srs-faults-c-'));
        await copyKeys(dirA, dirC);
        c = await startTestServer(
          {
            SRS_NODE_HEARTBEAT_SECONDS: '1',
            SRS_CLUSTER_SECRET: SECRET,
            DATABASE_URL: db.connectionString,
            SRS_NODE_ID: 'node-b',
          },
          dirC,
        );
        await c.waitFor(/SIPREC recording server ready/, 60_000);
      } finally {
        b.proc.kill('SIGCONT');
      }
      // B runs again: it says its id is taken and takes no new call (the balancer moves calls away).
      await b.waitFor(/node id node-b was taken over by another process/, 15_000);
      const uac = await SiprecUac.open(Number(b.env.SIP_PORT));
      try {
        const r = await uac.invite();
        assert.equal(r.status, 503, r.text.split('\r\n')[0]);
      } finally {
        uac.close();
      }
      const row = await db.pool.query<{ sip_address: string }>(
        `SELECT sip_address FROM cluster_nodes WHERE id = 'node-b'`,
      );
      assert.equal(row.rows[0]?.sip_address, `127.0.0.1:${c.sipPort}`, 'C keeps the registration');
    },
  );
});
