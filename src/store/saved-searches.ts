import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { isUuid } from './recordings.js';
import { ConflictError } from './user-model.js';

/** A user's saved recordings searches (GET /recordings query strings), by name. */

export interface SavedSearch {
  id: string;
  name: string;
  /** The search as a URL query string (`q=refund&from=...`). */
  query: string;
  createdAt: Date;
}

export interface SavedSearchesRepository {
  /** The user's searches by name. */
  list(userId: string): Promise<SavedSearch[]>;
  /** ConflictError when the user has a search of that name. */
  add(userId: string, name: string, query: string): Promise<SavedSearch>;
  /** False when the user has no search of that id. */
  remove(userId: string, id: string): Promise<boolean>;
}

interface Row {
  id: string;
  name: string;
  query: string;
  created_at: Date;
}
const toSearch = (r: Row): SavedSearch => ({
  id: r.id,
  name: r.name,
  query: r.query,
  createdAt: r.created_at,
});

export function savedSearchesRepository(pool: pg.Pool): SavedSearchesRepository {
  return {
    async list(userId) {
      const r = await pool.query<Row>(
        'SELECT id, name, query, created_at FROM saved_searches WHERE user_id = $1 ORDER BY lower(name), name',
        [userId],
      );
      return r.rows.map(toSearch);
    },
    async add(userId, name, query) {
      const r = await pool.query<Row>(
        `INSERT INTO saved_searches (id, user_id, name, query) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, name) DO NOTHING RETURNING id, name, query, created_at`,
        [randomUUID(), userId, name, query],
      );
      if (!r.rows[0]) throw new ConflictError(`you have a saved search named "${name}"`);
      return toSearch(r.rows[0]);
    },
    async remove(userId, id) {
      if (!isUuid(id)) return false;
      const r = await pool.query('DELETE FROM saved_searches WHERE id = $1 AND user_id = $2', [id, userId]);
      return (r.rowCount ?? 0) > 0;
    },
  };
}
