import type pg from 'pg';
import type { KeyRecord } from './types.js';

/** The catalogue's view of encryption keys. One statement per function. */
export interface KeysRepository {
  /** Records a key; when `active`, every other key becomes inactive in the same statement. */
  add(key: { fingerprint: string; algorithm: string; active: boolean }): Promise<void>;
  get(fingerprint: string): Promise<KeyRecord | undefined>;
  /** The newest active key, if any. */
  active(): Promise<KeyRecord | undefined>;
  list(): Promise<KeyRecord[]>;
}

interface Row {
  fingerprint: string;
  algorithm: string;
  created_at: Date;
  active: boolean;
}

const toKey = (r: Row): KeyRecord => ({
  fingerprint: r.fingerprint,
  algorithm: r.algorithm,
  createdAt: r.created_at,
  active: r.active,
});

export function keysRepository(pool: pg.Pool): KeysRepository {
  return {
    async add(k) {
      await pool.query(
        `WITH ins AS (
           INSERT INTO keys (fingerprint, algorithm, active) VALUES ($1, $2, $3)
           ON CONFLICT (fingerprint) DO UPDATE SET active = EXCLUDED.active
           RETURNING fingerprint
         )
         UPDATE keys SET active = false WHERE $3 AND active AND fingerprint <> $1`,
        [k.fingerprint, k.algorithm, k.active],
      );
    },
    async get(fingerprint) {
      const res = await pool.query<Row>('SELECT * FROM keys WHERE fingerprint = $1', [fingerprint]);
      return res.rows[0] ? toKey(res.rows[0]) : undefined;
    },
    async active() {
      const res = await pool.query<Row>('SELECT * FROM keys WHERE active ORDER BY created_at DESC LIMIT 1');
      return res.rows[0] ? toKey(res.rows[0]) : undefined;
    },
    async list() {
      const res = await pool.query<Row>('SELECT * FROM keys ORDER BY created_at DESC');
      return res.rows.map(toKey);
    },
  };
}
