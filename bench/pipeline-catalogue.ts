/**
 * `npm run bench:catalogue`: the catalogue's search plans at scale. Fills a fresh embedded
 * Postgres (the real migrations) with BENCH_ROWS (default 10,000,000) synthetic recordings spread
 * over a year, then prints EXPLAIN (ANALYZE, BUFFERS) of the searches the API and CLI make: by
 * time range, by number within a time range, by Call-ID and by SIPREC session id. With
 * BENCH_PLANS_OUT=<file> the report is also written there (docs/catalogue-plans.md holds one).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { openDatabase } from '../src/store/db.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const log = createLogger('silent');

const QUERIES: { name: string; sql: string }[] = [
  {
    name: 'Time range (one hour, newest first, one page)',
    sql: `SELECT id, started_at, caller_number, callee_number, state FROM recordings
          WHERE started_at >= '2025-06-01 10:00Z' AND started_at < '2025-06-01 11:00Z'
          ORDER BY started_at DESC LIMIT 50`,
  },
  {
    name: 'Number (caller or callee) within a month, newest first',
    sql: `SELECT id, started_at, caller_number, callee_number FROM recordings
          WHERE (caller_number = '+4930200777' OR callee_number = '+4930200777')
            AND started_at >= '2025-06-01Z' AND started_at < '2025-07-01Z'
          ORDER BY started_at DESC LIMIT 50`,
  },
  {
    name: 'Call-ID',
    sql: `SELECT id, started_at, state FROM recordings WHERE call_id = 'call-4242424@pbx.example'`,
  },
  {
    name: 'SIPREC session id',
    sql: `SELECT id, started_at, state FROM recordings WHERE session_id = 'sess-4242424'`,
  },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-bench-catalogue-'));
  const out: string[] = [];
  const say = (s: string) => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  const db = await openDatabase({ dataDir: dir, log });
  try {
    const t0 = Date.now();
    // Insert in chunks (one transaction each) so progress shows and WAL stays bounded.
    const chunk = 1_000_000;
    for (let from = 0; from < ROWS; from += chunk) {
      const to = Math.min(ROWS, from + chunk);
      await db.pool.query(
        `INSERT INTO recordings (id, session_id, call_id, src_address, started_at, ended_at, duration_ms, state,
                                 direction, caller_number, caller_name, callee_number, callee_name, stored_at)
         SELECT gen_random_uuid(), 'sess-' || g, 'call-' || g || '@pbx.example', '192.0.2.' || (g % 250) || ':5060',
                ts, ts + make_interval(secs => 30 + g % 600), (30 + g % 600) * 1000, 'stored',
                (ARRAY['inbound', 'outbound', 'internal'])[1 + g % 3],
                '+49301' || lpad((g % 1000000)::text, 5, '0'), 'Caller ' || g % 1000,
                '+49302' || lpad(((g * 7) % 100000)::text, 5, '0'), 'Agent ' || g % 500, ts
         FROM generate_series($1::bigint, $2::bigint) AS g,
              LATERAL (SELECT '2025-01-01Z'::timestamptz + make_interval(secs => (g * 3.1536)::double precision)) AS t(ts)`,
        [from + 1, to],
      );
      process.stdout.write(
        `  ${to.toLocaleString('en')} rows (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
      );
    }
    await db.pool.query('VACUUM ANALYZE recordings');
    const size = await db.pool.query<{ t: string; i: string }>(
      `SELECT pg_size_pretty(pg_table_size('recordings')) AS t, pg_size_pretty(pg_indexes_size('recordings')) AS i`,
    );
    say(`# Catalogue search plans at ${ROWS.toLocaleString('en')} recordings`);
    say('');
    say(
      `Produced by \`BENCH_ROWS=${ROWS} npm run bench:catalogue\` on ${new Date().toISOString().slice(0, 10)} ` +
        `(embedded Postgres, migrations up to 007; table ${size.rows[0]?.t}, indexes ${size.rows[0]?.i}; ` +
        `load took ${((Date.now() - t0) / 1000).toFixed(0)} s).`,
    );
    for (const q of QUERIES) {
      // Warm once, then the measured plan.
      await db.pool.query(q.sql);
      const plan = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`);
      say('');
      say(`## ${q.name}`);
      say('');
      say('```sql');
      say(q.sql.replace(/\s+/g, ' ').trim());
      say('```');
      say('');
      say('```');
      for (const r of plan.rows) say(r['QUERY PLAN']);
      say('```');
    }
    if (process.env.BENCH_PLANS_OUT) await writeFile(process.env.BENCH_PLANS_OUT, out.join('\n') + '\n');
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
