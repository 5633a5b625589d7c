import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * pg-boss's database side: the schema it keeps its tables in, the statements it runs on the
 * catalogue's pool (prepared and tracked), and the index this project adds to its job table.
 * src/pipeline/boss.ts starts pg-boss on them; the reads of its job table are in jobs.ts.
 */

/** pg-boss's schema in the catalogue database. */
export const JOB_SCHEMA = 'pgboss';

/** Names of pg-boss's parameterised statements (a few fixed texts), by text. */
const statementNames = new Map<string, string>();

/**
 * pg-boss's statement as a named (prepared) one: planned once per connection instead of at every
 * job (its job table is partitioned, so planning cost more than running the fetch, the complete
 * and the insert of each job). Only statements with parameters (one command each); 100 texts at most.
 */
function pgBossStatement(text: string, values?: unknown[]): pg.QueryConfig {
  if (!values || values.length === 0) return { text, values };
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < 100) {
    name = `pgboss-${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/**
 * The database pg-boss is given (its `db` option): its statements run on `pool`, so it opens no
 * second set of connections and uses the same database either way. `inFlight` holds its statements
 * still running: a worker's fetch can return a job after stop() began, and its complete/fail after
 * a handler is not awaited.
 */
export function jobQueueDb(pool: Pick<pg.Pool, 'query'>): {
  db: { executeSql(text: string, values?: unknown[]): Promise<pg.QueryResult> };
  inFlight: Set<Promise<unknown>>;
} {
  const inFlight = new Set<Promise<unknown>>();
  return {
    db: {
      executeSql: (text, values) => {
        const q = pool.query(pgBossStatement(text, values));
        inFlight.add(q);
        const forget = (): void => void inFlight.delete(q);
        q.then(forget, forget);
        return q;
      },
    },
    inFlight,
  };
}

/**
 * The capacity refresh counts the unfinished jobs of the finalize queue every 2 s; pg-boss keeps
 * completed jobs in the same table for 12 hours (a million at the sustained load), which that
 * count scanned every time (76-78 ms): an index of the unfinished ones alone. On the partitioned
 * table, so every queue's partition has it, also one created later; made again after a pg-boss
 * upgrade that rebuilds its tables. Run after pg-boss has started (its tables exist).
 */
export async function ensureJobIndexes(pool: Pick<pg.Pool, 'query'>): Promise<void> {
  await pool.query(
    `CREATE INDEX IF NOT EXISTS srs_job_unfinished_idx ON ${JOB_SCHEMA}.job (name, state)
     WHERE state IN ('created', 'retry', 'active')`,
  );
}
