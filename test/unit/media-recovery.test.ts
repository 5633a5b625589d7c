// Startup recovery of recordings interrupted by a crash (src/recording/recovery.ts), over real spool
// files written by the native engine's leg logic, with an in-memory catalogue. The end-to-end proof
// with kill -9 of the real server is test/e2e/crash-recovery.test.ts.
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { simulateLegNative } from '../../src/media/engine.js';
import { recoverInterruptedRecordings, type InterruptedMediaStats } from '../../src/recording/recovery.js';
import type { RecordingRow, RecordingState } from '../../src/store/types.js';
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
    };
    const queued: string[] = [];
    const out = await recoverInterruptedRecordings({
      store,
      finalize: { enqueueFinalize: async (id) => void queued.push(id) },
      dataDir,
      log: createLogger('silent'),
    });
    assert.deepEqual(out.recovered.sort(), [ids.good, ids.torn].sort());
    assert.deepEqual(out.skipped, [ids.foreign]);
    assert.deepEqual(out.failed, [ids.corrupt]);
    assert.deepEqual(queued.sort(), [ids.good, ids.torn].sort());

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
    assert.equal(calls.filter((c) => c.startsWith('interrupted')).length, 2);
  });
});
