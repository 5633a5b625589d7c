/**
 * Listen-in to a call on another node that the owning node refuses (the call ended there a moment
 * before, or the user may not listen) or that cannot be reached. The monitor had answered
 * `listening`, the relay only logged the refusal, and the supervisor sat on silence with no word
 * of why until the call ended. Here the monitor runs on a real HTTP server with the cluster's live
 * source; a WebSocket server stands for the owning node's /monitor and refuses as it does. The
 * client must get an `error` naming the refusal, the listen-in must end (audited) and no relay
 * may stay open.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import type { ClusterLive } from '../../src/cluster/live.js';
import { createLogger } from '../../src/log.js';
import { attachMonitor, type Monitor } from '../../src/monitor/index.js';
import type { ActiveCall } from '../../src/recording/types.js';
import type { Principal } from '../../src/store/users.js';
import { clusterLiveOf } from '../helpers/cluster-live.js';

const admin: Principal = {
  userId: 'u-admin',
  username: 'admin',
  role: 'admin',
  groups: [],
  numbers: [],
  via: 'token',
};
const callOn = (recordingId: string): ActiveCall => ({
  recordingId,
  callId: `c-${recordingId}`,
  sessionId: `s-${recordingId}`,
  srcAddress: '127.0.0.1:5070',
  startedAt: new Date().toISOString(),
  participants: [{ participantId: 'a', aor: 'sip:alice@x', name: 'Alice', sendsLabels: ['1'] }],
  streams: [{ label: '1', codec: 'PCMU', port: 20000 }],
});

describe('listen-in relayed to another node: a refusal or a lost node reaches the client', () => {
  let nodeB: WebSocketServer;
  /** Relay connections node B holds open now. */
  const openOnB = new Set<WebSocket>();
  let deadPort: number;
  let nodeD: Server;
  let server: Server;
  let live: ClusterLive;
  let monitor: Monitor;
  let url: string;
  const stops: string[] = [];

  before(async () => {
    // Node B: every listen is refused as its monitor refuses a call it no longer holds.
    nodeB = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    nodeB.on('connection', (ws) => {
      openOnB.add(ws);
      ws.once('close', () => openOnB.delete(ws));
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { recordingId: string };
        ws.send(JSON.stringify({ type: 'error', error: `no live call ${m.recordingId} you may listen to` }));
      });
    });
    await new Promise((r) => nodeB.once('listening', r));
    const portB = (nodeB.address() as AddressInfo).port;
    // Node C: registered, but nothing listens at its address any more.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    deadPort = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    // Node D: answers the relay's handshake 401, as a node with another cluster secret does.
    nodeD = createServer();
    nodeD.on('upgrade', (_req, socket: Socket) =>
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
    await new Promise<void>((r) => nodeD.listen(0, '127.0.0.1', r));
    const portD = (nodeD.address() as AddressInfo).port;
    const remote = (nodeId: string, port: number, recordingId: string) => ({
      nodeId,
      httpAddress: `http://127.0.0.1:${port}`,
      instance: `${nodeId}-1`,
      recordingId,
      call: { ...callOn(recordingId), nodeId },
    });
    live = clusterLiveOf(() => [
      remote('node-b', portB, 'on-b'),
      remote('node-c', deadPort, 'on-c'),
      remote('node-d', portD, 'on-d'),
    ]);
    server = createServer((_q, r) => r.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/monitor?token=t`;
    monitor = attachMonitor({
      server,
      token: 'tok',
      source: live,
      log: createLogger('silent'),
      authenticate: async () => admin,
      filterFor: async () => () => true,
      taps: live.taps,
      access: {
        grant: async () => undefined,
        record: async (_who, _origin, id, _purpose, details) => {
          stops.push(`${id}: ${String(details?.reason)}`);
        },
      },
    });
    for (let i = 0; i < 100 && live.remoteCalls().length < 3; i++) await sleep(20);
    assert.equal(live.remoteCalls().length, 3, 'the remote calls read');
  });
  after(async () => {
    await monitor?.close();
    live?.close();
    nodeB?.close();
    nodeD?.close();
    await new Promise((r) => server?.close(r));
  });

  /** Listens to `recordingId` from node A's monitor; resolves with the messages once an error came. */
  const listenTo = async (recordingId: string) => {
    const ws = new WebSocket(url);
    const texts: { type: string; error?: string; recordingId?: string }[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) texts.push(JSON.parse(String(d)) as (typeof texts)[number]);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'listen', recordingId, channel: 'mix' }));
    for (let i = 0; i < 250 && !texts.some((t) => t.type === 'error'); i++) await sleep(20);
    return { ws, texts };
  };

  /** Listens to `recordingId`: an error matching `error` comes, the listen-in ends, audited with `reason`. */
  const refused = async (recordingId: string, error: RegExp, reason: string) => {
    stops.length = 0;
    const { ws, texts } = await listenTo(recordingId);
    const e = texts.find((t) => t.type === 'error');
    assert.ok(e, `an error after listening (${texts.map((t) => t.type).join(', ')})`);
    assert.match(String(e.error), error);
    assert.equal(e.recordingId, recordingId);
    assert.equal(monitor.listeners, 0, 'no listen-in left on node A');
    assert.deepEqual(stops, [`${recordingId}: ${reason}`]);
    ws.close();
  };

  it('the owning node refuses: the client is told why and the listen-in ends, audited', async () => {
    await refused(
      'on-b',
      /node node-b holding the call refused the listen-in: no live call on-b/,
      'refused by node node-b',
    );
    for (let i = 0; i < 100 && openOnB.size > 0; i++) await sleep(20);
    assert.equal(openOnB.size, 0, 'the relay to node B is closed');
  });

  it('the owning node cannot be reached: the client is told so and the listen-in ends', async () => {
    await refused('on-c', /node node-c holding the call is not reachable/, 'node node-c not reachable');
  });

  it('the owning node refuses the relay itself (another cluster secret: 401): the client is told so', async () => {
    await refused(
      'on-d',
      /node node-d holding the call refused the relay \(401\)/,
      'relay refused by node node-d',
    );
  });
});
