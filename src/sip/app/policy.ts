/**
 * Recording policy: which SIPREC sessions are recorded. Pure functions over the parties' numbers.
 *
 * A call's direction is taken from the caller: a call placed by an internal number is `outbound`,
 * one placed by any other number is `inbound`. Its scope is `internal` when both parties are
 * internal numbers, else `external`. Internal numbers and the blacklist use dial-plan patterns:
 * `X` (or `x`) and `.` stand for one digit, `!` for any number of digits (none included), and
 * digits, `+`, `*` and `#` stand for themselves. The blacklist is matched against the remote party:
 * the caller of an inbound call, the callee of an outbound one.
 */
import { ConfigError } from '../../errors.js';

export type DirectionRule = 'inbound' | 'outbound' | 'both';
export type ScopeRule = 'internal' | 'external' | 'both';

export interface RecordingPolicyConfig {
  direction: DirectionRule;
  scope: ScopeRule;
  /** Patterns of the organisation's own numbers. */
  internalNumbers: readonly string[];
  /** Patterns of remote numbers never recorded. */
  blacklist: readonly string[];
  /** What happens to an excluded call: answered with every stream declined, or declined. */
  excludedAction: 'answer' | 'decline';
  /** SIP status used when excludedAction is 'decline'. */
  declineStatus: number;
}

export const DEFAULT_POLICY: RecordingPolicyConfig = {
  direction: 'both',
  scope: 'both',
  internalNumbers: [],
  blacklist: [],
  excludedAction: 'answer',
  declineStatus: 403,
};

export interface CallParties {
  /** Raw caller and callee identities (AOR, tel: URI or number); null when unknown. */
  caller: string | null;
  callee: string | null;
}

export interface PolicyDecision {
  record: boolean;
  direction: 'inbound' | 'outbound' | 'unknown';
  scope: 'internal' | 'external' | 'unknown';
  caller: string | null;
  callee: string | null;
  /** Why: a short sentence for the log and the Warning header. */
  reason: string;
}

const PATTERN_CHARS = /^[0-9+*#Xx.!]+$/;

/** Throws ConfigError unless `p` is a valid pattern. */
export function checkPattern(p: string): void {
  if (!PATTERN_CHARS.test(p)) {
    throw new ConfigError(`number pattern "${p}": use digits, + * #, X or . (one digit) and ! (any digits)`);
  }
}

/** Compiles a dial-plan pattern into an anchored RegExp. */
export function compilePattern(p: string): RegExp {
  checkPattern(p);
  let re = '^';
  for (const ch of p) {
    if (ch === 'X' || ch === 'x' || ch === '.') re += '[0-9]';
    else if (ch === '!') re += '[0-9]*';
    else re += ch === '+' || ch === '*' ? `\\${ch}` : ch;
  }
  return new RegExp(`${re}$`);
}

/**
 * The number an identity stands for: 'sip:+39 02-1234@pbx;user=phone' -> '+39021234',
 * '"Alice" <sip:1001@pbx>' -> '1001', 'tel:+3912;phone-context=x' -> '+3912'. Null when the user
 * part is not a number (e.g. 'sip:alice@example.com').
 */
export function numberOf(identity: string | null): string | null {
  if (identity === null) return null;
  let s = identity.trim();
  const angle = /<([^>]*)>/.exec(s);
  if (angle) s = angle[1] ?? '';
  s = s.replace(/^(sips?|tel):/i, '');
  s = s.replace(/[@;?].*$/, '');
  try {
    s = decodeURIComponent(s);
  } catch {
    // keep it as it is
  }
  s = s.replace(/[\s\-().]/g, '');
  return /^\+?[0-9*#]+$/.test(s) ? s : null;
}

export interface CompiledPolicy {
  readonly config: RecordingPolicyConfig;
  decide(parties: CallParties): PolicyDecision;
}

export function compilePolicy(config: RecordingPolicyConfig): CompiledPolicy {
  const internal = config.internalNumbers.map(compilePattern);
  const blacklist = config.blacklist.map((p) => ({ p, re: compilePattern(p) }));
  const isInternal = (n: string | null): boolean | null =>
    n === null ? null : internal.some((re) => re.test(n));

  return {
    config,
    decide(parties) {
      const caller = numberOf(parties.caller);
      const callee = numberOf(parties.callee);
      const callerInternal = isInternal(caller);
      const calleeInternal = isInternal(callee);
      const direction = callerInternal === null ? 'unknown' : callerInternal ? 'outbound' : 'inbound';
      const scope =
        callerInternal === false || calleeInternal === false
          ? 'external'
          : callerInternal && calleeInternal
            ? 'internal'
            : 'unknown';
      const base = { direction, scope, caller, callee } as const;
      const no = (reason: string): PolicyDecision => ({ ...base, record: false, reason });

      if (config.direction !== 'both' && direction !== 'unknown' && direction !== config.direction) {
        return no(`${direction} call; policy records ${config.direction} calls only`);
      }
      if (config.scope !== 'both' && scope !== 'unknown' && scope !== config.scope) {
        return no(`${scope} call; policy records ${config.scope} calls only`);
      }
      const remote =
        direction === 'inbound' ? [caller] : direction === 'outbound' ? [callee] : [caller, callee];
      for (const n of remote) {
        if (n === null) continue;
        const hit = blacklist.find((b) => b.re.test(n));
        if (hit) return no(`remote number ${n} is blacklisted (${hit.p})`);
      }
      const unknown =
        direction === 'unknown' || scope === 'unknown' ? ' (parties not fully known: recorded)' : '';
      return { ...base, record: true, reason: `recorded by policy${unknown}` };
    },
  };
}

/**
 * The direction to catalogue for a recorded call: `internal` when both parties are internal
 * numbers, else the caller's side. Null (decided when it is stored, from who owned it) when no
 * internal numbers are configured, or when the caller's number is unknown.
 */
export function callDirection(
  d: Pick<PolicyDecision, 'direction' | 'scope'>,
  config: Pick<RecordingPolicyConfig, 'internalNumbers'>,
): 'inbound' | 'outbound' | 'internal' | null {
  if (config.internalNumbers.length === 0) return null;
  if (d.scope === 'internal') return 'internal';
  return d.direction === 'unknown' ? null : d.direction;
}
