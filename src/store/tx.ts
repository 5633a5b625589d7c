import type pg from 'pg';

/** Runs `fn` in a transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** A count of matching rows; past the limit asked for, `exact` is false and `total` the limit. */
export interface RowCount {
  total: number;
  exact: boolean;
}

/**
 * Counts the rows of `from` (`FROM ... WHERE ...`). With `upTo`, it stops past that many: a
 * count that does not read a large catalogue or audit trail through for every page shown.
 */
export async function countRows(
  pool: pg.Pool | pg.PoolClient,
  from: string,
  args: unknown[],
  upTo?: number,
): Promise<RowCount> {
  if (upTo === undefined) {
    const r = await pool.query<{ n: string }>(`SELECT count(*) AS n ${from}`, args);
    return { total: Number(r.rows[0]?.n ?? 0), exact: true };
  }
  const cap = Math.max(0, Math.floor(upTo));
  const r = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 ${from} LIMIT ${cap + 1}) x`,
    args,
  );
  const n = Number(r.rows[0]?.n ?? 0);
  return n > cap ? { total: cap, exact: false } : { total: n, exact: true };
}
