/**
 * The engine keeps one pause flag per leg, and two owners set it: recording control holds the
 * whole call (pause, stop, mode never, on-demand not started: src/recording/control.ts) and the
 * SRC holds single streams (re-offered a=inactive: src/recording/live-streams.ts). A leg records
 * only when neither holds it, so the engine's pause of a leg is kept equal to
 * `s.controlHeld || s.paused.has(leg)`: an SRC's unhold does not resume a call control holds,
 * control's resume does not resume a stream the SRC holds, and legs added while control holds the
 * call open paused. The engine is told only of the legs whose pause really changes, so its pause
 * spans (session.json, SRS_PAUSE_MODE=cut) follow what is recorded.
 */
import type { MediaEngine } from '../media/types.js';
import type { LiveSession } from './live-streams.js';

type Pauser = Pick<MediaEngine, 'pause' | 'resume'>;
type Owned = Pick<LiveSession, 'streams' | 'paused' | 'controlHeld'>;

/**
 * Recording control holds (`held`) or releases the whole call. Releasing resumes only the legs the
 * SRC does not hold. False when the engine has no such session (the call is ending).
 */
export function holdForControl(engine: Pauser, recordingId: string, s: Owned, held: boolean): boolean {
  if ((s.controlHeld === true) === held) return true;
  s.controlHeld = held;
  const legs = s.streams.filter((x) => !x.removed && !s.paused.has(x.legId)).map((x) => x.legId);
  // Never an empty list: the engine reads it as every leg.
  if (legs.length === 0) return true;
  return held ? engine.pause(recordingId, legs) : engine.resume(recordingId, legs);
}

/**
 * The SRC pauses (a=inactive) or resumes streams: noted as its hold, and applied in the engine
 * unless recording control holds the call (the legs then stay paused until control releases it).
 */
export function holdForSrc(
  engine: Pauser,
  recordingId: string,
  s: Owned,
  legIds: readonly string[],
  paused: boolean,
): void {
  if (legIds.length === 0) return;
  for (const x of legIds) {
    if (paused) s.paused.add(x);
    else s.paused.delete(x);
  }
  if (s.controlHeld === true) return;
  // The engine writes silence for the paused time and drops what still arrives.
  if (paused) engine.pause(recordingId, legIds);
  else engine.resume(recordingId, legIds);
}
