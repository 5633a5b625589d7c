/**
 * Recording control of a call held by another node: two `srs serve` nodes on one Postgres, a
 * SIPREC call (our UAC, a real RTP tone) on node B, and a user who may pause it acting through
 * node A (its REST API by id and by number, and its monitor socket). A relays each action to B over
 * the peer channel (cluster secret, one socket per action, its credential naming the user); B
 * reads the user again, applies and audits the action as theirs (their address, their channel,
 * `relayedBy` the peer). B re-publishes the call's control state, so A lists the call as paused.
 * Before, A answered 404 ("no live call ... you may control") and listed the call as recording.
 * A peer credential whose user header was changed is refused (the MAC covers it). B authenticates
 * the user with the secret they used on A (relayed under the MAC): a peer naming a user whose
 * credential it does not hold (the cluster secret alone) is refused 403, and the call is untouched.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ACTING_FOR_HEADER, peerHeaders, type ActingFor } from '../../src/cluster/live.js';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { audienceOf, copyKeys, until } from '../helpers/cluster.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { openMonitor } from '../helpers/server-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { seedDataDir } from '../helpers/pg-template.js';

const SECRET = 'cluster-control-secret-0123456789';

interface Reply {
  status: number;
  json: Record<string, unknown>;
}
interface CallItem {
  recordingId: string;
  nodeId?: string;
  control?: { state: string };
}

describe('cluster: recording control of a call on another node', { timeout: 240_000 }, () => {
  let dbDir: string;
  let dirA: string;
  let dirB: string;
  let db: Database;
  let a: TestServer;
  let b: TestServer;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const call = async (s: TestServer, method: string, path: string, token = s.token): Promise<Reply> => {
    const r = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const json = async (s: TestServer, method: string, path: string, body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  before(async () => {
    dbDir = await mkdtemp(join(tmpdir(), 'srs-cctl-db-'));
    await seedDataDir(dbDir);
    dirA = await mkdtemp(join(tmpdir(), 'srs-cctl-a-'));
    dirB = await mkdtemp(join(tmpdir(), 'srs-cctl-b-'));
    db = await openDatabase({ dataDir: dbDir, log: createLogger('silent') });
    const env = (id: string) => ({
      DATABASE_URL: db.connectionString,
      SRS_NODE_ID: id,
      SRS_NODE_HEARTBEAT_SECONDS: '1',
      SRS_CLUSTER_SECRET: SECRET,
    });
    a = await startTestServer(env('node-a'), dirA);
    await a.waitFor(/SIPREC recording server ready/, 60_000);
    // The users (in the shared database) before B starts: B reads the record modes at its start.
    for (const [username, numbers] of [
      ['agent', ['alice']],
      ['zed', ['zed']],
    ] as const) {
      const u = await json(a, 'POST', '/users', {
        username,
        role: 'user',
        password: `${username}-password`,
        numbers: [...numbers],
      });
      ids[username] = u.id as string;
      await json(a, 'PUT', `/recording-control/users/${ids[username]}`, { mode: 'always-pause' });
      const login = await fetch(`http://127.0.0.1:${a.httpPort}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: `${username}-password` }),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const t = await fetch(`http://127.0.0.1:${a.httpPort}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ name: 'cluster-control' }),
      });
      assert.equal(t.status, 201, await t.clone().text());
      tokens[username] = ((await t.json()) as { token: string }).token;
    }
    await copyKeys(dirA, dirB);
    b = await startTestServer(env('node-b'), dirB);
    await b.waitFor(/SIPREC recording server ready/, 60_000);
  });

  after(async () => {
    await a?.stop('SIGKILL').catch(() => undefined);
    await b?.stop('SIGKILL').catch(() => undefined);
    await db?.close();
    for (const d of [dirA, dirB, dbDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('relays pause and resume from A to B, applied and audited on B for the user', async () => {
    const uac = await SiprecUac.open(b.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const tone = sendLoopbackTone(inv.ports[0]!, 9000, 0x7301);
    const listed = async () =>
      ((await call(a, 'GET', '/calls')).json.items as CallItem[]).find((c) => c.nodeId === 'node-b');
    const onA = await until('B’s call listed on A', listed);
    const id = onA.recordingId;
    assert.equal(onA.control?.state, 'recording');
    // A's monitor, as the agent: it lists B's call once A has read the registry (every second).
    const mon = openMonitor(a.httpPort, { authorization: `Bearer ${tokens.agent}` });
    assert.equal(await mon.opened, 101, 'A’s monitor opens');
    const { ws } = mon;
    const msgs = mon.msgs as {
      type: string;
      calls?: CallItem[];
      call?: CallItem;
      result?: { state?: string };
      error?: string;
    }[];
    await until('B’s call in A’s monitor', async () =>
      msgs.some(
        (t) =>
          (t.type === 'snapshot' && t.calls?.some((c) => c.recordingId === id)) ||
          (t.type === 'call-start' && t.call?.recordingId === id),
      ),
    );

    // Through A's API as the agent: B applies it.
    const p = await call(a, 'POST', `/calls/${id}/pause`, tokens.agent);
    assert.equal(p.status, 200, JSON.stringify(p.json));
    assert.equal(p.json.state, 'paused');
    assert.equal((await call(b, 'GET', `/calls/${id}/control`)).json.state, 'paused');
    // B's refusal comes back as it is; a user who may not control the call gets A's 404.
    const again = await call(a, 'POST', `/calls/${id}/pause`, tokens.agent);
    assert.equal(again.status, 409, JSON.stringify(again.json));
    assert.equal((await call(a, 'POST', `/calls/${id}/pause`, tokens.zed)).status, 404);
    // B re-publishes the control state: A lists the call as paused, and tells its monitor.
    await until('A lists the call paused', async () => (await listed())?.control?.state === 'paused');
    await until('the paused call-update on A’s monitor', async () =>
      msgs.some(
        (t) => t.type === 'call-update' && t.call?.recordingId === id && t.call.control?.state === 'paused',
      ),
    );
    // A's view of B's call (as B last published it), as its monitor has it.
    const seen = await call(a, 'GET', `/calls/${id}/control`, tokens.agent);
    assert.equal(seen.status, 200, JSON.stringify(seen.json));
    assert.equal(seen.json.state, 'paused');

    // By number, as a CTI integration behind a balancer would.
    const r = await call(a, 'POST', '/calls/resume?number=alice', tokens.agent);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((await call(b, 'GET', `/calls/${id}/control`)).json.state, 'recording');

    // Through A's monitor socket.
    ws.send(JSON.stringify({ type: 'pause', recordingId: id }));
    const m = await until('the monitor’s reply', async () =>
      msgs.find((x) => x.type === 'control' || x.type === 'error'),
    );
    ws.close();
    assert.equal(m.type, 'control', JSON.stringify(m));
    assert.equal(m.result?.state, 'paused');
    assert.equal((await call(b, 'GET', `/calls/${id}/control`)).json.state, 'paused');

    // A peer credential for the agent whose user header is then changed to the admin token: 401.
    const h = peerHeaders(SECRET, 'node-x', await audienceOf(db, 'node-b'), {
      userId: ids.agent ?? null,
      username: 'agent',
      via: 'token',
      channel: 'api',
      ip: '127.0.0.1',
      credential: tokens.agent ?? '',
    });
    h[ACTING_FOR_HEADER] = Buffer.from(
      JSON.stringify({
        userId: null,
        username: 'admin-token',
        via: 'admin-token',
        channel: 'api',
        ip: '',
        credential: tokens.agent,
      }),
    ).toString('base64url');
    const forged = openMonitor(b.httpPort, h);
    const status = await forged.opened;
    forged.ws.terminate();
    assert.equal(status, 401, 'a changed user header is refused');

    // The cluster secret alone, naming a user it holds no credential of: the admin token, the
    // agent with no secret, the agent with another user's valid API token. Before, B took the
    // peer's word for the user: the first resumed the paused call as the admin token.
    const forge = async (actingFor: ActingFor) => {
      const m = openMonitor(
        b.httpPort,
        peerHeaders(SECRET, 'node-x', await audienceOf(db, 'node-b'), actingFor),
      );
      assert.equal(await m.opened, 101, 'a peer credential opens B’s monitor');
      m.ws.send(JSON.stringify({ type: 'resume', recordingId: id }));
      const reply = await until('B’s answer to the forged resume', async () =>
        m.msgs.find((x) => x.type === 'control' || x.type === 'error'),
      );
      m.ws.terminate();
      return reply;
    };
    const stranger = { channel: 'api', ip: '203.0.113.9' } as const;
    for (const who of [
      { userId: null, username: 'admin-token', via: 'admin-token', credential: 'not-the-admin-token' },
      { userId: ids.agent ?? null, username: 'agent', via: 'token', credential: '' },
      { userId: ids.agent ?? null, username: 'agent', via: 'token', credential: tokens.zed ?? '' },
    ] as const) {
      const reply = await forge({ ...stranger, ...who });
      assert.equal(reply.type, 'error', `${who.username} (${who.via}) forged: ${JSON.stringify(reply)}`);
      assert.equal(reply.status, 403, JSON.stringify(reply));
      assert.equal(
        (await call(b, 'GET', `/calls/${id}/control`)).json.state,
        'paused',
        'the call stays paused',
      );
    }

    await tone;
    await uac.request('BYE');
    uac.close();

    const audit = (await call(a, 'GET', `/audit?resourceId=${id}`)).json.items as {
      action: string;
      actor: string;
      via: string;
      ip: string;
      details: { relayedBy?: string };
    }[];
    const acts = audit
      .filter((e) => /^recording\.(pause|resume)/.test(e.action))
      .map((e) => `${e.action}:${e.actor}:${e.via}:${e.ip}:${e.details.relayedBy ?? ''}`)
      .sort();
    assert.deepEqual(acts, [
      'recording.pause-refused:agent:api:127.0.0.1:node:node-a',
      'recording.pause:agent:api:127.0.0.1:node:node-a',
      'recording.pause:agent:api:127.0.0.1:node:node-a',
      'recording.resume:agent:api:127.0.0.1:node:node-a',
    ]);
  });
});
