import type { Logger } from '../log.js';
import type { UsersRepository } from '../store/users.js';

/**
 * The recording policy at run time. The configuration (SRS_RECORD_DIRECTION, SRS_INTERNAL_NUMBERS,
 * SRS_BLACKLIST, ... or `policy.*`) is the default until an admin saves a policy
 * (PUT /api/v1/recording-policy); from then on the saved one (the `settings` row
 * `recording.policy`) wins, until it is dropped (DELETE, which stores null). It is re-read after each save and every refreshMs, so every node of a
 * cluster follows within seconds; each call takes the policy current when its INVITE arrives. The
 * rules themselves (patterns, decisions) are src/sip/app/policy.ts, passed in by app.ts.
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
  #config: PolicySettings;
  #compiled: C;
  #saved = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(o: LivePolicyOptions<C>) {
    this.#o = o;
    this.#config = o.defaults;
    this.#compiled = o.compile(o.defaults);
  }

  /** The compiled policy new calls are decided by. */
  current(): C {
    return this.#compiled;
  }

  /** The policy in force. */
  get config(): PolicySettings {
    return this.#config;
  }

  /** The configured policy (in force while none is saved). */
  get defaults(): PolicySettings {
    return this.#o.defaults;
  }

  /** Whether an admin saved a policy (else the configuration's applies). */
  get saved(): boolean {
    return this.#saved;
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
  async reload(): Promise<void> {
    const raw = await this.#o.settings.getSetting<unknown>(POLICY_SETTING_KEY);
    const stored = raw === undefined || raw === null ? null : this.#stored(raw);
    if (raw !== undefined && raw !== null && !stored)
      this.#o.log.warn(
        { key: POLICY_SETTING_KEY },
        'the saved recording policy is not valid: the configured one applies',
      );
    const next = stored ?? this.#o.defaults;
    if (JSON.stringify(next) !== JSON.stringify(this.#config)) {
      this.#compiled = this.#o.compile(next);
      this.#config = next;
      this.#o.log.info({ policy: next, saved: stored !== null }, 'recording policy changed');
    }
    this.#saved = stored !== null;
  }

  async init(): Promise<void> {
    await this.reload();
    this.#timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.#o.log.warn({ err }, 'recording policy: reload failed'));
    }, this.#o.refreshMs ?? 10_000);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Drops the saved policy: the configured one applies again to the calls that start afterwards. */
  async reset(by: string): Promise<void> {
    await this.#o.settings.setSetting(POLICY_SETTING_KEY, null, by);
    await this.reload();
  }

  /** Checks and stores a policy, and applies it to the calls that start afterwards. */
  async save(p: PolicySettings, by: string): Promise<void> {
    this.check(p);
    await this.#o.settings.setSetting(POLICY_SETTING_KEY, p, by);
    await this.reload();
  }
}
