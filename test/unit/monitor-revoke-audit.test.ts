/**
 * A listen-in ended by a revocation (its user disabled, its session logged out) is in the audit
 * trail before its socket closes, however slow the trail is to write: the monitor on a real HTTP
 * server and real WebSockets, with an audit path whose writes take 300 ms. Whoever sees the close
 * (the user, an admin, a test reading the trail) finds the entry with its reason; and closing the
 * monitor (shutdown) waits for the entries of the listen-ins it ends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { attachMonitor, type TapHub, type Monitor } from '../../src/monitor/index.js';
import { startMonitorWorld } from '../helpers/monitor-world.js';
import { createLogger } from '../../src/log.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import type { Principal } from '../../src/store/users.js';

const call: ActiveCall = {
  recordingId: 'r1',
  callId: 'c1',
  sessionId: 's1',
  srcAddress: '127.0.0.1:5070',
  startedAt: new Date().toISOString(),
  participants: [{ participantId: 'a', aor: 'sip:alice@x', name: 'Alice', sendsLabels: ['1'] }],
  streams: [{ label: '1', codec: 'PCMU', port: 20000 }],
};
class Source extends EventEmitter<{ event: [RecordingEvent] }> {
  activeCalls(): ActiveCall[] {
    return [call];
  }
}
const alice: Principal = {
  userId: 'u-alice',
  username: 'alice',
  role: 'user',
  groups: [],
  numbers: ['alice'],
  via: 'session',
  sessionId: 'sess-alice',
};

describe('live monitor: a revoked listen-in is audited before its socket closes', () => {
  let server: Server;
  let monitor: Monitor;
  let taps: TapHub;
  let dataDir: string;
  let url: string;
  let urlOf: (token: string) => string;
  /** The trail: each listen-stop's reason once its (slow) write is done. */
  const trail: string[] = [];

  before(async () => {
    ({ dataDir, server, taps, url: urlOf } = await startMonitorWorld('srs-mon-revoke-', ['r1']));
    url = urlOf('alice');
    monitor = attachMonitor({
      server,
      token: 'tok',
      source: new Source(),
      log: createLogger('silent'),
      authenticate: async () => alice,
      filterFor: async () => () => true,
      taps,
      access: {
        grant: async () => undefined,
        record: async (_who, _origin, _id, _purpose, details) => {
          await sleep(300);
          trail.push(String(details?.reason));
        },
      },
    });
  });
  after(async () => {
    await monitor.close();
    taps.close();
    await new Promise((r) => server.close(r));
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A socket of alice's that listens to r1; resolves once listening, with its close code. */
  const listening = async () => {
    const ws = new WebSocket(url);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const types: string[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) types.push((JSON.parse(String(d)) as { type: string }).type);
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'listen', recordingId: 'r1', channel: 'mix' }));
    for (let i = 0; i < 300 && !types.includes('listening'); i++) await sleep(10);
    assert.ok(types.includes('listening'), `listening (${types.join(', ')})`);
    return { ws, closed, types };
  };

  it('writes the listen-stop, then closes with 4401', async () => {
    const { closed, types } = await listening();
    assert.equal(monitor.revoke({ userId: 'u-alice', reason: 'user changed: disabled' }), 1);
    assert.equal(monitor.listeners, 0, 'the audio stops at once');
    assert.equal(await closed, 4401);
    assert.deepEqual(trail, ['user changed: disabled'], 'in the trail when the socket closed');
    assert.ok(types.includes('revoked'));
  });

  it('closing the monitor waits for the entries of the listen-ins it ends', async () => {
    await listening();
    trail.length = 0;
    await monitor.close();
    assert.deepEqual(trail, ['server shutting down']);
  });
});
