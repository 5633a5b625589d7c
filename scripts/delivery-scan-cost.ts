/**
 * What each pass of the per-recording deliveries costs in the database once a recorder has run
 * for a while: K recordings stored over the last two days since the features were enabled, all
 * already exported (both destinations), journaled and notified, then a few passes' worth of the
 * queries each pass runs to find its work (exportDue per destination, journalDue,
 * notificationsDue), and what a /metrics scrape and the console's Delivery page read, timed. `npx tsx scripts/delivery-scan-cost.ts [K]` (default 500000); figures
 * in docs/delivery.md. At the sustained load (27 calls a second) a day adds 2.3 million.
 */
import { openDeliveryCatalogue, testLog as log } from '../test/helpers/delivery-catalogue.js';

const k = Number(process.argv[2] ?? 500_000);
if (!Number.isInteger(k) || k < 1) {
  console.error('usage: npx tsx scripts/delivery-scan-cost.ts [recordings, default 500000]');
  process.exit(2);
}
const catalogue = await openDeliveryCatalogue('srs-scan-cost-', 'scan cost passphrase', log);
const { db } = catalogue;
try {
  for (const n of ['export', 'journal', 'notifications']) await db.offload.cursor(n);
  await db.pool.query(`UPDATE delivery_cursors SET since = now() - interval '3 days'`);
  const t = Date.now();
  await db.pool.query(
    `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
     SELECT gen_random_uuid(), 'scan-' || i || '@pbx', '127.0.0.1:5060', s, s, 60000, 'stored', s
     FROM generate_series(1, $1::int) AS i, LATERAL (SELECT now() - interval '2 days' + make_interval(secs => i * (1.5 * 86400 / $1::int))) AS x(s)`,
    [k],
  );
  for (const dest of ['primary', 'secondary'])
    await db.pool.query(
      `INSERT INTO export_items (recording_id, destination, state, path, day, attempts, exported_at)
       SELECT id, $1, 'done', id || '.mp3', (started_at AT TIME ZONE 'UTC')::date, 1, stored_at FROM recordings`,
      [dest],
    );
  await db.pool.query(
    `INSERT INTO journal_messages (recording_id, state, sent_at) SELECT id, 'sent', stored_at FROM recordings`,
  );
  await db.pool.query('ANALYZE');
  console.log(
    `${k} recordings, exported, journaled, put in the catalogue in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const since = await db.offload.cursor('export');
  const ms = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  for (let pass = 1; pass <= 4; pass++) {
    const e = await ms(() => db.offload.exportDue('primary', since, 200));
    const e2 = await ms(() => db.offload.exportDue('secondary', since, 200));
    const j = await ms(() => db.offload.journalDue(since, 50));
    const n = await ms(() => db.offload.notificationsDue(since, 50));
    const m = await ms(() =>
      db.offload.deliveryMetrics({
        offload: true,
        targets: [],
        exportTo: ['primary', 'secondary'],
        notifications: true,
        journal: true,
      }),
    );
    const st = await ms(() => db.offload.status());
    console.log(
      `pass ${pass}: metrics ${m.toFixed(0)} ms, the console's delivery status ${st.toFixed(0)} ms; exportDue ${e.toFixed(0)} ms (primary), ${e2.toFixed(0)} ms (secondary); journalDue ${j.toFixed(0)} ms; notificationsDue ${n.toFixed(0)} ms`,
    );
  }
} finally {
  await catalogue.close();
}
