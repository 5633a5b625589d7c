import { RECORD_MODES, type ModeTable, type RecordMode } from '../store/record-modes.js';
import { aorNumber, type Principal } from '../store/users.js';

/**
 * The recording-control policy, without side effects: which record mode a call gets,
 * which actions the mode and the call's state allow, who may act on a call, and the phone codes.
 * The runtime (engine, events, audit) is control.ts.
 */

export { RECORD_MODES, type RecordMode };
export const CONTROL_ACTIONS = ['pause', 'resume', 'start', 'stop'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];
export type ControlChannel = 'web' | 'api' | 'phone';

/**
 * What the control keeps of a call now: `recording`; `paused` (pause, resume continues); `stopped`
 * (stop, a start begins a new segment); `not-started` (on-demand before the first start);
 * `not-recorded` (mode never).
 */
export type ControlState = 'recording' | 'paused' | 'stopped' | 'not-started' | 'not-recorded';

export interface ControlSettings {
  /** The mode of calls whose participants map to no user (or to users and groups without one). */
  defaultMode: RecordMode;
  /** An on-demand call never started (and a `never` call): a catalogue row without audio, or nothing. */
  keepUnstarted: 'metadata' | 'none';
  /** On-demand audio kept from the start press (`press`) or the whole call once started (`call`). */
  onDemandFrom: 'press' | 'call';
  /** Several users on a call: the mode that keeps the most audio (default) or the least. */
  combine: 'most-audio' | 'least-audio';
  /** Phone codes (RFC 4733 digits in the forked streams); null: phone control is off. */
  dtmf: Partial<Record<ControlAction, string>> | null;
}

export const DEFAULT_CONTROL_SETTINGS: ControlSettings = {
  defaultMode: 'always',
  keepUnstarted: 'metadata',
  onDemandFrom: 'press',
  combine: 'most-audio',
  dtmf: null,
};

/** The codes used when phone control is turned on without naming them. */
export const DEFAULT_DTMF_CODES: Record<ControlAction, string> = {
  pause: '*7',
  resume: '*8',
  start: '*9',
  stop: '*0',
};

/** Most audio kept first: always > always-pause > on-demand > never. */
const AUDIO_ORDER: readonly RecordMode[] = ['always', 'always-pause', 'on-demand', 'never'];

/** One user's mode: their own, else their group's (first group first), else none. */
function userMode(u: ModeTable['users'][number], groups: ModeTable['groups']): RecordMode | null {
  if (u.mode) return u.mode;
  for (const g of [u.group, ...u.extraGroups]) {
    const m = g ? groups.get(g) : undefined;
    if (m) return m;
  }
  return null;
}

/**
 * The mode of a call: each participant that is a user's number brings that user's mode (their own,
 * else their group's); several modes combine to the one keeping the most audio (or the least, with
 * combine=least-audio). Users without a mode of their own or of a group bring none: when no
 * participant's user has one, the call has the default mode.
 */
export function resolveMode(
  participants: readonly { aor: string | null }[],
  table: ModeTable,
  s: Pick<ControlSettings, 'defaultMode' | 'combine'>,
): { mode: RecordMode; users: string[] } {
  const numbers = new Set(participants.map((p) => aorNumber(p.aor)).filter((n) => n !== ''));
  const modes: RecordMode[] = [];
  const users: string[] = [];
  for (const u of table.users) {
    if (!u.numbers.some((n) => numbers.has(n))) continue;
    users.push(u.username);
    const m = userMode(u, table.groups);
    if (m) modes.push(m);
  }
  if (modes.length === 0) return { mode: s.defaultMode, users };
  const rank = (m: RecordMode) => AUDIO_ORDER.indexOf(m);
  const pick = s.combine === 'least-audio' ? Math.max : Math.min;
  return { mode: AUDIO_ORDER[pick(...modes.map(rank))] as RecordMode, users };
}

/** The state a call starts in under a mode. */
export function initialState(mode: RecordMode): ControlState {
  if (mode === 'never') return 'not-recorded';
  return mode === 'on-demand' ? 'not-started' : 'recording';
}

/** Actions the call's state allows (whoever asks). */
function stateAllows(state: ControlState): ControlAction[] {
  switch (state) {
    case 'recording':
      return ['pause', 'stop'];
    case 'paused':
      return ['resume', 'stop'];
    case 'stopped':
    case 'not-started':
      return ['start'];
    case 'not-recorded':
      return [];
  }
}

/**
 * Actions a mode allows the call's own users (user, record-only, supervisor): none in `always`
 * and `never`, pause/resume in `always-pause`, all four in `on-demand`. Admins may use every
 * action in every mode but `never` (audited like the others).
 */
export function modeAllows(mode: RecordMode, admin: boolean): ControlAction[] {
  if (mode === 'never') return [];
  if (admin) return [...CONTROL_ACTIONS];
  if (mode === 'always-pause') return ['pause', 'resume'];
  if (mode === 'on-demand') return [...CONTROL_ACTIONS];
  return [];
}

/** What may be done now: the mode's actions that the state allows. */
export function allowedNow(mode: RecordMode, state: ControlState, admin: boolean): ControlAction[] {
  const byMode = modeAllows(mode, admin);
  return stateAllows(state).filter((a) => byMode.includes(a));
}

/** Why an action is refused (for the 403/409), or null when it is allowed. */
export function refusal(
  mode: RecordMode,
  state: ControlState,
  action: ControlAction,
  admin: boolean,
): { status: 403 | 409; reason: string } | null {
  if (mode === 'never') return { status: 409, reason: 'this call is not recorded (mode never)' };
  if (!modeAllows(mode, admin).includes(action))
    return { status: 403, reason: `${action} is not allowed in record mode ${mode}` };
  if (!stateAllows(state).includes(action))
    return { status: 409, reason: `cannot ${action} a call that is ${state}` };
  return null;
}

/**
 * Whether `who` may control a call with these participants: admins all; supervisors the calls of
 * their own numbers and of their groups' members; users and record-only users the calls where one
 * of their numbers is a participant.
 */
export function mayControl(
  who: Principal,
  participants: readonly { aor: string | null }[],
  table: ModeTable,
): boolean {
  if (who.role === 'admin') return true;
  const mine = new Set(who.numbers);
  if (who.role === 'supervisor')
    for (const u of table.users)
      if (u.group && who.groups.includes(u.group)) for (const n of u.numbers) mine.add(n);
  return participants.some((p) => mine.has(aorNumber(p.aor)));
}

/** The user owning a number (the first by username when several share it), for phone actions. */
export function userOfNumber(table: ModeTable, number: string): ModeTable['users'][number] | undefined {
  return table.users.find((u) => u.numbers.includes(number));
}

/**
 * Matches phone codes in a leg's digit stream: digits less than `gapMs` apart form a sequence;
 * a code is recognised when the sequence ends with it.
 */
export class DtmfMatcher {
  #digits = '';
  #lastAt = -Infinity;

  constructor(
    readonly codes: Partial<Record<ControlAction, string>>,
    readonly gapMs = 3000,
  ) {}

  /** Feeds one digit (at ms on the session timeline); returns the action whose code it completes. */
  push(digit: string, atMs: number): ControlAction | null {
    if (atMs - this.#lastAt > this.gapMs) this.#digits = '';
    this.#lastAt = atMs;
    this.#digits = (this.#digits + digit).slice(-8);
    for (const [action, code] of Object.entries(this.codes) as [ControlAction, string][]) {
      if (code && this.#digits.endsWith(code)) {
        this.#digits = '';
        return action;
      }
    }
    return null;
  }
}

/** Settings as stored (any JSON) -> complete, valid settings; unknown or bad values take the default. */
export function normalizeSettings(v: unknown): ControlSettings {
  const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  const d = DEFAULT_CONTROL_SETTINGS;
  const pick = <T extends string>(x: unknown, allowed: readonly T[], def: T): T =>
    allowed.includes(x as T) ? (x as T) : def;
  let dtmf: ControlSettings['dtmf'] = null;
  if (o.dtmf && typeof o.dtmf === 'object') {
    dtmf = {};
    for (const a of CONTROL_ACTIONS) {
      const code = (o.dtmf as Record<string, unknown>)[a];
      if (typeof code === 'string' && /^[0-9*#A-D]{1,8}$/.test(code)) dtmf[a] = code;
    }
  }
  return {
    defaultMode: pick(o.defaultMode, RECORD_MODES, d.defaultMode),
    keepUnstarted: pick(o.keepUnstarted, ['metadata', 'none'] as const, d.keepUnstarted),
    onDemandFrom: pick(o.onDemandFrom, ['press', 'call'] as const, d.onDemandFrom),
    combine: pick(o.combine, ['most-audio', 'least-audio'] as const, d.combine),
    dtmf,
  };
}
