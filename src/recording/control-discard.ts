import { join } from 'node:path';
import type { RecordModesRepository } from '../store/record-modes.js';
import type { UsersRepository } from '../store/users.js';
import { normalizeSettings, type ControlSettings } from './control-policy.js';

/** The setting holding the recording control's settings (src/recording/control.ts). */
export const CONTROL_SETTING_KEY = 'recording.control';

/** What a discard needs (src/recording/control.ts passes its own options). */
export interface DiscardDeps {
  db: { recordModes: RecordModesRepository; users: Pick<UsersRepository, 'getSetting'> };
  dataDir: string;
  wipeDir: (dir: string) => Promise<void>;
}

/**
 * No audio is kept: the spool is wiped; the catalogue keeps a row without files, or nothing (but
 * a preserved row stays: a legal hold outranks keepUnstarted none). Audited (`recording.discard`,
 * by the system) in the transaction that changes the row; what became of it, or undefined when it
 * was discarded already.
 */
export async function discardRecording(
  o: DiscardDeps,
  id: string,
  keep: ControlSettings['keepUnstarted'],
  details: Record<string, unknown>,
) {
  await o.wipeDir(join(o.dataDir, 'spool', id));
  return o.db.recordModes.discard(id, keep, {
    actor: 'recording-control',
    actorRole: 'system',
    ip: '',
    via: 'system',
    action: 'recording.discard',
    resource: 'recording',
    resourceId: id,
    details: { ...details, keepUnstarted: keep, spool: 'wiped' },
  });
}

/**
 * Startup recovery of a call the previous process was recording: discards it (true) when its
 * audio was not to be kept — a `never` call, or an on-demand call never started.
 */
export async function discardUnkept(o: DiscardDeps, recordingId: string): Promise<boolean> {
  const m = await o.db.recordModes.modeOf(recordingId);
  if (!m || !(m.mode === 'never' || (m.mode === 'on-demand' && m.audioKept !== true))) return false;
  const s = normalizeSettings(await o.db.users.getSetting<unknown>(CONTROL_SETTING_KEY));
  await discardRecording(o, recordingId, s.keepUnstarted, { mode: m.mode, recovered: true });
  return true;
}
