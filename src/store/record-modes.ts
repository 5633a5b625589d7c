import { isUuid } from './uuid.js';
import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import { appendAudit, type AuditEntryInput } from './audit.js';
import { inTransaction } from './tx.js';
import type { Role } from './users.js';

/**
 * Record modes: per user and per group, and what the recording control decided for each
 * recording. The policy itself (which mode a call gets, who may act) is src/recording/control.ts.
 */

export const RECORD_MODES = ['always', 'always-pause', 'on-demand', 'never'] as const;
export type RecordMode = (typeof RECORD_MODES)[number];

/** A user as the record-mode policy sees them. */
export interface ModeUser {
  userId: string;
  username: string;
  role: Role;
  numbers: string[];
  group: string | null;
  extraGroups: string[];
  mode: RecordMode | null;
}

export interface ModeTable {
  users: ModeUser[];
  /** Group name -> its mode (groups without one are left out). */
  groups: Map<string, RecordMode>;
}

/** What a discard left of the catalogue row. */
export type DiscardOutcome = 'deleted' | 'kept' | 'kept: preserved';

export interface RecordModesRepository {
  /** Every enabled user with numbers or a mode (by username), and every group's mode (for the policy's cache). */
  table(): Promise<ModeTable>;
  setUserMode(userId: string, mode: RecordMode | null): Promise<void>;
  setGroupMode(group: string, mode: RecordMode | null): Promise<void>;
  /** Notes the mode a live call is recorded under. */
  setRecordingMode(recordingId: string, mode: RecordMode): Promise<void>;
  /** Marks whether audio of the recording was kept (false: metadata only). */
  setAudioKept(recordingId: string, kept: boolean): Promise<void>;
  /**
   * An on-demand call's first start: marks its audio kept with the start's audit entry, in one
   * transaction (neither is written without the other).
   */
  keepAudio(recordingId: string, entry: AuditEntryInput): Promise<void>;
  /** Removes a recording's catalogue entry entirely (a refused call's row); its events go with it. */
  deleteRecording(recordingId: string): Promise<void>;
  /**
   * Discards a call whose audio is not kept (its spool is the caller's to wipe), with its audit
   * entry (`entry`, its details given `catalogue`: what became of the row) in the same transaction.
   * keepUnstarted `none` deletes the row, unless it is preserved (a legal hold): then, as with
   * `metadata`, the row stays without files (stored, `audio_kept` false, chained). Already
   * discarded (a retried hand-off) or gone: nothing is written, undefined.
   */
  discard(
    recordingId: string,
    keep: 'metadata' | 'none',
    entry: AuditEntryInput,
  ): Promise<DiscardOutcome | undefined>;
  /** Recordings still 'recording' whose audio must not be kept (for startup recovery). */
  modeOf(recordingId: string): Promise<{ mode: RecordMode | null; audioKept: boolean | null } | undefined>;
}

export function recordModesRepository(pool: pg.Pool): RecordModesRepository {
  return {
    async table() {
      const users = await pool.query<{
        id: string;
        username: string;
        role: Role;
        numbers: string[];
        group_name: string | null;
        extra_groups: string[];
        record_mode: RecordMode | null;
      }>(
        `SELECT id, username, role, numbers, group_name, extra_groups, record_mode FROM users
         WHERE NOT disabled AND (cardinality(numbers) > 0 OR record_mode IS NOT NULL) ORDER BY username`,
      );
      const groups = await pool.query<{ name: string; record_mode: RecordMode }>(
        'SELECT name, record_mode FROM user_groups WHERE record_mode IS NOT NULL',
      );
      return {
        users: users.rows.map((u) => ({
          userId: u.id,
          username: u.username,
          role: u.role,
          numbers: u.numbers,
          group: u.group_name,
          extraGroups: u.extra_groups,
          mode: u.record_mode,
        })),
        groups: new Map(groups.rows.map((g) => [g.name, g.record_mode])),
      };
    },
    async setUserMode(userId, mode) {
      if (!isUuid(userId)) throw new NotFoundError(`user ${userId} not found`);
      const r = await pool.query('UPDATE users SET record_mode = $2, updated_at = now() WHERE id = $1', [
        userId,
        mode,
      ]);
      if (r.rowCount === 0) throw new NotFoundError(`user ${userId} not found`);
    },
    async setGroupMode(group, mode) {
      const r = await pool.query('UPDATE user_groups SET record_mode = $2 WHERE name = $1', [group, mode]);
      if (r.rowCount === 0) throw new NotFoundError(`group ${group} not found`);
    },
    async setRecordingMode(recordingId, mode) {
      await pool.query('UPDATE recordings SET record_mode = $2 WHERE id = $1', [recordingId, mode]);
    },
    async setAudioKept(recordingId, kept) {
      await pool.query('UPDATE recordings SET audio_kept = $2 WHERE id = $1', [recordingId, kept]);
    },
    async keepAudio(recordingId, entry) {
      await inTransaction(pool, async (c) => {
        await c.query('UPDATE recordings SET audio_kept = true WHERE id = $1', [recordingId]);
        await appendAudit(c, entry);
      });
    },
    async deleteRecording(recordingId) {
      await pool.query('DELETE FROM recordings WHERE id = $1', [recordingId]);
    },
    async discard(recordingId, keep, entry) {
      return inTransaction(pool, async (c) => {
        const r = await c.query<{ state: string; preserved: boolean }>(
          'SELECT state, preserved_at IS NOT NULL AS preserved FROM recordings WHERE id = $1 FOR UPDATE',
          [recordingId],
        );
        const row = r.rows[0];
        if (!row || row.state === 'stored' || row.state === 'purged') return undefined;
        let catalogue: DiscardOutcome;
        if (keep === 'none' && !row.preserved) {
          await c.query('DELETE FROM recordings WHERE id = $1', [recordingId]);
          catalogue = 'deleted';
        } else {
          await c.query('UPDATE recordings SET audio_kept = false WHERE id = $1', [recordingId]);
          // Stored without files and chained, as every stored recording (016_store_recording.sql).
          await c.query("SELECT srs_store_recording($1, '[]'::jsonb)", [recordingId]);
          catalogue = keep === 'none' ? 'kept: preserved' : 'kept';
        }
        await appendAudit(c, { ...entry, details: { ...entry.details, catalogue } });
        return catalogue;
      });
    },
    async modeOf(recordingId) {
      const r = await pool.query<{ record_mode: RecordMode | null; audio_kept: boolean | null }>(
        'SELECT record_mode, audio_kept FROM recordings WHERE id = $1',
        [recordingId],
      );
      const x = r.rows[0];
      return x ? { mode: x.record_mode, audioKept: x.audio_kept } : undefined;
    },
  };
}
