/**
 * Checking a day's hash chain while recordings of that day are being stored (real embedded
 * Postgres, the pipeline's store function): the check reads the day's entries, its anchor in the
 * audit trail and the stored recordings as one snapshot, so a recording stored between two of its
 * reads is never reported as removed entries, a missing anchor or a recording missing from the
 * chain. A busy day is the normal case for `srs recordings verify` and the integrity API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChainProblem } from '../../src/store/chain.js';
import { endedCall, startApiHarness, type ApiHarness } from '../helpers/api-harness.js';

const DAY = '2026-01-15';

describe("a day's chain checked while it grows (real Postgres)", { timeout: 120000 }, () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  const store = async (i: number) => {
    const startedAt = new Date(Date.parse(`${DAY}T10:00:00Z`) + i * 1000);
    const id = await endedCall(h, { caller: '1001', callee: '+15550100', startedAt });
    assert.equal(await h.db.chain.markStoredChained(id, []), true);
  };

  it('finds nothing wrong on a day being appended to by two writers', async () => {
    const total = 240;
    let next = 0;
    let done = false;
    const writer = async () => {
      while (next < total) await store(next++);
    };
    const writers = Promise.all([writer(), writer()]).finally(() => {
      done = true;
    });
    const found: ChainProblem[] = [];
    let checks = 0;
    while (!done) {
      const r = await h.db.chain.verifyChain([DAY]);
      checks++;
      found.push(...r.problems);
    }
    await writers;
    const last = await h.db.chain.verifyChain([DAY]);
    assert.equal(last.entries, total);
    assert.deepEqual(last.problems, []);
    // Enough checks overlapped the appends for a two-read check to have been caught between them.
    assert.ok(checks >= 20, `only ${checks} checks ran during the appends`);
    assert.deepEqual(
      found.map((p) => `${p.seq}: ${p.problem}`).slice(0, 5),
      [],
      `${found.length} false findings in ${checks} checks`,
    );
  });
});
