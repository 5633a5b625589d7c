/**
 * Listen-in to a call on another node, mixed (`channel: mix`, the API's default): the relay asks
 * the owning node for every leg and gets each leg's frame as a message of its own. It handed each
 * to the monitor's mixer alone, and the mixer, taking a batch for all the legs of its time span,
 * dropped the second leg's frame of the same span: a two-party call was heard one party only.
 * Here a WebSocket server stands for the owning node's /monitor and sends two legs as it does
 * (a 440 Hz tone on leg 0, 1000 Hz on leg 1, frame by frame); the mix must carry both.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { ClusterLive } from '../../src/cluster/live.js';
import { encodeAudioFrame } from '../../src/monitor/audio.js';
import { LiveMixer } from '../../src/monitor/tap.js';
import type { LiveFrame } from '../../src/media/types.js';
import { clusterLiveOf } from '../helpers/cluster-live.js';
import { decodeUlaw, encodeUlaw, tone, toneLevelDb } from '../helpers/audio.js';

describe('listen-in relayed from another node, mixed', () => {
  let server: WebSocketServer;
  let live: ClusterLive;

  before(async () => {
    const leg0 = encodeUlaw(tone(440, 1000));
    const leg1 = encodeUlaw(tone(1000, 1000));
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (ws) =>
      ws.once('message', () => {
        // 20 ms frames, each leg's frame of a span as its own message, as the monitor sends them.
        for (let at = 0; at < 8000; at += 160) {
          ws.send(encodeAudioFrame(0, at, 0, leg0.subarray(at, at + 160)));
          ws.send(encodeAudioFrame(1, at, 0, leg1.subarray(at, at + 160)));
        }
      }),
    );
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    live = clusterLiveOf(() => [
      {
        nodeId: 'node-b',
        httpAddress: `http://127.0.0.1:${port}`,
        recordingId: 'r1',
        call: { recordingId: 'r1', startedAt: new Date().toISOString() },
      },
    ]);
    await new Promise((r) => setTimeout(r, 200));
  });
  after(() => {
    live?.close();
    server?.close();
  });

  it('mixes both parties of a two-party call', async () => {
    const mixer = new LiveMixer();
    const out: Buffer[] = [];
    const stop = live.taps.subscribe('r1', (frames: LiveFrame[]) => {
      const m = mixer.mix(frames);
      if (m) out.push(Buffer.from(m.ulaw));
    });
    const end = Date.now() + 5000;
    while (out.reduce((n, b) => n + b.length, 0) < 8000 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    stop();
    const pcm = decodeUlaw(Buffer.concat(out));
    assert.ok(pcm.length >= 8000, `a second of mixed audio: ${pcm.length} samples`);
    assert.ok(toneLevelDb(pcm, 100, 900, 440) > -6, 'party 1 (440 Hz) is in the mix');
    assert.ok(toneLevelDb(pcm, 100, 900, 1000) > -6, 'party 2 (1000 Hz) is in the mix');
  });
});
