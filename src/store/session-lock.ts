import type pg from 'pg';

/** pg_try_advisory_lock key of a re-encryption run (src/pipeline/reencrypt.ts): one at a time. */
export const REENCRYPT_LOCK = 78_660_040;

/**
 * Runs `fn` while a connection of its own holds the session advisory lock `key`, then releases the
 * lock and the connection. When another session holds the lock, `fn` is not run: `{ ran: false }`.
 */
export async function whileLocked<T>(
  pool: Pick<pg.Pool, 'connect'>,
  key: number,
  fn: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  const client = await pool.connect();
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
    if (!got.rows[0]?.ok) return { ran: false };
    try {
      return { ran: true, value: await fn() };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  } finally {
    client.release();
  }
}
