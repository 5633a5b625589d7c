import type { AuditRepository } from '../store/audit.js';
import { roleRank, type Principal, type Role } from '../store/users.js';
import { forbidden } from './http.js';

/**
 * The one access path for recorded audio. Whatever the way out (playback with or without ranges,
 * waveform, download, export, live listen-in, delivery), the caller asks `grant` with a purpose:
 * one permission is checked (`listen` or `download`, per the settings) and one audit entry is
 * written per principal, recording and purpose. Repeats by the same session within the window
 * (a player's successive range requests, a waveform reloaded) are counted into that entry's
 * window rather than written again; the first access of a window is always written, whatever its
 * range.
 */

export const PERMISSION_LEVELS = ['nobody', 'admin', 'supervisor', 'user'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

/** Which permission each way out needs. */
export const AUDIO_PURPOSES = {
  /** The console's player (MP3, ranges allowed). */
  playback: 'listen',
  /** Peak levels of the stored audio (no audio leaves, but it is decrypted for the caller). */
  waveform: 'listen',
  /** Live listen-in on the monitor socket. */
  'listen-in': 'listen',
  /** A file taken away: /download, and /audio in a non-MP3 (archive) format. */
  download: 'download',
  /** Bulk export (tar of decrypted audio). */
  export: 'download',
} as const satisfies Record<string, 'listen' | 'download'>;
export type AudioPurpose = keyof typeof AUDIO_PURPOSES;
export type AudioPermission = (typeof AUDIO_PURPOSES)[AudioPurpose];

export function permits(level: PermissionLevel, role: Role): boolean {
  return level !== 'nobody' && roleRank(role) >= roleRank(level);
}

/** What the audit entry names of the request (address, channel, user agent). */
export interface AccessOrigin {
  ip: string;
  userAgent?: string;
}

export interface AudioAccessOptions {
  audit: Pick<AuditRepository, 'append'>;
  /** The configured level of a permission (`permissions.listen`, `permissions.download`). */
  level(permission: AudioPermission): Promise<PermissionLevel>;
  /** Deduplication window (default 10 minutes). */
  windowMs?: number;
}

const VIA = { session: 'web', token: 'api-token', 'admin-token': 'admin-token' } as const;

/** The audit action of each purpose (the names the audit trail has always used where they existed). */
const ACTION: Record<AudioPurpose, string> = {
  playback: 'playback',
  waveform: 'waveform',
  'listen-in': 'listen.start',
  download: 'download',
  export: 'export.audio',
};

export class AudioAccess {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;
  constructor(readonly o: AudioAccessOptions) {
    this.#windowMs = o.windowMs ?? 10 * 60_000;
  }

  /** 403 unless `who` holds the permission `purpose` needs. */
  async check(who: Principal, purpose: AudioPurpose): Promise<void> {
    const permission = AUDIO_PURPOSES[purpose];
    const level = await this.o.level(permission);
    if (!permits(level, who.role))
      throw forbidden(`${purpose} needs the ${permission} permission, allowed to: ${level}`);
  }

  /** Checks, then writes the audit entry (unless this session wrote it within the window). */
  async grant(
    who: Principal,
    origin: AccessOrigin,
    recordingId: string,
    purpose: AudioPurpose,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.check(who, purpose);
    await this.record(who, origin, recordingId, purpose, details);
  }

  /** The audit entry alone (for an access already checked, e.g. listen-in's stop). */
  async record(
    who: Principal,
    origin: AccessOrigin,
    recordingId: string,
    purpose: AudioPurpose | 'listen-stop',
    details: Record<string, unknown> = {},
    dedupe = purpose !== 'listen-stop' && purpose !== 'listen-in',
  ): Promise<void> {
    const now = Date.now();
    const key = `${who.via}:${who.sessionId ?? who.userId ?? who.username}:${recordingId}:${purpose}:${String(details.format ?? '')}`;
    if (dedupe) {
      const last = this.#seen.get(key);
      if (last !== undefined && now - last < this.#windowMs) return;
      this.#seen.set(key, now);
      if (this.#seen.size > 50_000)
        for (const [k, t] of this.#seen) if (now - t >= this.#windowMs) this.#seen.delete(k);
    }
    try {
      await this.o.audit.append({
        actor: who.username,
        actorRole: who.role,
        ip: origin.ip,
        via: VIA[who.via],
        action: purpose === 'listen-stop' ? 'listen.stop' : ACTION[purpose],
        resource: 'recording',
        resourceId: recordingId,
        details: {
          purpose: purpose === 'listen-stop' ? 'listen-in' : purpose,
          permission: purpose === 'listen-stop' ? 'listen' : AUDIO_PURPOSES[purpose],
          ...details,
          ...(origin.userAgent !== undefined ? { userAgent: origin.userAgent.slice(0, 200) } : {}),
        },
      });
    } catch (err) {
      // No entry, no audio: forget the key so the next attempt writes it.
      this.#seen.delete(key);
      throw err;
    }
  }
}
