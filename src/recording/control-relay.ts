import { SrsError } from '../errors.js';
import type { ModeTable } from '../store/record-modes.js';
import { aorNumber, type Principal } from '../store/users.js';
import { mayControl, type ControlAction, type ControlChannel } from './control-policy.js';
import type { ActiveCall, CallControlView } from './types.js';

/**
 * What a control request names and who makes it (src/recording/control.ts), and its relay to the
 * node holding the call when that is another node (src/cluster/control-relay.ts carries it).
 */

/** A control action's answer: the call and its control state. */
export type ControlResult = { recordingId: string; callId: string } & CallControlView;

/** A refused control request: `status` is the HTTP status the API answers with. */
export class ControlError extends SrsError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('ERR_CONTROL', message);
  }
}

/** Who acts: a principal (web, API) or a phone (the user owning the pressing participant's number). */
export interface ControlRequest {
  who: Principal;
  channel: ControlChannel;
  action: ControlAction;
  ip: string;
  /** Which call: its recording id, a participant's number (extension), or its SIP Call-ID. */
  target: { recordingId?: string; number?: string; callId?: string };
  /** Relayed from another node (its peer name, `node:<id>`): in the audit entry, never relayed again. */
  relayedBy?: string;
  /**
   * The secret `who` authenticated with (session, API token, admin token): relayed with the action
   * when another node holds the call, which authenticates the user with it. Without it (a phone),
   * nothing is relayed.
   */
  credential?: string;
}

/** Control of the calls other nodes hold (src/cluster/control-relay.ts); errors carry `status`. */
export interface RemoteControl {
  /** The other nodes' live calls. */
  calls(): Promise<ActiveCall[]>;
  /** Has the owning node apply (and audit) the action for this user; the call's control state. */
  act(
    recordingId: string,
    action: ControlAction,
    actingFor: {
      userId: string | null;
      username: string;
      via: Principal['via'];
      channel: 'web' | 'api';
      ip: string;
      credential: string;
    },
  ): Promise<Record<string, unknown>>;
}

/** The calls a request's target names. */
export function matchTarget(calls: ActiveCall[], target: ControlRequest['target']): ActiveCall[] {
  if (target.recordingId) return calls.filter((c) => c.recordingId === target.recordingId);
  if (target.callId) return calls.filter((c) => c.callId === target.callId);
  if (target.number) {
    const n = target.number.trim().toLowerCase();
    return calls.filter((c) => c.participants.some((p) => aorNumber(p.aor) === n));
  }
  throw new ControlError(404, 'name the call: its recording id, ?number= or ?callId=');
}

/**
 * Another node's call: the action goes to that node, which applies and audits it. `notHere` is the
 * local 404, thrown when no other node's call matches either (or the request was relayed already).
 */
export async function relayControl(
  remote: RemoteControl,
  table: ModeTable,
  r: ControlRequest,
  notHere: ControlError,
): Promise<ControlResult> {
  if (r.relayedBy || r.channel === 'phone' || !r.credential) throw notHere;
  const found = matchTarget(await remote.calls(), r.target).filter((c) =>
    mayControl(r.who, c.participants, table),
  );
  if (found.length === 0) throw notHere;
  if (found.length > 1)
    throw new ControlError(409, `${found.length} live calls match; name the recording id`);
  const call = found[0] as ActiveCall;
  const { userId, username, via } = r.who;
  try {
    const result = await remote.act(call.recordingId, r.action, {
      userId,
      username,
      via,
      channel: r.channel,
      ip: r.ip,
      credential: r.credential,
    });
    return result as unknown as ControlResult;
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    throw new ControlError(typeof status === 'number' ? status : 502, (err as Error).message);
  }
}
