/**
 * Reports over the real HTTP API and a real embedded Postgres: recordings counted and timed per
 * day (in a time zone), per user and per group, each within the caller's scope (an admin sees
 * every recording and the ones no user took part in, a user their own, a supervisor their
 * groups'); a date range; CSV; bad parameters refused with the reason.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createApiUsers,
  parseCsv,
  startApiHarness,
  storeApiRecordings,
  type ApiHarness,
} from '../helpers/api-harness.js';

interface Row {
  key: string | null;
  calls: number;
  totalSeconds: number;
  averageSeconds: number;
  longestSeconds: number;
}

describe('reports (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  let ids: { r1: string; r2: string; r3: string };
  const report = async (query: string, as = 'admin') => {
    const r = await h.call('GET', `/api/v1/reports?${query}`, { as });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as { rows: Row[]; total: Omit<Row, 'key'>; timeZone: string };
  };
  const keys = (rows: Row[]) => rows.map((r) => [r.key, r.calls, r.totalSeconds]);

  before(async () => {
    h = await startApiHarness();
    // r1 alice<->carol 60 s at 10:00Z, r2 bob<->dave 120 s at 11:00Z (2026-03-01), and r3 between
    // two numbers no user has, 30 s the next day at 23:30Z.
    const stored = await storeApiRecordings(h);
    const id = randomUUID();
    ids = { ...stored.ids, r3: id };
    await h.db.recordings.create({
      id,
      sessionId: 'sess-eve',
      callId: 'call-eve@pbx',
      srcAddress: '127.0.0.1:5070',
      startedAt: new Date('2026-03-02T23:30:00Z'),
      participants: [
        { participantId: 'p1', aor: 'sip:eve@example.com', name: 'Eve', sendsLabels: ['1'] },
        { participantId: 'p2', aor: 'sip:frank@example.com', name: 'Frank', sendsLabels: ['2'] },
      ],
      streams: [],
      metadataXml: null,
    });
    await h.db.recordings.markEnded(id, new Date('2026-03-02T23:30:30Z'), 30_000, null);
    await h.db.recordings.markStored(id);
    await createApiUsers(h);
  });

  after(async () => {
    await h?.close();
  });

  it('counts per day, in UTC or the time zone asked for', async () => {
    const utc = await report('by=day');
    assert.deepEqual(utc.rows, [
      { key: '2026-03-01', calls: 2, totalSeconds: 180, averageSeconds: 90, longestSeconds: 120 },
      { key: '2026-03-02', calls: 1, totalSeconds: 30, averageSeconds: 30, longestSeconds: 30 },
    ]);
    assert.deepEqual(utc.total, { calls: 3, totalSeconds: 210, averageSeconds: 70, longestSeconds: 120 });
    // UTC+14: 10:00Z and 11:00Z are the next day there, 23:30Z the day after.
    assert.deepEqual(keys((await report('by=day&tz=Pacific/Kiritimati')).rows), [
      ['2026-03-02', 2, 180],
      ['2026-03-03', 1, 30],
    ]);
    // Zone names old and new (browsers send either), as Postgres knows them.
    for (const tz of ['Asia/Kolkata', 'Asia/Calcutta', 'Europe/Kyiv', 'Etc/UTC'])
      assert.equal((await report(`by=day&tz=${encodeURIComponent(tz)}`)).timeZone, tz);
    assert.deepEqual(keys((await report('by=day&from=2026-03-01T10:30:00Z&to=2026-03-02T00:00:00Z')).rows), [
      ['2026-03-01', 1, 120],
    ]);
  });

  it('counts per user and per group within each caller’s scope', async () => {
    assert.deepEqual(keys((await report('by=user')).rows), [
      ['alice', 1, 60],
      ['bob', 1, 120],
      [null, 1, 30],
    ]);
    assert.deepEqual(keys((await report('by=group')).rows), [
      ['sales', 1, 60],
      ['support', 1, 120],
      [null, 1, 30],
    ]);
    const alice = await report('by=user', 'alice');
    assert.deepEqual(keys(alice.rows), [['alice', 1, 60]]);
    assert.equal(alice.total.calls, 1);
    assert.deepEqual(keys((await report('by=group', 'sup')).rows), [['sales', 1, 60]]);
    assert.deepEqual(keys((await report('by=day', 'bob')).rows), [['2026-03-01', 1, 120]]);
    const rec = await h.call('GET', '/api/v1/reports?by=day', { as: 'rec' });
    assert.equal(rec.status, 403);
  });

  it('lists the recordings behind a user row, and those of no user (owner=)', async () => {
    const listed = async (query: string, as = 'admin') =>
      ((await h.call('GET', `/api/v1/recordings?${query}`, { as })).json.items as { id: string }[]).map(
        (i) => i.id,
      );
    assert.deepEqual(await listed('owner=none'), [ids.r3]);
    assert.deepEqual(await listed('owner=alice'), [ids.r1]);
    assert.deepEqual(await listed('owner=bob'), [ids.r2]);
    assert.deepEqual(await listed('owner=nobody-of-that-name'), []);
    assert.deepEqual(await listed('owner=none', 'alice'), [], 'a user sees only their own');
    assert.deepEqual(await listed('owner=bob', 'sup'), [], 'not in the supervisor’s groups');
    assert.deepEqual(await listed('owner=alice', 'sup'), [ids.r1]);
  });

  it('downloads CSV and refuses bad parameters with the reason', async () => {
    const csv = await h.call('GET', '/api/v1/reports?by=group&format=csv', { as: 'admin' });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-disposition') ?? '', /recordings-by-group\.csv/);
    assert.deepEqual(parseCsv(csv.buf.toString('utf8').replace(/^\uFEFF/, '')), [
      ['group', 'calls', 'total_s', 'average_s', 'longest_s'],
      ['sales', '1', '60', '60', '60'],
      ['support', '1', '120', '120', '120'],
      ['(no group)', '1', '30', '30', '30'],
      ['total', '3', '210', '70', '120'],
    ]);
    const bad: [string, RegExp][] = [
      ['', /^by: one of day, user, group/],
      ['by=week', /^by: one of day, user, group/],
      ['by=day&tz=Mars/Olympus', /tz: "Mars\/Olympus" is not a time zone/],
      ['by=day&from=2026-03-02&to=2026-03-01', /from: must be before to/],
      ['by=day&from=yesterday', /^from: not a date/],
      ['by=day&format=pdf', /^format: json or csv/],
    ];
    for (const [q, message] of bad) {
      const r = await h.call('GET', `/api/v1/reports?${q}`, { as: 'admin' });
      assert.equal(r.status, 400, q);
      assert.match(r.json.error, message, q);
    }
  });
});
