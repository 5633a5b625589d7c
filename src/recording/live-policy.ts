import type { Logger } from '../log.js';
import { LiveSetting } from '../store/live-setting.js';
import type { UsersRepository } from '../store/users.js';

/**
 * The recording policy at run time: a live setting (src/store/live-setting.ts, the `settings` row
 * `recording.policy`) over the configuration (SRS_RECORD_DIRECTION, SRS_INTERNAL_NUMBERS,
 * SRS_BLACKLIST, ... or `policy.*`), saved and dropped through /api/v1/recording-policy. Each call
 * takes the policy current when its INVITE arrives. The rules themselves (patterns, decisions) are
 * src/sip/app/policy.ts, passed in by app.ts.
 */

export const POLICY_SETTING_KEY = 'recording.policy';

/** The policy's settings (the shape of src/sip/app/policy.ts's RecordingPolicyConfig). */
export interface PolicySettings {
  direction: 'inbound' | 'outbound' | 'both';
  scope: 'internal' | 'external' | 'both';
  internalNumbers: readonly string[];
  blacklist: readonly string[];
  excludedAction: 'answer' | 'decline';
  declineStatus: number;
}

export interface LivePolicyOptions<C> {
  /** The configured policy: used while no policy is saved. */
  defaults: PolicySettings;
  settings: Pick<UsersRepository, 'getSetting' | 'setSetting'>;
  /** Compiles settings into what the SIP front end decides with. */
  compile: (p: PolicySettings) => C;
  /** Throws a ConfigError naming a bad number pattern (src/sip/app/policy.ts's checkPattern). */
  checkPattern: (pattern: string) => void;
  log: Logger;
  /** How often the saved policy is re-read (it is also re-read after a save). */
  refreshMs?: number;
}

const DIRECTIONS = ['inbound', 'outbound', 'both'];
const SCOPES = ['internal', 'external', 'both'];
const ACTIONS = ['answer', 'decline'];

export class LivePolicy<C> {
  readonly #o: LivePolicyOptions<C>;
  readonly #live: LiveSetting<PolicySettings>;
  #compiled: C;

  constructor(o: LivePolicyOptions<C>) {
    this.#o = o;
    this.#compiled = o.compile(o.defaults);
    this.#live = new LiveSetting<PolicySettings>({
      key: POLICY_SETTING_KEY,
      defaults: o.defaults,
      settings: o.settings,
      parse: (raw) => this.#stored(raw),
      onChange: (next) => (this.#compiled = o.compile(next)),
      log: o.log,
      ...(o.refreshMs !== undefined ? { refreshMs: o.refreshMs } : {}),
    });
  }

  /** The compiled policy new calls are decided by. */
  current(): C {
    return this.#compiled;
  }

  /** The policy in force. */
  get config(): PolicySettings {
    return this.#live.value;
  }

  /** The configured policy (in force while none is saved). */
  get defaults(): PolicySettings {
    return this.#live.defaults;
  }

  /** Whether an admin saved a policy (else the configuration's applies). */
  get saved(): boolean {
    return this.#live.saved;
  }

  /** Throws a ConfigError when a pattern of `p` is not valid. */
  check(p: PolicySettings): void {
    for (const pattern of [...p.internalNumbers, ...p.blacklist]) this.#o.checkPattern(pattern);
  }

  /** A stored policy, checked; null when it is not one (the configured policy applies then). */
  #stored(raw: unknown): PolicySettings | null {
    if (typeof raw !== 'object' || raw === null) return null;
    const p = raw as Record<string, unknown>;
    const list = (v: unknown): string[] | null =>
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
    const internalNumbers = list(p.internalNumbers);
    const blacklist = list(p.blacklist);
    const status = p.declineStatus;
    if (
      !DIRECTIONS.includes(p.direction as string) ||
      !SCOPES.includes(p.scope as string) ||
      !ACTIONS.includes(p.excludedAction as string) ||
      typeof status !== 'number' ||
      !Number.isInteger(status) ||
      status < 400 ||
      status > 699 ||
      !internalNumbers ||
      !blacklist
    )
      return null;
    const s: PolicySettings = {
      direction: p.direction as PolicySettings['direction'],
      scope: p.scope as PolicySettings['scope'],
      internalNumbers,
      blacklist,
      excludedAction: p.excludedAction as PolicySettings['excludedAction'],
      declineStatus: status,
    };
    try {
      this.check(s);
    } catch {
      return null;
    }
    return s;
  }

  /** Reads the saved policy (at start, after each save, and every refreshMs). */
  reload(): Promise<void> {
    return this.#live.reload();
  }

  init(): Promise<void> {
    return this.#live.init();
  }

  close(): void {
    this.#live.close();
  }

  /** Drops the saved policy: the configured one applies again to the calls that start afterwards. */
  reset(by: string): Promise<void> {
    return this.#live.reset(by);
  }

  /** Checks and stores a policy, and applies it to the calls that start afterwards. */
  async save(p: PolicySettings, by: string): Promise<void> {
    this.check(p);
    await this.#live.save(p, by);
  }
}
