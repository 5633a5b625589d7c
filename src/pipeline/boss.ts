import PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import type { Database } from '../store/db.js';
import { ensureJobIndexes, JOB_SCHEMA, jobQueueDb } from '../store/job-queue.js';

/**
 * A started pg-boss (its own schema, `pgboss`) sharing the catalogue's pool: its statements run
 * through src/store/job-queue.ts (prepared, and tracked in `inFlight`: a worker's fetch can return
 * a job after stop() began, and its complete/fail after a handler is not awaited), and the index
 * of the unfinished jobs the capacity refresh reads is made once it has started.
 */
export async function startBoss(
  pool: Pick<Database['pool'], 'query'>,
  log: Logger,
): Promise<{ boss: PgBoss; inFlight: Set<Promise<unknown>> }> {
  const { db, inFlight } = jobQueueDb(pool);
  const boss = new PgBoss({
    db,
    schema: JOB_SCHEMA,
    schedule: false,
    supervise: true,
    migrate: true,
  });
  boss.on('error', (err) => log.error({ err }, 'pg-boss error'));
  await boss.start();
  await ensureJobIndexes(pool);
  return { boss, inFlight };
}

/** Creates the queue unless it exists (losing the race to create it with another node is fine). */
export async function ensureQueue(boss: PgBoss, name: string, options: PgBoss.Queue): Promise<void> {
  if (await boss.getQueue(name)) return;
  await boss.createQueue(name, options).catch(async (err: unknown) => {
    if (!(await boss.getQueue(name))) throw err;
  });
}
