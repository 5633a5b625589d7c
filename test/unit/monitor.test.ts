import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { attachMonitor, TapHub, AUDIO_HEADER, MIX_CHANNEL, type Monitor } from '../../src/monitor/index.js';
import { createLogger } from '../../src/log.js';
import type { ActiveCall, RecordingEvent } from '../../src/recording/types.js';
import type { Principal } from '../../src/store/users.js';
import { decodeUlaw, encodeUlaw, tone } from '../helpers/audio.js';

const call: ActiveCall = {
  recordingId: 'r1',
  callId: 'c1',
  sessionId: 's1',
  srcAddress: '127.0.0.1:5070',
  startedAt: new Date(0).toISOString(),
  participants: [
    { participantId: 'a', aor: 'sip:alice@x', name: 'Alice', sendsLabels: ['1'] },
    { participantId: 'b', aor: 'sip:bob@x', name: 'Bob', sendsLabels: ['2'] },
  ],
  streams: [
    { label: '1', codec: 'PCMU', port: 20000 },
    { label: '2', codec: 'PCMU', port: 20002 },
  ],
};
const other: ActiveCall = {
  ...call,
  recordingId: 'r2',
  callId: 'c2',
  participants: [{ participantId: 'c', aor: 'sip:carol@x', name: 'Carol', sendsLabels: [] }],
};

class Source extends EventEmitter<{ event: [RecordingEvent] }> {
  calls: ActiveCall[] = [call, other];
  activeCalls(): ActiveCall[] {
    return this.calls;
  }
}

const principal = (username: string, role: Principal['role'], numbers: string[]): Principal => ({
  userId: username,
  username,
  role,
  groups: [],
  numbers,
  via: 'session',
});
const USERS: Record<string, Principal> = {
  alice: principal('alice', 'user', ['alice']),
  rec: principal('rec', 'record-only', ['bob']),
};

function spoolHeader(): Buffer {
  const b = Buffer.alloc(16);
  b.write('SRSPOOL1', 0, 'latin1');
  b.writeUInt32LE(8000, 8);
  return b;
}
function spoolRecord(offset: number, ulaw: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32LE(offset, 0);
  h.writeUInt16LE(ulaw.length, 4);
  return Buffer.concat([h, ulaw]);
}

describe('live monitor', () => {
  let server: Server;
  let monitor: Monitor;
  let taps: TapHub;
  let dataDir: string;
  const source = new Source();
  let url: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-mon-'));
    server = createServer((_q, r) => r.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    url = `ws://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    taps = new TapHub({ dataDir, pollMs: 20 });
    monitor = attachMonitor({
      server,
      token: 'tok',
      source,
      log: createLogger('silent'),
      authenticate: async (req) => {
        const t = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
        return USERS[t] ?? null;
      },
      filterFor: async (who) => {
        if (who.role === 'admin') return () => true;
        if (who.role === 'record-only') return () => false;
        return (parts) => parts.some((p) => who.numbers.some((n) => p.aor?.includes(`:${n}@`)));
      },
      taps,
    });
  });
  after(async () => {
    await monitor.close();
    taps.close();
    await new Promise((r) => server.close(r));
    await rm(dataDir, { recursive: true, force: true });
  });

  const statusOf = (ws: WebSocket): Promise<number> =>
    new Promise((resolve) => {
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
    });

  const collect = (ws: WebSocket) => {
    const json: { type: string; [k: string]: unknown }[] = [];
    const bin: Buffer[] = [];
    ws.on('message', (d, isBinary) => {
      if (isBinary) bin.push(d as Buffer);
      else json.push(JSON.parse(String(d)) as { type: string });
    });
    return { json, bin };
  };
  const until = async (cond: () => boolean, ms = 3000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('refuses missing or wrong credentials and other paths', async () => {
    assert.equal(await statusOf(new WebSocket(`${url}/monitor`)), 401);
    assert.equal(await statusOf(new WebSocket(`${url}/monitor?token=nope`)), 401);
    assert.equal(await statusOf(new WebSocket(`${url}/other?token=tok`)), 404);
  });

  it('sends the admin every call and event; a user only theirs; record-only none', async () => {
    const a = new WebSocket(`${url}/monitor`, { headers: { authorization: 'Bearer tok' } });
    const u = new WebSocket(`${url}/monitor?token=alice`);
    const r = new WebSocket(`${url}/monitor?token=rec`);
    const got = { a: collect(a), u: collect(u), r: collect(r) };
    await Promise.all([statusOf(a), statusOf(u), statusOf(r)]);
    await until(() => got.a.json.length > 0 && got.u.json.length > 0 && got.r.json.length > 0);
    const ids = (m: unknown) => (m as { calls: ActiveCall[] }).calls.map((c) => c.recordingId);
    assert.deepEqual(ids(got.a.json[0]), ['r1', 'r2']);
    assert.deepEqual(ids(got.u.json[0]), ['r1']);
    assert.deepEqual(ids(got.r.json[0]), []);
    const snap = (
      got.u.json[0] as unknown as { calls: (ActiveCall & { durationMs: number; paused: boolean })[] }
    ).calls[0];
    assert.equal(snap?.paused, false);
    assert.ok((snap?.durationMs ?? 0) > 0);
    for (const c of [other, call])
      source.emit('event', {
        type: 'call-end',
        call: c,
        endedAt: new Date(1000).toISOString(),
        durationMs: 1000,
        reason: 'bye',
      });
    await until(() => got.a.json.length === 3 && got.u.json.length === 2);
    await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(
      got.u.json.slice(1).map((m) => [m.type, (m.call as ActiveCall).recordingId]),
      [['call-end', 'r1']],
    );
    assert.equal(got.r.json.length, 1);
    assert.equal(monitor.clients, 3);
    for (const ws of [a, u, r]) ws.close();
  });

  it('listen-in: tails the spool, sends per-leg or mixed u-law frames, and stops when nobody listens', async () => {
    const dir = join(dataDir, 'spool', 'r1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'leg0.spool'), spoolHeader());
    await writeFile(join(dir, 'leg1.spool'), spoolHeader());
    const ws = new WebSocket(`${url}/monitor?token=alice`);
    const got = collect(ws);
    await statusOf(ws);
    ws.send(JSON.stringify({ type: 'listen', recordingId: 'r2' }));
    await until(() => got.json.some((m) => m.type === 'error'));
    assert.match(String(got.json.find((m) => m.type === 'error')?.error), /no live call r2/);
    ws.send(JSON.stringify({ type: 'listen', recordingId: 'r1', channel: 'all' }));
    await until(() => got.json.some((m) => m.type === 'listening'));
    assert.equal(taps.activeTaps, 1);
    assert.equal(monitor.listeners, 1);
    const a = encodeUlaw(tone(440, 160));
    const b = encodeUlaw(tone(1000, 160));
    await appendFile(join(dir, 'leg0.spool'), spoolRecord(8000, a));
    await appendFile(join(dir, 'leg1.spool'), spoolRecord(8000, b));
    await until(() => got.bin.length >= 2);
    const frames = got.bin.map((f) => ({
      ch: f[1],
      offset: f.readUInt32LE(4),
      data: f.subarray(AUDIO_HEADER),
    }));
    frames.sort((x, y) => (x.ch ?? 0) - (y.ch ?? 0));
    assert.deepEqual(
      frames.map((f) => [f.ch, f.offset, f.data.length]),
      [
        [0, 8000, a.length],
        [1, 8000, b.length],
      ],
    );
    assert.ok(frames[0]?.data.equals(a));
    // Mixed: one channel, the sum of both legs.
    got.bin.length = 0;
    ws.send(JSON.stringify({ type: 'listen', recordingId: 'r1', channel: 'mix' }));
    await until(() => got.json.filter((m) => m.type === 'listening').length === 2);
    await appendFile(join(dir, 'leg0.spool'), spoolRecord(9280, a));
    await appendFile(join(dir, 'leg1.spool'), spoolRecord(9280, b));
    await until(() => got.bin.reduce((n, f) => n + f.length - AUDIO_HEADER, 0) >= a.length);
    const mixed = Buffer.concat(got.bin.map((f) => f.subarray(AUDIO_HEADER)));
    assert.ok(got.bin.every((f) => f[1] === MIX_CHANNEL));
    const want = decodeUlaw(a).map((v, i) => v + (decodeUlaw(b)[i] ?? 0));
    const m = decodeUlaw(mixed.subarray(0, a.length));
    let maxErr = 0;
    for (let i = 0; i < m.length; i++) maxErr = Math.max(maxErr, Math.abs((m[i] ?? 0) - (want[i] ?? 0)));
    assert.ok(maxErr < 1200, `mix within u-law quantisation (max error ${maxErr})`);
    ws.send(JSON.stringify({ type: 'unlisten' }));
    await until(() => got.json.some((x) => x.type === 'unlistened'));
    assert.equal(taps.activeTaps, 0, 'no tap while nobody listens');
    assert.equal(monitor.listeners, 0);
    const rec = new WebSocket(`${url}/monitor?token=rec`);
    const rgot = collect(rec);
    await statusOf(rec);
    rec.send(JSON.stringify({ type: 'listen', recordingId: 'r1' }));
    await until(() => rgot.json.some((x) => x.type === 'error'));
    ws.send('garbage');
    await until(() => got.json.some((x) => x.type === 'error' && /JSON/.test(String(x.error))));
    ws.close();
    rec.close();
  });
});
