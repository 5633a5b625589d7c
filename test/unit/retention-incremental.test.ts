/**
 * The purge pass between full searches (real Postgres, the real purge pass, its state kept as the
 * maintenance timer keeps it): after a full search a pass reads per policy only the recordings
 * that became due since, and still purges everything due: a call stored late (still being
 * finalized when the pass read past its start, or made later with an old start), more due calls
 * than a batch, a changed policy,
 * and, at the hourly full search, a preservation lifted behind the cursor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { purgeOnce, type RetentionPolicy } from '../../src/pipeline/index.js';
import type { RetentionRepository, SliceStart } from '../../src/store/retention.js';
import {
  addApiUser,
  endedCall,
  startApiHarness,
  storeCallTo,
  type ApiHarness,
} from '../helpers/api-harness.js';

const log = createLogger('silent');
const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('incremental retention passes (real Postgres)', { timeout: 120_000 }, () => {
  let h: ApiHarness;
  const T = Date.now();
  const at = (offsetMs: number) => new Date(T + offsetMs);
  /** What each pass read: the full search, or which policy's slice from where. */
  const reads: { full: number; slices: { ms: number; from: SliceStart }[] } = { full: 0, slices: [] };
  let repo: RetentionRepository;
  let state = { lockedUntil: new Map<string, number>() };
  const pass = async (now: Date, policy: RetentionPolicy, batch = 1000) => {
    reads.full = 0;
    reads.slices = [];
    return purgeOnce({ retention: repo, policy, dataDir: h.dataDir, log, now, batch, state });
  };
  const stateOf = async (id: string) => (await h.db.recordings.get(id))?.state;

  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addApiUser(h, 'alice', { role: 'user', group: 'sales', numbers: ['1001'] });
    await addApiUser(h, 'vic', { role: 'user', group: 'vip', numbers: ['1002'] });
    const real = h.db.retention;
    // The real repository, its two searches counted.
    repo = {
      ...real,
      candidates: (...a) => {
        reads.full++;
        return real.candidates(...a);
      },
      dueInSlice: (policy, ms, from, ...rest) => {
        reads.slices.push({ ms, from });
        return real.dueInSlice(policy, ms, from, ...rest);
      },
    };
  });
  after(async () => {
    await h?.close();
  });

  it('reads only what became due since the last pass, and purges all of it', async () => {
    const policy = { default: 'keep', groups: { sales: '30d', vip: '60d' } };
    const kept: string[] = [];
    for (let i = 0; i < 5; i++) kept.push(await storeCallTo(h, '2999', { startedAt: at(-(90 - i) * DAY) }));
    const oldSales = await storeCallTo(h, '1001', { startedAt: at(-45 * DAY) });
    const vip = await storeCallTo(h, '1002', { startedAt: at(-80 * DAY) });
    const vipKept = await storeCallTo(h, '1002', { startedAt: at(-45 * DAY) });
    // Due at the first pass but still being finalized then.
    const late = await endedCall(h, { caller: '1001', callee: '2999', startedAt: at(-40 * DAY) });
    const preserved = await storeCallTo(h, '1001', { startedAt: at(-50 * DAY) });
    await h.db.pool.query('UPDATE recordings SET preserved_at = now() WHERE id = $1', [preserved]);
    // Young at the first pass, due 35-45 minutes later (three of them, for passes of two).
    const young: string[] = [];
    for (const m of [35, 40, 45])
      young.push(await storeCallTo(h, '1001', { startedAt: at(-30 * DAY + (m * HOUR) / 60) }));

    // Its storing transaction began before the first pass and commits after it (stored_at is the
    // transaction's start): the first pass does not see it stored.
    const storing = await h.db.pool.connect();
    await storing.query('BEGIN');
    await storing.query(`UPDATE recordings SET state = 'stored', stored_at = now() WHERE id = $1`, [late]);
    await new Promise((r) => setTimeout(r, 50));
    const first = await pass(at(0), policy);
    await storing.query('COMMIT');
    storing.release();
    assert.equal(first.search, 'full');
    assert.equal(reads.full, 1);
    assert.deepEqual(first.purged.sort(), [oldSales, vip].sort());

    // Stored after the first pass read past its start; and one made after that pass with a start
    // 35 days ago (as from a spool found after a crash), stored as well.
    const stored = async (id: string) => {
      // As the pipeline's commit stores it (store_recording): stored_at is the storing transaction's.
      await h.db.recordings.markStored(id);
      await h.db.pool.query('UPDATE recordings SET stored_at = now() WHERE id = $1', [id]);
    };
    const recovered = await endedCall(h, { caller: '1001', callee: '2999', startedAt: at(-35 * DAY) });
    await stored(recovered);
    const second = await pass(at(HOUR / 4), policy);
    assert.equal(second.search, 'incremental');
    assert.equal(reads.full, 0, 'no full search between full searches');
    assert.deepEqual(second.purged.sort(), [late, recovered].sort());
    // Each slice began where the first pass left it.
    assert.equal(reads.slices.find((x) => x.ms === 30 * DAY)?.from.at, at(-30 * DAY).toISOString());
    assert.equal(reads.slices.find((x) => x.ms === 60 * DAY)?.from.at, at(-60 * DAY).toISOString());

    // Now the sales slice begins past every kept and purged call (where the last pass left it).
    const third = await pass(at(HOUR / 2), policy);
    assert.equal(third.search, 'incremental');
    assert.deepEqual(third.purged, []);
    const from = reads.slices.find((s) => s.ms === 30 * DAY)?.from;
    assert.equal(from?.at, at(HOUR / 4 - 30 * DAY).toISOString());

    // The three young calls due now: passes of two read on from the last one purged.
    const byTwo = [...(await pass(at((50 * HOUR) / 60), policy, 2)).purged];
    assert.equal(byTwo.length, 2);
    byTwo.push(...(await pass(at((55 * HOUR) / 60), policy, 2)).purged);
    assert.deepEqual(byTwo.sort(), [...young].sort());
    assert.equal(reads.full, 0);

    // The preservation lifted behind the cursor: purged at the next full search (within the hour).
    await h.db.pool.query('UPDATE recordings SET preserved_at = NULL WHERE id = $1', [preserved]);
    const lifted = await pass(at((61 * HOUR) / 60), policy);
    assert.equal(lifted.search, 'full', 'a full search at least every hour');
    assert.deepEqual(lifted.purged, [preserved]);

    // A changed policy is searched in full at once, also with the same durations as before: the
    // VIP call kept at 60 days is due at 30, long behind the 30-day cursor.
    const changed = await pass(at((62 * HOUR) / 60), {
      default: 'keep',
      groups: { sales: '60d', vip: '30d' },
    });
    assert.equal(changed.search, 'full');
    assert.deepEqual(changed.purged, [vipKept]);

    for (const id of kept) assert.equal(await stateOf(id), 'stored');
  });

  it('takes cursors only from a full search that found every due recording', async () => {
    state = { lockedUntil: new Map<string, number>() };
    const policy = { default: 'keep', groups: { sales: '30d' } };
    const due: string[] = [];
    for (const d of [50, 49, 48]) due.push(await storeCallTo(h, '1001', { startedAt: at(-d * DAY) }));
    const first = await pass(at(0), policy, 2);
    assert.equal(first.search, 'full');
    assert.equal(first.purged.length, 2);
    const second = await pass(at(HOUR / 12), policy, 2);
    assert.equal(second.search, 'full', 'the last search stopped at a full batch');
    assert.equal(second.purged.length, 1);
    assert.deepEqual([...first.purged, ...second.purged].sort(), due.sort());
    assert.equal((await pass(at(HOUR / 6), policy, 2)).search, 'incremental');
  });
});
