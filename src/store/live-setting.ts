import type { Logger } from '../log.js';
import type { UsersRepository } from './users.js';

/**
 * A setting that admins change while the server runs, over the configured value. The configuration
 * is the default until a value is saved (a row of `settings`); from then on the saved one wins, on
 * every node, until it is dropped (stored as null) and the configuration applies again. It is
 * re-read after each save and every refreshMs, so every node of a cluster follows within seconds.
 * A saved value that no longer parses (hand-edited, or from another version) is logged and the
 * configured one applies. Used by the recording policy (src/recording/live-policy.ts) and the
 * retention policy (src/pipeline/live-retention.ts).
 */
export interface LiveSettingOptions<T> {
  /** The `settings` row. */
  key: string;
  /** The configured value: used while none is saved. */
  defaults: T;
  settings: Pick<UsersRepository, 'getSetting' | 'setSetting'>;
  /** A stored value checked: null when it is not one. */
  parse: (raw: unknown) => T | null;
  /** Told of each change of the value in force (at start too, when a saved one differs). */
  onChange?: (next: T) => void;
  log: Logger;
  /** How often the saved value is re-read (it is also re-read after a save). */
  refreshMs?: number;
}

export class LiveSetting<T> {
  readonly #o: LiveSettingOptions<T>;
  #value: T;
  #saved = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(o: LiveSettingOptions<T>) {
    this.#o = o;
    this.#value = o.defaults;
  }

  /** The value in force. */
  get value(): T {
    return this.#value;
  }

  /** The configured value (in force while none is saved). */
  get defaults(): T {
    return this.#o.defaults;
  }

  /** Whether an admin saved a value (else the configuration's applies). */
  get saved(): boolean {
    return this.#saved;
  }

  /** Reads the saved value (at start, after each save and drop, and every refreshMs). */
  async reload(): Promise<void> {
    const raw = await this.#o.settings.getSetting<unknown>(this.#o.key);
    const stored = raw === undefined || raw === null ? null : this.#o.parse(raw);
    if (raw !== undefined && raw !== null && !stored)
      this.#o.log.warn({ key: this.#o.key }, 'the saved setting is not valid: the configured one applies');
    const next = stored ?? this.#o.defaults;
    if (JSON.stringify(next) !== JSON.stringify(this.#value)) {
      this.#value = next;
      this.#o.onChange?.(next);
      this.#o.log.info({ key: this.#o.key, value: next, saved: stored !== null }, 'setting changed');
    }
    this.#saved = stored !== null;
  }

  async init(): Promise<void> {
    await this.reload();
    this.#timer = setInterval(() => {
      this.reload().catch((err: unknown) =>
        this.#o.log.warn({ err, key: this.#o.key }, 'setting: reload failed'),
      );
    }, this.#o.refreshMs ?? 10_000);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Stores a value (checked by the caller) and applies it. */
  async save(v: T, by: string): Promise<void> {
    await this.#o.settings.setSetting(this.#o.key, v, by);
    await this.reload();
  }

  /** Drops the saved value: the configured one applies again. */
  async reset(by: string): Promise<void> {
    await this.#o.settings.setSetting(this.#o.key, null, by);
    await this.reload();
  }
}
