// The catalogue writes every SIPREC call makes (a row at the INVITE, its end at the BYE) are
// group-committed for load (bench:cps): calls arriving together share one statement. These tests
// hold that batching to the one-by-one behaviour on the real embedded Postgres: every row with its
// participants and streams, and one bad call failing alone.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NotFoundError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { groupCommit } from '../../src/store/recordings.js';
import type { NewRecording } from '../../src/store/types.js';
import { seedDataDir } from '../helpers/pg-template.js';

function call(i: number, metadataXml: string | null = `<recording>${i}</recording>`): NewRecording {
  return {
    id: randomUUID(),
    sessionId: `s${i}`,
    callId: `batch-${i}@pbx`,
    srcAddress: '127.0.0.1:5060',
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
    participants: [
      { participantId: `a${i}`, aor: `sip:a${i}@x`, name: `A ${i}`, sendsLabels: ['1'] },
      { participantId: `b${i}`, aor: `sip:b${i}@x`, name: null, sendsLabels: [] },
    ],
    streams: [{ label: '1', streamId: `st${i}`, legId: 'leg0', codec: 'PCMU', port: 40000 + 2 * i }],
    metadataXml,
  };
}

describe('SIPREC load: group-committed catalogue writes', () => {
  let dataDir: string;
  let db: Database;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-batch-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log: createLogger('silent') });
  });
  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('groupCommit: items of one turn share a statement, errors stay per item, a failed batch goes one by one', async () => {
    const batches: number[][] = [];
    const singles: number[] = [];
    let failNextBatch = false;
    const write = groupCommit<number>(
      async (items) => {
        batches.push(items);
        if (failNextBatch) {
          failNextBatch = false;
          throw new Error('batch refused');
        }
        return items.map((n) => (n < 0 ? new RangeError(`negative ${n}`) : undefined));
      },
      async (n) => {
        singles.push(n);
        if (n === 13) throw new Error('thirteen');
      },
      { maxBatch: 4 },
    );
    const settled = await Promise.allSettled([1, 2, -3, 4, 5].map(write));
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.match(String((settled[2] as PromiseRejectedResult).reason), /negative -3/);
    // At most 4 per statement, one statement in flight: [1,2,-3,4] then [5] (alone: one by one).
    assert.deepEqual(batches, [[1, 2, -3, 4]]);
    assert.deepEqual(singles, [5]);

    failNextBatch = true;
    batches.length = 0;
    singles.length = 0;
    const again = await Promise.allSettled([11, 12, 13].map(write));
    assert.deepEqual(batches, [[11, 12, 13]]);
    assert.deepEqual(singles.sort(), [11, 12, 13]);
    assert.deepEqual(
      again.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    );
  });

  it('calls created together are all catalogued with their participants and streams; a bad one fails alone', async () => {
    const calls = Array.from({ length: 40 }, (_, i) => call(i));
    // Postgres text cannot hold NUL: this call's row is refused, the others must not be.
    const bad = call(99, 'bad \u0000 metadata');
    const results = await Promise.allSettled([...calls, bad].map((c) => db.recordings.create(c)));
    assert.deepEqual(
      results.map((r) => r.status),
      [...calls.map(() => 'fulfilled'), 'rejected'],
    );
    for (const c of [calls[0]!, calls[17]!, calls[39]!]) {
      const row = await db.recordings.get(c.id);
      assert.ok(row, `row for ${c.callId}`);
      assert.equal(row.callId, c.callId);
      assert.equal(row.sessionId, c.sessionId);
      assert.equal(row.metadataXml, c.metadataXml);
      assert.equal(row.startedAt.getTime(), c.startedAt.getTime());
      assert.deepEqual(
        row.participants.map((p) => [p.participantId, p.aor, p.name, p.sendsLabels]),
        c.participants.map((p) => [p.participantId, p.aor, p.name, p.sendsLabels]),
      );
      assert.deepEqual(row.streams, c.streams);
    }
    assert.equal(await db.recordings.get(bad.id), undefined);
    // The same id again is left alone, as one by one.
    await Promise.all([
      db.recordings.create({ ...calls[0]!, callId: 'other' }),
      db.recordings.create(call(50)),
    ]);
    assert.equal((await db.recordings.get(calls[0]!.id))?.callId, calls[0]!.callId);

    // Ends together: each row gets its own end; an unknown id fails alone with NotFoundError.
    const unknown = randomUUID();
    const ended = await Promise.allSettled([
      ...calls.map((c, i) =>
        db.recordings.markEnded(c.id, new Date(Date.UTC(2026, 0, 1, 0, 1, i)), 1000 + i, {
          legs: [{ legId: 'leg0', packetsReceived: 100 + i }],
        }),
      ),
      db.recordings.markEnded(unknown, new Date(), 5, null),
    ]);
    assert.deepEqual(
      ended.map((r) => r.status),
      [...calls.map(() => 'fulfilled'), 'rejected'],
    );
    assert.ok((ended.at(-1) as PromiseRejectedResult).reason instanceof NotFoundError);
    const r7 = await db.recordings.get(calls[7]!.id);
    assert.equal(r7?.durationMs, 1007);
    assert.equal(r7?.endedAt?.getTime(), Date.UTC(2026, 0, 1, 0, 1, 7));
    assert.deepEqual(r7?.mediaStats, { legs: [{ legId: 'leg0', packetsReceived: 107 }] });
  });
});
