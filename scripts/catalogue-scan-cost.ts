/**
 * What the queries that run on a timer (not per call) cost once the catalogue is large: K stored
 * recordings (default 1,000,000; the sustained load stores 2.3 million a day), one live call, and
 * K completed finalize jobs in pg-boss's table (it keeps them 12 hours: a million at 23 calls a
 * second) with five queued, then the capacity refresh's query (every 2 s, BACKLOG_SQL in
 * src/store/jobs.ts) and the failed-finalize count (the console's job counts,
 * /metrics), timed and explained; then a retention pass's search for due recordings with `keep` as
 * the default and `sales=1d` (none of them in sales: it reads every recording older than a day),
 * and four purge passes five minutes apart with their state (the first a full search, the next
 * incremental); and a page of the recordings list and of the audit trail (K entries), with the
 * exact count and the count up to COUNT_UP_TO; and the keys list with two files per recording.
 * `npx tsx scripts/catalogue-scan-cost.ts [K]`; figures in docs/capacity.md.
 */
import { ensureQueue, startBoss } from '../src/pipeline/boss.js';
import { BACKLOG_SQL } from '../src/store/jobs.js';
import { policyInMs, purgeOnce } from '../src/pipeline/retention.js';
import { COUNT_UP_TO } from '../src/api/table.js';
import { failedFinalizes } from '../src/store/jobs.js';
import type { Principal } from '../src/store/user-model.js';
import { openDeliveryCatalogue, testLog as log } from '../test/helpers/delivery-catalogue.js';

const k = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(k) || k < 1) {
  console.error('usage: npx tsx scripts/catalogue-scan-cost.ts [recordings, default 1000000]');
  process.exit(2);
}
const catalogue = await openDeliveryCatalogue('srs-catalogue-scan-', 'scan passphrase', log);
const { db } = catalogue;
try {
  const t = Date.now();
  await db.pool.query(
    `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
     SELECT gen_random_uuid(), 'scan-' || i || '@pbx', '127.0.0.1:5060', s, s, 60000, 'stored', s
     FROM generate_series(1, $1::int) AS i,
          LATERAL (SELECT now() - interval '10 days' + make_interval(secs => i * (9.0 * 86400 / $1::int))) AS x (s)`,
    [k],
  );
  await db.pool.query(
    `INSERT INTO recordings (id, call_id, src_address, started_at, state)
     VALUES (gen_random_uuid(), 'live@pbx', '127.0.0.1:5060', now(), 'recording')`,
  );
  // The last 15 minutes at the sustained load (17 one-minute calls a second): what a retention pass
  // reads again among the recently stored.
  await db.pool.query(
    `INSERT INTO recordings (id, call_id, src_address, started_at, ended_at, duration_ms, state, stored_at)
     SELECT gen_random_uuid(), 'recent-' || i || '@pbx', '127.0.0.1:5060', s - interval '1 minute', s, 60000, 'stored', s
     FROM generate_series(1, 15300) AS i, LATERAL (SELECT now() - make_interval(secs => i / 17.0)) AS x (s)`,
  );
  const { boss } = await startBoss(db.pool, log);
  const queue = 'finalize-recording.scan';
  await ensureQueue(boss, queue, { name: queue });
  await db.pool.query(
    `INSERT INTO pgboss.job (id, name, state, data, completed_on)
     SELECT gen_random_uuid(), $2, 'completed', '{}'::jsonb, now() FROM generate_series(1, $1::int)`,
    [k, queue],
  );
  await db.pool.query(
    `INSERT INTO pgboss.job (id, name, state, data) SELECT gen_random_uuid(), $1, 'created', '{}'::jsonb
     FROM generate_series(1, 5)`,
    [queue],
  );
  await boss.stop({ graceful: false, wait: true });
  await db.pool.query('ANALYZE recordings');
  await db.pool.query('ANALYZE pgboss.job');
  console.log(
    `${k} stored recordings and a live one put in the catalogue in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const OLDEST = `SELECT min(started_at) AS m FROM recordings WHERE state IN ('recording', 'processing')`;
  for (let i = 1; i <= 3; i++) {
    let t0 = performance.now();
    await db.pool.query(OLDEST);
    const oldest = performance.now() - t0;
    t0 = performance.now();
    await db.pool.query(BACKLOG_SQL, [queue]);
    const backlog = performance.now() - t0;
    t0 = performance.now();
    await failedFinalizes(db.pool);
    const failed = performance.now() - t0;
    console.log(
      `round ${i}: oldest spool ${oldest.toFixed(1)} ms, the whole capacity refresh ${backlog.toFixed(1)} ms, failed finalizes ${failed.toFixed(1)} ms`,
    );
  }
  const plan = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${BACKLOG_SQL}`, [queue]);
  console.log(plan.rows.map((r) => `  ${r['QUERY PLAN']}`).join('\n'));
  // A page of the recordings list and of the audit trail, as the console asks (every view): the
  // count up to COUNT_UP_TO (the default) and the exact count (count=exact), with K audit entries.
  const t1 = Date.now();
  await db.pool.query(
    `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
     SELECT 'admin', 'admin', '127.0.0.1', 'session', 'playback', 'recording', gen_random_uuid()::text, '{}'::jsonb
     FROM generate_series(1, $1::int)`,
    [k],
  );
  await db.pool.query('VACUUM ANALYZE audit');
  console.log(`${k} audit entries added in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  const admin: Principal = {
    userId: null,
    username: 'admin',
    role: 'admin',
    groups: [],
    numbers: [],
    via: 'session',
  };
  const lists: [string, (upTo: number | undefined) => Promise<{ total: number }>][] = [
    ['recordings list, all', (upTo) => db.access.search(admin, { limit: 50, countUpTo: upTo })],
    [
      'recordings list, the last 2 days',
      (upTo) =>
        db.access.search(admin, { from: new Date(Date.now() - 2 * 86_400_000), limit: 50, countUpTo: upTo }),
    ],
    ['audit list, all', (upTo) => db.audit.search({ limit: 50, countUpTo: upTo })],
  ];
  for (const [name, list] of lists) {
    for (const [how, upTo] of [
      ['exact count', undefined],
      [`count up to ${COUNT_UP_TO}`, COUNT_UP_TO],
    ] as const) {
      const ms: number[] = [];
      let total = 0;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        total = (await list(upTo)).total;
        ms.push(performance.now() - t0);
      }
      console.log(`${name}, ${how}: ${ms.map((x) => x.toFixed(1)).join(', ')} ms a page (total ${total})`);
    }
  }
  // The keys page (GET /keys, every 2 s while a key is re-encrypted): two files per recording
  // under the active key; each key's count as kept by migration 046, and as counted before it.
  const fp = (await db.keys.list())[0]?.fingerprint;
  await db.pool.query(
    `INSERT INTO files (recording_id, kind, path, bytes, sha256_plain, sha256_cipher, key_fingerprint)
     SELECT r.id, kd, r.id || kd, 1, 'p', 'c', $1 FROM recordings r, unnest(ARRAY['wav', 'mp3']) kd
     WHERE r.state = 'stored'`,
    [fp],
  );
  await db.pool.query('VACUUM ANALYZE files');
  for (const [how, read] of [
    [
      'counted at the read (before)',
      () =>
        db.pool.query(
          'SELECT k.fingerprint, (SELECT count(*) FROM files f WHERE f.key_fingerprint = k.fingerprint) FROM keys k',
        ),
    ],
    ['kept as files change', () => db.keys.list()],
  ] as const) {
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await read();
      ms.push(performance.now() - t0);
    }
    console.log(`keys list, file counts ${how}: ${ms.map((x) => x.toFixed(1)).join(', ')} ms`);
  }
  const policy = { default: 'keep', groups: { sales: '1d' } };
  const retention = policyInMs(policy);
  for (let i = 1; i <= 3; i++) {
    const t0 = performance.now();
    const due = await db.retention.candidates(retention, new Date(), 1000);
    console.log(
      `retention full search ${i}: due recordings found in ${(performance.now() - t0).toFixed(0)} ms (${due.length} due)`,
    );
  }
  // The purge passes as a node runs them (its state kept between passes, every 5 minutes): the
  // first searches in full, the next read only what became due since (src/pipeline/retention-scan.ts).
  const state = { lockedUntil: new Map<string, number>() };
  const start = Date.now();
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const r = await purgeOnce({
      retention: db.retention,
      policy,
      dataDir: catalogue.dataDir,
      log,
      state,
      now: new Date(start + i * 300_000),
    });
    console.log(
      `retention pass ${i + 1} (+${i * 5} min): ${r.search} search, ${(performance.now() - t0).toFixed(1)} ms, ${r.purged.length} purged`,
    );
  }
  const t2 = performance.now();
  await db.retention.recentlyPurgedFiles(new Date(Date.now() - 86_400_000));
  console.log(
    `of which the files of the recordings purged in the last day: ${(performance.now() - t2).toFixed(1)} ms`,
  );
} finally {
  await catalogue.close();
}
