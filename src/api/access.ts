import type { AuditRepository } from '../store/audit.js';
import { roleRank, type Principal, type Role } from '../store/users.js';
import { forbidden } from './http.js';

/**
 * The one access path for recorded audio. Whatever the way out (playback with or without ranges,
 * waveform, download, export, live listen-in, delivery), the caller asks `grant` with a purpose:
 * one permission is checked (`listen` or `download`, per the settings) and one audit entry is
 * written before any audio leaves. Inline listening alone is written once per window: a player's
 * successive range requests and a waveform reloaded, by one session from one address, share the
 * first request's entry, and wait for it (a request that finds that entry still being written
 * sends nothing until it is, and nothing if it fails). Every file taken away (a download, the
 * encrypted file, an export, a joined interaction) gets its own entry.
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

const VIA = {
  session: 'web',
  token: 'api-token',
  'admin-token': 'admin-token',
  peer: 'cluster-peer',
} as const;

/** The audit action of each purpose (the names the audit trail has always used where they existed). */
const ACTION: Record<AudioPurpose, string> = {
  playback: 'playback',
  waveform: 'waveform',
  'listen-in': 'listen.start',
  download: 'download',
  export: 'export.audio',
};

export class AudioAccess {
  /** Inline listening entries written (or being written) within the window, by key. */
  readonly #seen = new Map<string, { at: number; done: Promise<void> }>();
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

  /** Checks, then writes the audit entry (see the file comment for the one shared per window). */
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
  ): Promise<void> {
    const now = Date.now();
    const inline = purpose === 'playback' || purpose === 'waveform' || details.inline === true;
    const key = inline
      ? [
          who.via,
          who.sessionId ?? who.userId ?? who.username,
          origin.ip,
          recordingId,
          purpose,
          String(details.format ?? ''),
          String(details.interaction ?? ''),
        ].join('\n')
      : null;
    if (key !== null) {
      const first = this.#seen.get(key);
      // The window's entry, once it is written: if it fails, this request fails with it.
      if (first !== undefined && now - first.at < this.#windowMs) return first.done;
    }
    const done = this.o.audit
      .append({
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
      })
      .then(() => undefined);
    if (key !== null) {
      this.#seen.set(key, { at: now, done });
      if (this.#seen.size > 50_000)
        for (const [k, v] of this.#seen) if (now - v.at >= this.#windowMs) this.#seen.delete(k);
    }
    try {
      await done;
    } catch (err) {
      // No entry, no audio: forget the key so the next attempt writes it.
      if (key !== null && this.#seen.get(key)?.done === done) this.#seen.delete(key);
      throw err;
    }
  }
}
