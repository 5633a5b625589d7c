import type pg from 'pg';
import { NotFoundError, SrsError } from '../errors.js';
import type { KeyRecord, KeyReencryptState } from './types.js';
import { inTransaction } from './tx.js';

/**
 * The catalogue's view of encryption keys, and the bookkeeping of `srs keys retire --reencrypt`.
 * At most one key is active. The private key material lives in `<dataDir>/keys` and, locked under
 * the passphrase, in the catalogue too unless keys.inCatalogue is false (migration 041).
 */
export interface KeysRepository {
  /** Records a key; when `active`, it becomes the only active key (one transaction). */
  add(key: {
    fingerprint: string;
    algorithm: string;
    active: boolean;
    publicKey?: string;
    privateKey?: string;
  }): Promise<void>;
  /**
   * Records a key if unknown (keeping its public key), making it active only if no key is; a
   * private key is kept where the catalogue had none.
   */
  register(key: {
    fingerprint: string;
    algorithm: string;
    publicKey: string;
    privateKey?: string;
  }): Promise<KeyRecord>;
  /** The armored private key (locked under the passphrase) the catalogue holds, if any. */
  privateKey(fingerprint: string): Promise<string | undefined>;
  get(fingerprint: string): Promise<KeyRecord | undefined>;
  /** The active key, if any. */
  active(): Promise<KeyRecord | undefined>;
  /** Newest first, with the number of artifacts encrypted to each. */
  list(): Promise<KeyRecord[]>;
  /** Makes this key the only active one; a retired key cannot be activated. */
  activate(fingerprint: string): Promise<void>;
  /** Marks a key retired (never the active one). Returns false when it already was. */
  retire(fingerprint: string): Promise<boolean>;
  /** Artifacts of stored recordings still encrypted to this key. */
  filesUnder(fingerprint: string): Promise<ReencryptTarget[]>;
  /** Records the intent to move one artifact (idempotent); returns the row as it is now. */
  beginReencrypt(t: ReencryptTarget, newKey: string, newPath: string): Promise<ReencryptRow>;
  /**
   * Points the catalogue at the new ciphertext, marks the step done and writes the audit entry,
   * in one transaction.
   */
  completeReencrypt(
    t: ReencryptTarget,
    n: { newKey: string; newPath: string; bytes: number; sha256Cipher: string },
    by: ReencryptActor,
  ): Promise<void>;
  /** Re-encryption steps done for this old key whose old file may still need removing. */
  reencryptions(oldKey: string): Promise<ReencryptRow[]>;
  /** Asks for the background re-encryption of a retired key (again, when it had finished or failed). */
  requestReencrypt(fingerprint: string, by: string): Promise<void>;
  /** Retired keys whose requested re-encryption has not finished, oldest request first. */
  reencryptRequests(): Promise<KeyRecord[]>;
  /** Records a pass's outcome: finished (no file left) or the failures' summary. */
  reencryptOutcome(fingerprint: string, o: { finished: boolean; error: string | null }): Promise<void>;
}

/** Who re-encrypts: written to each file's audit entry. */
export interface ReencryptActor {
  actor: string;
  via: 'cli' | 'api';
}

export interface ReencryptTarget {
  recordingId: string;
  kind: string;
  path: string;
  sha256Plain: string;
  sha256Cipher: string;
  keyFingerprint: string;
}

export interface ReencryptRow {
  recordingId: string;
  kind: string;
  oldKey: string;
  newKey: string;
  oldPath: string;
  newPath: string;
  state: 'pending' | 'done';
}

interface Row {
  fingerprint: string;
  algorithm: string;
  created_at: Date;
  active: boolean;
  public_key: string | null;
  private_key?: string | null;
  retired_at: Date | null;
  reencrypt_requested_at?: Date | null;
  reencrypt_requested_by?: string | null;
  reencrypt_finished_at?: Date | null;
  reencrypt_error?: string | null;
  files?: string;
}

const reencryptOf = (r: Row): KeyReencryptState | null =>
  r.reencrypt_requested_at
    ? {
        requestedAt: r.reencrypt_requested_at,
        requestedBy: r.reencrypt_requested_by ?? '',
        finishedAt: r.reencrypt_finished_at ?? null,
        error: r.reencrypt_error ?? null,
      }
    : null;

const toKey = (r: Row): KeyRecord => ({
  fingerprint: r.fingerprint,
  algorithm: r.algorithm,
  createdAt: r.created_at,
  active: r.active,
  publicKey: r.public_key,
  privateInCatalogue: Boolean(r.private_key),
  retiredAt: r.retired_at,
  reencrypt: reencryptOf(r),
  ...(r.files === undefined ? {} : { files: Number(r.files) }),
});

const KEYS_LOCK = 78_660_008;

/** The key's row, locked, under the keys lock (one key change at a time); NotFoundError if none. */
async function lockedKey(c: pg.PoolClient, fingerprint: string): Promise<Row> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
  const k = await c.query<Row>('SELECT * FROM keys WHERE fingerprint = $1 FOR UPDATE', [fingerprint]);
  const row = k.rows[0];
  if (!row) throw new NotFoundError(`no key ${fingerprint} in the catalogue`);
  return row;
}

export function keysRepository(pool: pg.Pool): KeysRepository {
  return {
    async add(k) {
      await inTransaction(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
        if (k.active)
          await c.query('UPDATE keys SET active = false WHERE active AND fingerprint <> $1', [k.fingerprint]);
        await c.query(
          `INSERT INTO keys (fingerprint, algorithm, active, public_key, private_key) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (fingerprint) DO UPDATE SET active = EXCLUDED.active,
             public_key = coalesce(EXCLUDED.public_key, keys.public_key),
             private_key = coalesce(keys.private_key, EXCLUDED.private_key)`,
          [k.fingerprint, k.algorithm, k.active, k.publicKey ?? null, k.privateKey ?? null],
        );
      });
    },
    async register(k) {
      return inTransaction(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
        const any = await c.query('SELECT 1 FROM keys WHERE active');
        await c.query(
          `INSERT INTO keys (fingerprint, algorithm, active, public_key, private_key) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (fingerprint) DO UPDATE SET public_key = coalesce(keys.public_key, EXCLUDED.public_key),
             private_key = coalesce(keys.private_key, EXCLUDED.private_key)`,
          [k.fingerprint, k.algorithm, any.rowCount === 0, k.publicKey, k.privateKey ?? null],
        );
        const r = await c.query<Row>('SELECT * FROM keys WHERE fingerprint = $1', [k.fingerprint]);
        return toKey(r.rows[0] as Row);
      });
    },
    async privateKey(fingerprint) {
      const res = await pool.query<{ private_key: string | null }>(
        'SELECT private_key FROM keys WHERE fingerprint = $1',
        [fingerprint.toUpperCase()],
      );
      return res.rows[0]?.private_key ?? undefined;
    },
    async get(fingerprint) {
      const res = await pool.query<Row>('SELECT * FROM keys WHERE fingerprint = $1', [fingerprint]);
      return res.rows[0] ? toKey(res.rows[0]) : undefined;
    },
    async active() {
      const res = await pool.query<Row>({
        name: 'srs-key-active',
        text: 'SELECT * FROM keys WHERE active ORDER BY created_at DESC LIMIT 1',
      });
      return res.rows[0] ? toKey(res.rows[0]) : undefined;
    },
    async list() {
      const res = await pool.query<Row>(
        // Kept as files change (migration 046), not counted at every read.
        `SELECT k.*, coalesce(c.n, 0) AS files
         FROM keys k LEFT JOIN key_file_counts c ON c.fingerprint = k.fingerprint
         ORDER BY k.created_at DESC, k.fingerprint`,
      );
      return res.rows.map(toKey);
    },
    async activate(fingerprint) {
      await inTransaction(pool, async (c) => {
        const row = await lockedKey(c, fingerprint);
        if (row.retired_at)
          throw new SrsError('ERR_KEY_RETIRED', `key ${fingerprint} is retired and cannot be activated`);
        if (!row.public_key)
          throw new SrsError('ERR_KEY_NO_PUBLIC', `the catalogue holds no public key for ${fingerprint}`);
        await c.query('UPDATE keys SET active = false WHERE active AND fingerprint <> $1', [fingerprint]);
        await c.query('UPDATE keys SET active = true WHERE fingerprint = $1', [fingerprint]);
      });
    },
    async retire(fingerprint) {
      return inTransaction(pool, async (c) => {
        const row = await lockedKey(c, fingerprint);
        if (row.active)
          throw new SrsError(
            'ERR_KEY_ACTIVE',
            `key ${fingerprint} is the active key: generate or activate another key first`,
          );
        if (row.retired_at) return false;
        await c.query('UPDATE keys SET retired_at = now() WHERE fingerprint = $1', [fingerprint]);
        return true;
      });
    },
    async requestReencrypt(fingerprint, by) {
      await inTransaction(pool, async (c) => {
        const row = await lockedKey(c, fingerprint);
        if (!row.retired_at)
          throw new SrsError('ERR_KEY_NOT_RETIRED', `key ${fingerprint} is not retired: retire it first`);
        await c.query(
          `UPDATE keys SET reencrypt_requested_at = now(), reencrypt_requested_by = $2,
             reencrypt_finished_at = NULL, reencrypt_error = NULL WHERE fingerprint = $1`,
          [fingerprint, by],
        );
      });
    },
    async reencryptRequests() {
      const res = await pool.query<Row>(
        `SELECT * FROM keys WHERE retired_at IS NOT NULL AND reencrypt_requested_at IS NOT NULL
           AND reencrypt_finished_at IS NULL ORDER BY reencrypt_requested_at`,
      );
      return res.rows.map(toKey);
    },
    async reencryptOutcome(fingerprint, o) {
      await pool.query(
        `UPDATE keys SET reencrypt_finished_at = CASE WHEN $2 THEN now() END, reencrypt_error = $3
         WHERE fingerprint = $1 AND reencrypt_requested_at IS NOT NULL`,
        [fingerprint, o.finished, o.error],
      );
    },
    async filesUnder(fingerprint) {
      const res = await pool.query<{
        recording_id: string;
        kind: string;
        path: string;
        sha256_plain: string;
        sha256_cipher: string;
        key_fingerprint: string;
      }>(
        `SELECT f.recording_id, f.kind, f.path, f.sha256_plain, f.sha256_cipher, f.key_fingerprint
         FROM files f JOIN recordings r ON r.id = f.recording_id
         WHERE f.key_fingerprint = $1 AND r.state = 'stored' ORDER BY f.recording_id, f.kind`,
        [fingerprint],
      );
      return res.rows.map((r) => ({
        recordingId: r.recording_id,
        kind: r.kind,
        path: r.path,
        sha256Plain: r.sha256_plain,
        sha256Cipher: r.sha256_cipher,
        keyFingerprint: r.key_fingerprint,
      }));
    },
    async beginReencrypt(t, newKey, newPath) {
      const res = await pool.query<ReencryptDbRow>(
        `WITH ins AS (
           INSERT INTO key_reencryptions (recording_id, kind, old_key, new_key, old_path, new_path, state)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending')
           ON CONFLICT (recording_id, kind, old_key) DO UPDATE
             SET new_key = EXCLUDED.new_key, new_path = EXCLUDED.new_path, updated_at = now()
             WHERE key_reencryptions.state = 'pending'
           RETURNING *)
         SELECT * FROM ins UNION ALL
         SELECT * FROM key_reencryptions WHERE recording_id = $1 AND kind = $2 AND old_key = $3
           AND NOT EXISTS (SELECT 1 FROM ins)`,
        [t.recordingId, t.kind, t.keyFingerprint, newKey, t.path, newPath],
      );
      return toReencrypt(res.rows[0] as ReencryptDbRow);
    },
    async completeReencrypt(t, n, by) {
      await inTransaction(pool, async (c) => {
        const upd = await c.query(
          `UPDATE files SET path = $3, bytes = $4, sha256_cipher = $5, key_fingerprint = $6
           WHERE recording_id = $1 AND kind = $2 AND key_fingerprint = $7 AND sha256_cipher = $8`,
          [
            t.recordingId,
            t.kind,
            n.newPath,
            n.bytes,
            n.sha256Cipher,
            n.newKey,
            t.keyFingerprint,
            t.sha256Cipher,
          ],
        );
        if (upd.rowCount !== 1)
          throw new SrsError(
            'ERR_REENCRYPT_RACE',
            `the ${t.kind} of ${t.recordingId} changed during re-encryption`,
          );
        await c.query(
          `UPDATE key_reencryptions SET state = 'done', updated_at = now()
           WHERE recording_id = $1 AND kind = $2 AND old_key = $3`,
          [t.recordingId, t.kind, t.keyFingerprint],
        );
        await c.query(
          `INSERT INTO audit (actor, actor_role, ip, via, action, resource, resource_id, details)
           VALUES ($1, 'admin', '', $4, 'key.reencrypt', 'recording', $2, $3::jsonb)`,
          [
            by.actor,
            t.recordingId,
            JSON.stringify({
              kind: t.kind,
              fromKey: t.keyFingerprint,
              toKey: n.newKey,
              oldPath: t.path,
              newPath: n.newPath,
              oldSha256Cipher: t.sha256Cipher,
              newSha256Cipher: n.sha256Cipher,
              sha256Plain: t.sha256Plain,
            }),
            by.via,
          ],
        );
      });
    },
    async reencryptions(oldKey) {
      const res = await pool.query<ReencryptDbRow>(
        'SELECT * FROM key_reencryptions WHERE old_key = $1 ORDER BY recording_id, kind',
        [oldKey],
      );
      return res.rows.map(toReencrypt);
    },
  };
}

interface ReencryptDbRow {
  recording_id: string;
  kind: string;
  old_key: string;
  new_key: string;
  old_path: string;
  new_path: string;
  state: 'pending' | 'done';
}
const toReencrypt = (r: ReencryptDbRow): ReencryptRow => ({
  recordingId: r.recording_id,
  kind: r.kind,
  oldKey: r.old_key,
  newKey: r.new_key,
  oldPath: r.old_path,
  newPath: r.new_path,
  state: r.state,
});
