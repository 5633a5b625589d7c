/**
 * Browser sessions (sliding expiry, absolute lifetime) and API tokens (optional expiry,
 * revocation): their secrets are returned once and stored as SHA-256 only.
 */
import { isUuid } from './uuid.js';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { newSecret, sha256Hex } from './passwords.js';
import { toUser, type Row } from './user-model.js';
import type { UsersRepository } from './users.js';

export type SessionsRepository = Pick<
  UsersRepository,
  'createSession' | 'sessionUser' | 'endSession' | 'createToken' | 'tokenUser' | 'listTokens' | 'revokeToken'
>;

export function sessionsRepository(pool: pg.Pool): SessionsRepository {
  return {
    async createSession(userId, ttlMs, ip, userAgent) {
      const token = newSecret();
      const expiresAt = new Date(Date.now() + ttlMs);
      await pool.query(
        `WITH gc AS (DELETE FROM user_sessions WHERE expires_at < now())
         INSERT INTO user_sessions (token_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)`,
        [sha256Hex(token), userId, expiresAt, ip, userAgent.slice(0, 300)],
      );
      return { token, expiresAt };
    },
    async sessionUser(token, ttlMs, maxMs = 7 * 24 * 3600_000) {
      const r = await pool.query<Row>(
        `WITH s AS (
           UPDATE user_sessions SET expires_at = least(greatest(expires_at, now() + $2 * interval '1 millisecond'),
                                                     created_at + $3 * interval '1 millisecond')
           WHERE token_hash = $1 AND expires_at > now() AND created_at > now() - $3 * interval '1 millisecond'
           RETURNING user_id
         )
         SELECT u.* FROM users u JOIN s ON s.user_id = u.id WHERE NOT u.disabled`,
        [sha256Hex(token), ttlMs, maxMs],
      );
      return r.rows[0] ? toUser(r.rows[0]) : undefined;
    },
    async endSession(token) {
      await pool.query('DELETE FROM user_sessions WHERE token_hash = $1', [sha256Hex(token)]);
    },
    async createToken(userId, name, expiresAt = null, endsWithPassword = false) {
      const token = `srs_${newSecret()}`;
      const id = randomUUID();
      await pool.query(
        `INSERT INTO api_tokens (id, user_id, name, token_hash, expires_at, ends_with_password)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, userId, name, sha256Hex(token), expiresAt, endsWithPassword],
      );
      return { token, id };
    },
    async tokenUser(token) {
      const r = await pool.query<Row & { token_id: string }>(
        `WITH t AS (
           UPDATE api_tokens SET last_used_at = now()
           WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
           RETURNING id, user_id
         )
         SELECT u.*, t.id AS token_id FROM users u JOIN t ON t.user_id = u.id WHERE NOT u.disabled`,
        [sha256Hex(token)],
      );
      return r.rows[0] ? { ...toUser(r.rows[0]), tokenId: r.rows[0].token_id } : undefined;
    },
    async listTokens(userId) {
      const r = await pool.query<{
        id: string;
        user_id: string;
        username: string;
        name: string;
        created_at: Date;
        last_used_at: Date | null;
        revoked_at: Date | null;
        expires_at: Date | null;
        ends_with_password: boolean;
      }>(
        `SELECT t.id, t.user_id, u.username, t.name, t.created_at, t.last_used_at, t.revoked_at, t.expires_at,
                t.ends_with_password
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE $1::uuid IS NULL OR t.user_id = $1 ORDER BY t.created_at DESC`,
        [userId ?? null],
      );
      return r.rows.map((t) => ({
        id: t.id,
        userId: t.user_id,
        username: t.username,
        name: t.name,
        createdAt: t.created_at,
        lastUsedAt: t.last_used_at,
        revokedAt: t.revoked_at,
        expiresAt: t.expires_at,
        endsWithPassword: t.ends_with_password,
      }));
    },
    async revokeToken(id, userId) {
      if (!isUuid(id)) return false;
      const r = await pool.query(
        `UPDATE api_tokens SET revoked_at = now()
         WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)`,
        [id, userId ?? null],
      );
      return (r.rowCount ?? 0) > 0;
    },
  };
}
