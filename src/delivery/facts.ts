import type { DeliveryRecording } from '../store/offload.js';

/**
 * What every delivery format says about a call, from the recorded user's side: the agent, their
 * extension, the remote number, the direction. Pure.
 */

export interface RecordedUser {
  username: string;
  displayName: string;
  group: string | null;
  /** Lower-case numbers identifying the user's recordings. */
  numbers: readonly string[];
  email?: string | null;
}

export type Direction = 'IN' | 'OUT' | 'INTERNAL' | 'UNKNOWN';

export interface CallFacts {
  recordingId: string;
  callId: string;
  agent: string;
  username: string;
  extension: string;
  remoteNumber: string;
  group: string;
  direction: Direction;
  start: Date;
  durationMs: number;
  /** True when the recorded user placed the call (From), false when they received it; null: no user. */
  userIsCaller: boolean | null;
}

export function callFacts(rec: DeliveryRecording, user?: RecordedUser | null): CallFacts {
  const u =
    user === undefined
      ? rec.user
        ? {
            username: rec.user.username,
            displayName: rec.user.displayName,
            group: rec.user.group,
            isCaller: rec.user.isCaller,
          }
        : null
      : user
        ? { ...user, isCaller: user.numbers.includes(rec.callerNumber.toLowerCase()) }
        : null;
  const both =
    user &&
    user.numbers.includes(rec.callerNumber.toLowerCase()) &&
    user.numbers.includes(rec.calleeNumber.toLowerCase());
  let direction: Direction;
  let extension: string;
  let remote: string;
  if (u) {
    direction = both || rec.direction === 'internal' ? 'INTERNAL' : u.isCaller ? 'OUT' : 'IN';
    extension = u.isCaller ? rec.callerNumber : rec.calleeNumber;
    remote = u.isCaller ? rec.calleeNumber : rec.callerNumber;
  } else {
    direction =
      rec.direction === 'inbound'
        ? 'IN'
        : rec.direction === 'outbound'
          ? 'OUT'
          : rec.direction === 'internal'
            ? 'INTERNAL'
            : 'UNKNOWN';
    const inbound = direction === 'IN';
    extension = inbound ? rec.calleeNumber : rec.callerNumber;
    remote = inbound ? rec.callerNumber : rec.calleeNumber;
  }
  return {
    recordingId: rec.id,
    callId: rec.callId,
    agent: u ? u.displayName || u.username : '',
    username: u?.username ?? '',
    extension,
    remoteNumber: remote,
    group: u?.group ?? '',
    direction,
    start: rec.startedAt,
    durationMs: rec.durationMs ?? 0,
    userIsCaller: u ? u.isCaller : null,
  };
}

/** hh:mm:ss (hours not wrapped at 24). */
export function hms(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}
