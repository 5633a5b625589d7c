import { createHash } from 'node:crypto';
import type pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from '../log.js';

/** pg-boss on the catalogue's pool, with its statements prepared and tracked. */

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
 * A started pg-boss (its own schema, `pgboss`) sharing `pool`: no second set of connections, and
 * the same database either way. `inFlight` holds its statements still running: a worker's fetch
 * can return a job after stop() began, and its complete/fail after a handler is not awaited.
 */
export async function startBoss(
  pool: Pick<pg.Pool, 'query'>,
  log: Logger,
): Promise<{ boss: PgBoss; inFlight: Set<Promise<unknown>> }> {
  const inFlight = new Set<Promise<unknown>>();
  const boss = new PgBoss({
    db: {
      executeSql: (text, values) => {
        const q = pool.query(pgBossStatement(text, values));
        inFlight.add(q);
        const forget = (): void => void inFlight.delete(q);
        q.then(forget, forget);
        return q;
      },
    },
    schema: 'pgboss',
    schedule: false,
    supervise: true,
    migrate: true,
  });
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();
  // The capacity refresh counts the unfinished jobs of the finalize queue every 2 s; pg-boss keeps
  // completed jobs in the same table for 12 hours (a million at the sustained load), which that
  // count scanned every time (76-78 ms): an index of the unfinished ones alone. On the partitioned
  // table, so every queue's partition has it, also one created later; made again after a pg-boss
  // upgrade that rebuilds its tables.
  await pool.query(
    `CREATE INDEX IF NOT EXISTS srs_job_unfinished_idx ON pgboss.job (name, state)
     WHERE state IN ('created', 'retry', 'active')`,
  );
  return { boss, inFlight };
}

/** Creates the queue unless it exists (losing the race to create it with another node is fine). */
export async function ensureQueue(boss: PgBoss, name: string, options: PgBoss.Queue): Promise<void> {
  if (await boss.getQueue(name)) return;
  await boss.createQueue(name, options).catch(async (err: unknown) => {
    if (!(await boss.getQueue(name))) throw err;
  });
}
