/**
 * The per-recording deliveries' scans for new stored recordings (migration 043), against a real
 * Postgres: a pass scans from where the last one left off instead of from the feature's start,
 * and nothing is missed on the way: recordings beyond a pass's batch, retries of any age, and a
 * recording whose storing transaction committed minutes after it began.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  openDeliveryCatalogue,
  testLog as log,
  type DeliveryCatalogue,
} from '../helpers/delivery-catalogue.js';

describe('delivery scans for new recordings', { timeout: 120_000 }, () => {
  let catalogue: DeliveryCatalogue;
  before(async () => {
    catalogue = await openDeliveryCatalogue('srs-delivery-scan-', 'scan passphrase', log);
  });
  after(async () => {
    await catalogue?.close();
  });

  /** Stores `n` short recordings whose storing began `minutesAgo` minutes ago (in that order). */
  const storeAged = async (n: number, minutesAgo: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { id } = await catalogue.store('1001', `4930555${i}`, 1, 500);
      await catalogue.db.pool.query(
        `UPDATE recordings SET stored_at = now() - make_interval(mins => $2::int) + make_interval(secs => $3::int)
         WHERE id = $1`,
        [id, minutesAgo, i],
      );
      ids.push(id);
    }
    return ids;
  };
  const scannedTo = async (name: string) =>
    (
      await catalogue.db.pool.query<{ t: Date }>(
        'SELECT scanned_to AS t FROM delivery_scans WHERE name = $1',
        [name],
      )
    ).rows[0]?.t;

  it('export: every recording once over passes smaller than the backlog, and a retry of any age', async () => {
    const { db } = catalogue;
    await db.offload.cursor('export');
    await db.pool.query(`UPDATE delivery_cursors SET since = now() - interval '1 day' WHERE name = 'export'`);
    const since = await db.offload.cursor('export');
    // Five recordings stored an hour ago, long before the scan's margin: a pass takes two.
    const ids = await storeAged(5, 60);
    const seen: string[] = [];
    for (let pass = 0; pass < 5; pass++) {
      const due = await db.offload.exportDue('primary', since, 2);
      if (due.length === 0) break;
      for (const d of due) {
        seen.push(d.id);
        await db.offload.exportPath(d.id, 'primary', `${d.id}.mp3`, '2026-12-06');
        await db.offload.exportDone(d.id, 'primary', { bytes: 1, sha256: 'x', indexRow: {}, target: 't' });
      }
    }
    assert.deepEqual(seen, ids, 'each once, oldest first, none skipped by the scan moving on');
    const to = await scannedTo('export:primary');
    assert.ok(to && to.getTime() > Date.now() - 11 * 60_000, `the scan moved on (${to?.toISOString()})`);
    assert.deepEqual(await db.offload.exportDue('primary', since, 2), []);

    // A failed attempt waits for its retry, which comes whatever the scan's position.
    const [late] = await storeAged(1, 0);
    assert.ok(late);
    assert.deepEqual(
      (await db.offload.exportDue('primary', since, 10)).map((d) => d.id),
      [late],
    );
    await db.offload.exportFailed(late, 'primary', 'destination said no', new Date(Date.now() - 1000), false);
    await db.pool.query(
      `UPDATE delivery_scans SET scanned_to = now() + interval '1 minute' WHERE name = 'export:primary'`,
    );
    const retry = await db.offload.exportDue('primary', since, 10);
    assert.deepEqual(
      retry.map((d) => [d.id, d.attempts]),
      [[late, 1]],
      'the retry comes from the pending item',
    );
  });

  it('journal: a pass scans from the last one on, and still sees a recording whose storing began minutes before', async () => {
    const { db } = catalogue;
    await db.offload.cursor('journal');
    await db.pool.query(
      `UPDATE delivery_cursors SET since = now() - interval '1 day' WHERE name = 'journal'`,
    );
    const since = await db.offload.cursor('journal');
    const first = await storeAged(2, 0);
    // The first pass scans from the cursor: the other test's recordings are due too.
    const due = (await db.offload.journalDue(since, 50)).map((x) => x.recordingId);
    assert.ok(first.every((id) => due.includes(id)));
    for (const id of due) await db.offload.journalSent(id, { messageId: '<m>', bytes: 1, to: 'j@x' });
    const to = await scannedTo('journal');
    assert.ok(to, 'the scan recorded its position');
    // Committed now, but its transaction began 5 minutes ago (stored_at is that start).
    const [slow] = await storeAged(1, 5);
    assert.deepEqual(
      (await db.offload.journalDue(since, 50)).map((x) => x.recordingId),
      [slow],
      'within the scan’s 10-minute margin',
    );
  });

  it('the per-state counts the Delivery page and /metrics read follow every change of the tables', async () => {
    const { db } = catalogue;
    const kept = async () =>
      (
        await db.pool.query<{ kind: string; state: string; n: string }>(
          `SELECT kind, state, n FROM delivery_counts WHERE n <> 0 ORDER BY kind, state`,
        )
      ).rows.map((r) => `${r.kind} ${r.state} ${r.n}`);
    const counted = async () =>
      (
        await db.pool.query<{ kind: string; state: string; n: string }>(
          `SELECT kind, state, n FROM (
             SELECT 'export:' || destination AS kind, state, count(*) AS n FROM export_items GROUP BY 1, 2
             UNION ALL SELECT 'notifications', state, count(*) FROM notifications GROUP BY 2
             UNION ALL SELECT 'journal', state, count(*) FROM journal_messages GROUP BY 2) x
           ORDER BY kind, state`,
        )
      ).rows.map((r) => `${r.kind} ${r.state} ${r.n}`);
    // After the passes above (items made, done, failed, retried; messages queued and sent).
    assert.ok((await counted()).length >= 3);
    assert.deepEqual(await kept(), await counted());
    // A recording deleted (its delivery rows go with it), an item moved between destinations.
    const victim = (
      await db.pool.query<{ id: string }>(
        `SELECT recording_id AS id FROM export_items WHERE state = 'done' ORDER BY recording_id LIMIT 1`,
      )
    ).rows[0]?.id;
    assert.ok(victim);
    await db.pool.query('DELETE FROM export_items WHERE recording_id = $1', [victim]);
    await db.pool.query('DELETE FROM journal_messages WHERE recording_id = $1', [victim]);
    await db.pool.query(
      `UPDATE export_items SET destination = 'secondary', state = 'failed' WHERE recording_id =
         (SELECT recording_id FROM export_items WHERE state = 'done' ORDER BY recording_id LIMIT 1)`,
    );
    assert.deepEqual(await kept(), await counted());
    const status = await db.offload.status();
    assert.equal(
      status.export.done + status.export.failed + status.export.pending,
      Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM export_items')).rows[0]?.n),
    );
  });
});
