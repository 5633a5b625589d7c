/**
 * A group's shorter retention among many older recordings kept by a longer one (real Postgres,
 * the real purge pass with a small batch): a pass looks at recordings due under their own
 * policy, so the sales calls past 30 days are purged however many older calls the default
 * keeps. Before, a pass took the oldest recordings past the shortest policy, kept them again (the
 * default keeps them), and never reached the sales calls behind them: once more calls than a
 * batch (1,000) were older than 30 days, sales recordings stayed forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { purgeOnce } from '../../src/pipeline/index.js';
import { addApiUser, startApiHarness, storeCallTo, type ApiHarness } from '../helpers/api-harness.js';

const log = createLogger('silent');
const DAY = 86_400_000;
const ago = (days: number) => ({ startedAt: new Date(Date.now() - days * DAY) });

describe('retention by group behind many kept recordings (real Postgres)', { timeout: 120_000 }, () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addApiUser(h, 'alice', { role: 'user', group: 'sales', numbers: ['1001'] });
    await addApiUser(h, 'vic', { role: 'user', group: 'vip', numbers: ['1002'] });
  });
  after(async () => {
    await h?.close();
  });

  it('purges the group’s due calls past a batch of older ones the default keeps', async () => {
    const kept: string[] = [];
    for (let i = 0; i < 5; i++) kept.push(await storeCallTo(h, '2999', ago(90 - i)));
    const vip = await storeCallTo(h, '1002', ago(80));
    const sales = [await storeCallTo(h, '1001', ago(45)), await storeCallTo(h, '1001', ago(40))];
    const young = await storeCallTo(h, '1001', ago(10));
    const policy = { default: 'keep', groups: { sales: '30d', vip: '60d' } };
    const purged: string[] = [];
    // Passes of two, as a busy catalogue's passes of 1,000.
    for (let pass = 0; pass < 4; pass++) {
      const r = await purgeOnce({ retention: h.db.retention, policy, dataDir: h.dataDir, log, batch: 2 });
      purged.push(...r.purged);
    }
    assert.deepEqual(purged.sort(), [vip, ...sales].sort());
    for (const id of [...kept, young]) assert.equal((await h.db.recordings.get(id))?.state, 'stored');
  });
});
