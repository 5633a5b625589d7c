/**
 * Plaintext spools that retention cannot purge are made visible (the real server, `srs serve`,
 * SRS_RETENTION=1h, a pass every 5 s; the recordings are written straight into its catalogue as a
 * store outage of days, or a finalize that gave up, would have left them):
 * - `srs_oldest_plaintext_spool_seconds` counts a failed recording whose spool is on this node's
 *   disk (finalize gave up: its spool stays); one whose spool is not here does not count;
 * - a recording past its retention still `processing` (its finalize waits for the store), or
 *   `recording` with its call ended, is not purged but logged and audited once
 *   (`retention.overdue`, however many passes see it), and counted in
 *   `srs_retention_overdue_unstored_recordings`; younger, preserved or still-live ones are not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY_S = 86_400;

describe('retention: unpurgeable plaintext spools are reported', { timeout: 180000 }, () => {
  let server: TestServer;
  let db: Database;

  const metric = async (name: string): Promise<number> => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(await r.text());
    return m ? Number(m[1]) : NaN;
  };
  /** A recording row as a store outage or a failed finalize leaves it; its id. */
  const insert = async (o: {
    state: string;
    startedDaysAgo: number;
    ended: boolean;
    preserved?: boolean;
    spool?: boolean;
  }): Promise<string> => {
    const id = randomUUID();
    await db.pool.query(
      `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, preserved_at)
       VALUES ($1, $2, '127.0.0.1:5060', now() - $3 * interval '1 day',
               CASE WHEN $4 THEN now() - $3 * interval '1 day' + interval '1 minute' END,
               CASE WHEN $4 THEN 60000 END, $5, CASE WHEN $6 THEN now() END)`,
      [id, `${id}@pbx`, o.startedDaysAgo, o.ended, o.state, o.preserved ?? false],
    );
    if (o.spool) {
      await mkdir(join(server.dataDir, 'spool', id), { recursive: true });
      await writeFile(join(server.dataDir, 'spool', id, 'leg0.spool'), Buffer.alloc(8000, 0x7f));
    }
    return id;
  };
  const audited = async (id: string) =>
    (
      await db.pool.query<{ details: Record<string, unknown> }>(
        `SELECT details FROM audit WHERE action = 'retention.overdue' AND resource_id = $1`,
        [id],
      )
    ).rows;
  const state = async (id: string) =>
    (await db.pool.query<{ state: string }>('SELECT state FROM recordings WHERE id = $1', [id])).rows[0]
      ?.state;
  const until = async (what: string, cond: () => Promise<boolean>, ms = 20000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}\n${server.output().slice(-2000)}`);
      await sleep(200);
    }
  };

  before(async () => {
    server = await startTestServer({ SRS_RETENTION: '1h', SRS_PURGE_INTERVAL: '5' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    db = await openDatabase({ dataDir: server.dataDir, log: createLogger('silent') });
  });
  after(async () => {
    await db?.close();
    await server?.stop();
  });

  it('the oldest plaintext spool counts a failed recording whose spool is on this node', async () => {
    assert.equal(await metric('srs_oldest_plaintext_spool_seconds'), 0, 'nothing unstored yet');
    // Preserved, so that retention keeps them (and their spools) while the metric is read.
    await insert({ state: 'failed', startedDaysAgo: 3, ended: true, preserved: true, spool: true });
    // Older, but its spool is not on this node's disk: not plaintext here.
    await insert({ state: 'failed', startedDaysAgo: 5, ended: true, preserved: true });
    let age = 0;
    await until('the metric to count the failed spool', async () => {
      age = await metric('srs_oldest_plaintext_spool_seconds');
      return age > 0;
    });
    assert.ok(age >= 3 * DAY_S - 60 && age < 3 * DAY_S + 600, `3 days, not 5: ${age} s`);
  });

  it('reports once each recording past its retention still processing or recording-but-ended, purges none', async () => {
    const processing = await insert({ state: 'processing', startedDaysAgo: 2, ended: true, spool: true });
    const ended = await insert({ state: 'recording', startedDaysAgo: 2, ended: true });
    const live = await insert({ state: 'recording', startedDaysAgo: 2, ended: false });
    const young = await insert({ state: 'processing', startedDaysAgo: 0.01, ended: true });
    const held = await insert({ state: 'processing', startedDaysAgo: 2, ended: true, preserved: true });

    await until('both overdue recordings audited', async () => {
      return (await audited(processing)).length > 0 && (await audited(ended)).length > 0;
    });
    // Several more passes (every 5 s): still one entry each.
    await sleep(12000);
    const [p] = await audited(processing);
    assert.equal((await audited(processing)).length, 1, 'audited once');
    assert.equal((await audited(ended)).length, 1, 'audited once');
    assert.equal(p?.details.state, 'processing');
    assert.equal(p?.details.policy, '1h');
    assert.equal((await audited(ended))[0]?.details.state, 'recording');
    for (const id of [live, young, held]) assert.equal((await audited(id)).length, 0, `${id} not reported`);
    assert.equal(await metric('srs_retention_overdue_unstored_recordings'), 2);
    // Logged once per recording too.
    const lines = (id: string) =>
      server
        .output()
        .split('\n')
        .filter((l) => l.includes(id) && l.includes('past its retention')).length;
    assert.equal(lines(processing), 1);
    assert.equal(lines(ended), 1);
    // Not purged: its job may still store it.
    assert.equal(await state(processing), 'processing');
    assert.equal(await state(ended), 'recording');
    assert.ok((await stat(join(server.dataDir, 'spool', processing, 'leg0.spool'))).size > 0, 'spool kept');
  });
});
