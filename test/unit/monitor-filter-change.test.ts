/**
 * A supervisor's live view follows their groups' members as they are now (the monitor on a real
 * HTTP server and real WebSockets; the call filter reads a member list the test changes, as an
 * admin's change in Postgres would): when a member leaves the group, the supervisor's listen-in
 * to that member's call stops (audited, reason `access changed`) and a new snapshot drops the call;
 * when one joins, a snapshot adds it. Changed through this node's API (refreshFilters) at once;
 * changed elsewhere (the CLI, another node) by the periodic re-check.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.js';
import { attachMonitor, type TapHub, type Monitor } from '../../src/monitor/index.js';
import { startMonitorWorld } from '../helpers/monitor-world.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import type { Principal } from '../../src/store/users.js';

const callOf = (id: string, aor: string): ActiveCall => ({
  recordingId: id,
  callId: `c-${id}`,
  sessionId: `s-${id}`,
  srcAddress: '127.0.0.1:5070',
  startedAt: new Date().toISOString(),
  participants: [{ participantId: 'a', aor, name: aor, sendsLabels: ['1'] }],
  streams: [{ label: '1', codec: 'PCMU', port: 20000 }],
});
const calls = [callOf('r-bob', 'sip:bob@x'), callOf('r-cat', 'sip:cat@x')];
class Source extends EventEmitter<{ event: [RecordingEvent] }> {
  activeCalls(): ActiveCall[] {
    return calls;
  }
}
const sup: Principal = {
  userId: 'u-sup',
  username: 'sup',
  role: 'supervisor',
  groups: ['sales'],
  numbers: [],
  via: 'session',
  sessionId: 'sess-sup',
};

interface Msg {
  type: string;
  reason?: string;
  calls?: { recordingId: string }[];
}

describe('live monitor: a supervisor’s view follows group membership changes', () => {
  let server: Server;
  let dataDir: string;
  let taps: TapHub;
  let url: string;
  /** The numbers of the sales group's members, "in the database". */
  let members = new Set(['bob']);
  /** The `listen` permission's level, "in the settings". */
  let listenLevel = 'supervisor';
  const trail: string[] = [];

  const start = async (recheckMs: number): Promise<Monitor> =>
    attachMonitor({
      server,
      token: 'tok',
      source: new Source(),
      log: createLogger('silent'),
      authenticate: async () => sup,
      filterFor: async () => {
        const now = new Set(members);
        return (parts) => parts.some((p) => now.has((p.aor ?? '').replace(/^sip:|@.*$/g, '')));
      },
      taps,
      access: {
        check: async (who) => {
          if (listenLevel === 'admin' && who.role !== 'admin')
            throw Object.assign(new Error('listen-in needs the listen permission'), { status: 403 });
        },
        grant: async () => undefined,
        record: async (_who, _origin, id, purpose, details) => {
          trail.push(`${purpose} ${id} ${String(details?.reason)}`);
        },
      },
      recheckMs,
    });

  /** The supervisor's socket, listening to bob's call; every JSON message it gets. */
  const listeningToBob = async () => {
    const ws = new WebSocket(url);
    const got: Msg[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) got.push(JSON.parse(String(d)) as Msg);
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'listen', recordingId: 'r-bob', channel: 'mix' }));
    for (let i = 0; i < 300 && !got.some((m) => m.type === 'listening'); i++) await sleep(10);
    assert.ok(
      got.some((m) => m.type === 'listening'),
      JSON.stringify(got),
    );
    const snapshots = () =>
      got.filter((m) => m.type === 'snapshot').map((m) => m.calls?.map((c) => c.recordingId));
    assert.deepEqual(snapshots(), [['r-bob']], 'at first bob’s call only');
    return { ws, got, snapshots };
  };

  before(async () => {
    let urlOf: (token: string) => string;
    ({ dataDir, server, taps, url: urlOf } = await startMonitorWorld('srs-mon-filter-', ['r-bob', 'r-cat']));
    url = urlOf('sup');
  });
  after(async () => {
    taps.close();
    await new Promise((r) => server.close(r));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('changed through this node (refreshFilters): the listen-in stops at once, snapshots follow', async () => {
    members = new Set(['bob']);
    trail.length = 0;
    const monitor = await start(60_000);
    try {
      const { ws, got, snapshots } = await listeningToBob();
      members = new Set(['cat']); // bob left sales, cat joined
      await monitor.refreshFilters();
      for (let i = 0; i < 100 && snapshots().length < 2; i++) await sleep(10);
      assert.equal(monitor.listeners, 0, 'the audio stopped');
      assert.ok(
        got.some((m) => m.type === 'unlistened' && m.reason === 'access changed'),
        JSON.stringify(got),
      );
      assert.deepEqual(snapshots(), [['r-bob'], ['r-cat']]);
      assert.deepEqual(trail, ['listen-stop r-bob access changed']);
      ws.close();
    } finally {
      await monitor.close();
    }
  });

  it('the listen permission raised above the supervisor’s role: the listen-in stops, the view stays', async () => {
    members = new Set(['bob']);
    listenLevel = 'supervisor';
    trail.length = 0;
    const monitor = await start(60_000);
    try {
      const { ws, got, snapshots } = await listeningToBob();
      await monitor.refreshFilters();
      assert.equal(monitor.listeners, 1, 'nothing changed: the listen-in goes on');
      listenLevel = 'admin';
      await monitor.refreshFilters();
      assert.equal(monitor.listeners, 0);
      const told = () => got.some((m) => m.type === 'unlistened' && m.reason === 'access changed');
      for (let i = 0; i < 100 && !told(); i++) await sleep(10);
      assert.ok(told(), JSON.stringify(got));
      assert.deepEqual(snapshots(), [['r-bob']], 'the call is still in view (no new snapshot)');
      assert.deepEqual(trail, ['listen-stop r-bob access changed']);
      ws.close();
    } finally {
      listenLevel = 'supervisor';
      await monitor.close();
    }
  });

  it('changed elsewhere (the CLI, another node): the periodic re-check does the same', async () => {
    members = new Set(['bob']);
    trail.length = 0;
    const monitor = await start(100);
    try {
      const { ws, got, snapshots } = await listeningToBob();
      members = new Set();
      for (let i = 0; i < 200 && monitor.listeners > 0; i++) await sleep(10);
      assert.equal(monitor.listeners, 0, 'the audio stopped within a few re-checks');
      for (let i = 0; i < 100 && snapshots().length < 2; i++) await sleep(10);
      assert.deepEqual(snapshots(), [['r-bob'], []]);
      assert.ok(got.some((m) => m.type === 'unlistened' && m.reason === 'access changed'));
      assert.deepEqual(trail, ['listen-stop r-bob access changed']);
      ws.close();
    } finally {
      await monitor.close();
    }
  });
});
