import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import WebSocket from 'ws';
import { attachMonitor, type Monitor } from '../../src/monitor/index.js';
import { createLogger } from '../../src/log.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';

const call: ActiveCall = {
  recordingId: 'r1',
  callId: 'c1',
  sessionId: 's1',
  srcAddress: '127.0.0.1:5070',
  startedAt: new Date(0).toISOString(),
  participants: [],
  streams: [],
};

class Source extends EventEmitter<{ event: [RecordingEvent] }> {
  calls: ActiveCall[] = [call];
  activeCalls(): ActiveCall[] {
    return this.calls;
  }
}

describe('live monitor', () => {
  let server: Server;
  let monitor: Monitor;
  const source = new Source();
  let url: string;

  before(async () => {
    server = createServer((_q, r) => r.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    url = `ws://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    monitor = attachMonitor({ server, token: 'tok', source, log: createLogger('silent') });
  });
  after(async () => {
    await monitor.close();
    await new Promise((r) => server.close(r));
  });

  const statusOf = (ws: WebSocket): Promise<number> =>
    new Promise((resolve) => {
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
    });

  it('refuses missing or wrong tokens and other paths', async () => {
    assert.equal(await statusOf(new WebSocket(`${url}/monitor`)), 401);
    assert.equal(await statusOf(new WebSocket(`${url}/monitor?token=nope`)), 401);
    assert.equal(await statusOf(new WebSocket(`${url}/other?token=tok`)), 404);
  });

  it('sends a snapshot, then call events, to header- and query-authenticated clients', async () => {
    const a = new WebSocket(`${url}/monitor`, { headers: { authorization: 'Bearer tok' } });
    const b = new WebSocket(`${url}/monitor?token=tok`);
    const got: Record<string, unknown[]> = { a: [], b: [] };
    a.on('message', (d) => got.a?.push(JSON.parse(String(d))));
    b.on('message', (d) => got.b?.push(JSON.parse(String(d))));
    await Promise.all([statusOf(a), statusOf(b)]);
    await new Promise((r) => setTimeout(r, 50));
    source.emit('event', {
      type: 'call-end',
      call,
      endedAt: new Date(1000).toISOString(),
      durationMs: 1000,
      reason: 'bye',
    });
    await new Promise((r) => setTimeout(r, 100));
    for (const k of ['a', 'b']) {
      assert.deepEqual(got[k]?.[0], { type: 'snapshot', calls: [call] });
      assert.equal((got[k]?.[1] as { type: string }).type, 'call-end');
    }
    assert.equal(monitor.clients, 2);
    a.close();
    b.close();
  });
});
