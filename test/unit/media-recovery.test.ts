// Startup recovery of recordings interrupted by a crash (src/recording/recovery.ts), over real spool
// files written by the native engine's leg logic, with an in-memory catalogue. The end-to-end proof
// with kill -9 of the real server is test/e2e/crash-recovery.test.ts.
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { simulateLegNative } from '../../src/media/engine.js';
import { recoverInterruptedRecordings, type InterruptedMediaStats } from '../../src/recording/recovery.js';
import { wipeDir } from '../../src/pipeline/artifacts.js';
import type { EventRecord, NewRecording, RecordingRow, RecordingState } from '../../src/store/types.js';
import { buildRtp } from '../helpers/rtp.js';
import { createLogger } from '../../src/log.js';

function row(id: string, state: RecordingState, startedAt: Date): RecordingRow {
  return {
    id,
    sessionId: null,
    callId: `call-${id}`,
    srcAddress: '127.0.0.1',
    startedAt,
    participants: [],
    streams: [],
    metadataXml: null,
    endedAt: null,
    durationMs: null,
    state,
    error: null,
    files: [],
    mediaStats: null,
    interrupted: false,
  };
}

/** Writes `<dir>/<legId>.spool` with `packets` 20 ms packets arriving from sample `start`. */
function spoolLeg(dir: string, legId: string, start: number, packets: number): void {
  const ops = Array.from({ length: packets }, (_, i) => ({
    at: start + i * 160,
    data: buildRtp({ pt: 0, seq: i, ts: 1000 + i * 160, ssrc: 5, payload: Buffer.alloc(160, 0x10) }),
  }));
  simulateLegNative(join(dir, `${legId}.spool`), { 0: 'PCMU' }, ops);
}

/** The catalogue's create and addEvents over an in-memory map. */
function creating(rows: Map<string, RecordingRow>) {
  return {
    create: async (r: NewRecording) => {
      if (rows.has(r.id)) throw new Error(`duplicate ${r.id}`);
      rows.set(r.id, { ...row(r.id, 'recording', r.startedAt), ...r, events: [] });
    },
    addEvents: async (id: string, events: EventRecord[]) => {
      const r = rows.get(id) as RecordingRow;
      rows.set(id, { ...r, events: [...(r.events ?? []), ...events] });
    },
  };
}

describe('startup recovery of interrupted recordings', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-recovery-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('ends each from its spool as interrupted and queues it; leaves foreign ones; fails unreadable ones', async () => {
    const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);
    const rows = new Map<string, RecordingRow>();
    const ids = {
      good: '00000000-0000-4000-8000-000000000001',
      torn: '00000000-0000-4000-8000-000000000002',
      foreign: '00000000-0000-4000-8000-000000000003',
      corrupt: '00000000-0000-4000-8000-000000000004',
      stored: '00000000-0000-4000-8000-000000000005',
      backlog: '00000000-0000-4000-8000-000000000006',
    };
    for (const [name, id] of Object.entries(ids)) {
      rows.set(id, row(id, name === 'stored' ? 'stored' : 'recording', new Date(t0)));
    }
    const spool = (id: string) => join(dataDir, 'spool', id);
    // good: two legs, the second starting 1.5 s late; 3 s and 1 s of audio.
    await mkdir(spool(ids.good), { recursive: true });
    await writeFile(join(spool(ids.good), 'session.json'), JSON.stringify({ version: 1, t0 }));
    spoolLeg(spool(ids.good), 'leg0', 0, 150);
    spoolLeg(spool(ids.good), 'leg1', 12000, 50);
    // torn: the process died in the middle of writing a record.
    await mkdir(spool(ids.torn), { recursive: true });
    spoolLeg(spool(ids.torn), 'leg0', 800, 25);
    await appendFile(join(spool(ids.torn), 'leg0.spool'), Buffer.from([0, 0, 1, 0, 160, 0, 1, 2]));
    // backlog: 3 s written, then audio up to 8 s waited for a stalled disk when the process died
    // (the engine's pending marker); leg1's marker is within its file.
    await mkdir(spool(ids.backlog), { recursive: true });
    await writeFile(join(spool(ids.backlog), 'session.json'), JSON.stringify({ version: 1, t0 }));
    spoolLeg(spool(ids.backlog), 'leg0', 0, 150);
    spoolLeg(spool(ids.backlog), 'leg1', 0, 50);
    await writeFile(
      join(spool(ids.backlog), 'spool-pending.json'),
      JSON.stringify({
        recordingId: ids.backlog,
        atMs: t0 + 8000,
        sampleRate: 8000,
        legs: { leg0: { writtenTo: 24000, pendingTo: 64000 }, leg1: { writtenTo: 8000, pendingTo: 8000 } },
      }),
    );
    // corrupt: not a spool at all.
    await mkdir(spool(ids.corrupt), { recursive: true });
    await writeFile(join(spool(ids.corrupt), 'leg0.spool'), 'garbage');

    const calls: string[] = [];
    const store = {
      listIdsByState: async (state: RecordingState) =>
        [...rows.values()].filter((r) => r.state === state).map((r) => r.id),
      get: async (id: string) => rows.get(id),
      markInterrupted: async (id: string, endedAt: Date, durationMs: number, mediaStats: unknown) => {
        const r = rows.get(id) as RecordingRow;
        rows.set(id, { ...r, endedAt, durationMs, mediaStats, interrupted: true });
        calls.push(`interrupted ${id}`);
      },
      markFailed: async (id: string, error: string) => {
        const r = rows.get(id) as RecordingRow;
        rows.set(id, { ...r, state: 'failed', error });
        calls.push(`failed ${id}`);
      },
      ...creating(rows),
    };
    const queued: string[] = [];
    const out = await recoverInterruptedRecordings({
      store,
      finalize: { enqueueFinalize: async (id) => void queued.push(id) },
      dataDir,
      log: createLogger('silent'),
      wipeDir,
    });
    assert.deepEqual(out.recovered.sort(), [ids.good, ids.torn, ids.backlog].sort());
    assert.deepEqual(out.skipped, [ids.foreign]);
    assert.deepEqual(out.failed, [ids.corrupt]);
    assert.deepEqual(queued.sort(), [ids.good, ids.torn, ids.backlog].sort());

    const good = rows.get(ids.good) as RecordingRow;
    assert.equal(good.interrupted, true);
    assert.equal(good.durationMs, 3000, 'the end of the latest audio');
    assert.equal(good.endedAt?.getTime(), t0 + 3000, 'ended at t0 + what the spool holds');
    const stats = good.mediaStats as InterruptedMediaStats;
    assert.deepEqual(
      stats.legs.map((l) => [l.legId, l.samples, l.endMs, l.truncatedSpool]),
      [
        ['leg0', 24000, 3000, false],
        ['leg1', 8000, 2500, false],
      ],
    );
    const torn = rows.get(ids.torn) as RecordingRow;
    assert.equal(torn.durationMs, 100 + 500, 'late start 100 ms, 0.5 s of audio, torn record ignored');
    assert.equal(torn.endedAt?.getTime(), t0 + 600, 'no session.json: started_at stands in for t0');
    assert.equal((torn.mediaStats as InterruptedMediaStats).legs[0]?.truncatedSpool, true);
    assert.equal(rows.get(ids.foreign)?.state, 'recording', 'no spool here: not touched');
    assert.equal(rows.get(ids.corrupt)?.state, 'failed');
    assert.match(rows.get(ids.corrupt)?.error ?? '', /could not be recovered: .*spool/);
    assert.equal(rows.get(ids.stored)?.interrupted, false);
    assert.equal(calls.filter((c) => c.startsWith('interrupted')).length, 3);
    // The audio the dead process still held for the disk: damaged from the file's end to the marker.
    const backlog = rows.get(ids.backlog) as RecordingRow;
    assert.equal(backlog.durationMs, 8000, 'ends at the marker, not where the file stops');
    assert.equal(backlog.endedAt?.getTime(), t0 + 8000);
    const bl = (backlog.mediaStats as InterruptedMediaStats).legs;
    assert.deepEqual(
      bl.map((l) => [l.legId, l.endMs, l.spoolDamagedSpansMs ?? null, l.spoolDamagedMs ?? null]),
      [
        ['leg0', 3000, [[3000, 8000]], 5000],
        ['leg1', 1000, null, null],
      ],
    );
  });
  it('sweeps leftover spools: wipes stored ones, catalogues orphans with audio, moves the rest aside', async () => {
    const root = await mkdtemp(join(tmpdir(), 'srs-orphans-'));
    const spool = (name: string) => join(root, 'spool', name);
    const t0 = Date.UTC(2026, 0, 3, 4, 5, 6);
    const ids = {
      stored: '00000000-0000-4000-8000-0000000000a1',
      processing: '00000000-0000-4000-8000-0000000000a2',
      orphan: '00000000-0000-4000-8000-0000000000a3',
      silent: '00000000-0000-4000-8000-0000000000a4',
      purged: '00000000-0000-4000-8000-0000000000a5',
    };
    const rows = new Map<string, RecordingRow>([
      [ids.stored, row(ids.stored, 'stored', new Date(t0))],
      [ids.processing, row(ids.processing, 'processing', new Date(t0))],
      [ids.purged, row(ids.purged, 'purged', new Date(t0))],
    ]);
    // Purged by retention, its spool somehow left: its audio must not outlive the retention.
    await mkdir(spool(ids.purged), { recursive: true });
    spoolLeg(spool(ids.purged), 'leg0', 0, 5);
    // Stored, but the wipe after storing never ran: plaintext audio left behind.
    await mkdir(spool(ids.stored), { recursive: true });
    spoolLeg(spool(ids.stored), 'leg0', 0, 50);
    await writeFile(join(spool(ids.stored), 'mix.wav'), Buffer.alloc(1000, 0x55));
    // Processing: the pipeline's business, left alone.
    await mkdir(spool(ids.processing), { recursive: true });
    spoolLeg(spool(ids.processing), 'leg0', 0, 10);
    // No catalogue row, 2 s of audio on two legs and a session file.
    await mkdir(spool(ids.orphan), { recursive: true });
    await writeFile(
      join(spool(ids.orphan), 'session.json'),
      JSON.stringify({
        version: 1,
        recordingId: ids.orphan,
        t0,
        sampleRate: 8000,
        legs: [
          { legId: 'leg0', port: 20000, payloadTypes: { 0: 'PCMU' }, spool: 'leg0.spool' },
          { legId: 'leg1', port: 20002, payloadTypes: { 8: 'PCMA' }, spool: 'leg1.spool' },
        ],
      }),
    );
    spoolLeg(spool(ids.orphan), 'leg0', 0, 100);
    spoolLeg(spool(ids.orphan), 'leg1', 8000, 25);
    // No catalogue row and no audio (the row could not be written before any RTP came).
    await mkdir(spool(ids.silent), { recursive: true });
    spoolLeg(spool(ids.silent), 'leg0', 0, 0);
    // Not a recording id at all.
    await mkdir(spool('junk'), { recursive: true });
    await writeFile(join(spool('junk'), 'note.txt'), 'keep me');

    const queued: string[] = [];
    const store = {
      listIdsByState: async (state: RecordingState) =>
        [...rows.values()].filter((r) => r.state === state).map((r) => r.id),
      get: async (id: string) => rows.get(id),
      markInterrupted: async (id: string, endedAt: Date, durationMs: number, mediaStats: unknown) => {
        const r = rows.get(id) as RecordingRow;
        rows.set(id, { ...r, endedAt, durationMs, mediaStats, interrupted: true });
      },
      markFailed: async () => assert.fail('nothing fails here'),
      ...creating(rows),
    };
    const opts = {
      store,
      finalize: { enqueueFinalize: async (id: string) => void queued.push(id) },
      dataDir: root,
      log: createLogger('silent'),
      wipeDir,
    };
    // Just written: orphans may be a call another node is opening; only the stored spool goes.
    const first = await recoverInterruptedRecordings({ ...opts, orphanMinAgeMs: 60_000 });
    assert.deepEqual(first.wipedSpools, [ids.stored, ids.purged]);
    assert.deepEqual([first.adopted, first.movedAside], [[], []]);
    await assert.rejects(stat(spool(ids.stored)), { code: 'ENOENT' });
    await assert.rejects(stat(spool(ids.purged)), { code: 'ENOENT' });
    assert.ok((await stat(spool(ids.orphan))).isDirectory());

    const out = await recoverInterruptedRecordings({ ...opts, orphanMinAgeMs: 0 });
    assert.deepEqual(out.wipedSpools, []);
    assert.deepEqual(out.adopted, [ids.orphan]);
    assert.deepEqual(out.movedAside.sort(), [ids.silent, 'junk'].sort());
    assert.deepEqual(queued, [ids.orphan]);
    // The orphan is now a catalogued interrupted recording, its spool in place for the pipeline.
    const adopted = rows.get(ids.orphan) as RecordingRow;
    assert.equal(adopted.state, 'recording');
    assert.equal(adopted.interrupted, true);
    assert.equal(adopted.startedAt.getTime(), t0);
    assert.equal(adopted.durationMs, 2000);
    assert.deepEqual(
      adopted.streams.map((x) => [x.legId, x.codec, x.port]),
      [
        ['leg0', 'PCMU', 20000],
        ['leg1', 'PCMA', 20002],
      ],
    );
    assert.equal(adopted.events?.[0]?.type, 'orphan-spool-recovered');
    assert.ok((await readdir(spool(ids.orphan))).includes('leg0.spool'));
    // Nothing without a row was deleted: moved aside whole.
    assert.deepEqual((await readdir(join(root, 'spool-orphans'))).sort(), [ids.silent, 'junk'].sort());
    assert.equal(await readFile(join(root, 'spool-orphans', 'junk', 'note.txt'), 'utf8'), 'keep me');
    assert.ok((await readdir(join(root, 'spool-orphans', ids.silent))).includes('leg0.spool'));
    assert.ok((await stat(spool(ids.processing))).isDirectory(), 'processing: left to the pipeline');
    assert.deepEqual((await readdir(join(root, 'spool'))).sort(), [ids.orphan, ids.processing].sort());
    await rm(root, { recursive: true, force: true });
  });
});
