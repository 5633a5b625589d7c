/**
 * The audit trail of throttled attempts (logins, own password changes), bounded. Each refused
 * attempt used to append its own entry, so anyone without credentials could grow the hash-chained
 * trail by hundreds of entries a second from one address, and every audited action waited behind
 * them. Now the first refusal of a key (an address, or an account from an address) in a window is
 * audited at once, so the trail shows throttling as it starts; the refusals that follow in the
 * window are only counted, and one summary entry (their count, the first and last time, the
 * usernames and addresses seen) is appended when the window ends. At most `maxOpen` keys have a
 * window at a time: refusals past that share one window of their own (key `*`), so many addresses
 * add no more than one more pair of entries a window. Pending summaries are not written when the
 * process stops.
 */

/** What a window's summary says. */
export interface ThrottleSummary {
  /** Refusals in the window, the first one (audited at once) included. */
  count: number;
  from: string;
  to: string;
  /** Distinct usernames tried (at most LIST_MAX), and how many more there were. */
  usernames: string[];
  addresses: string[];
  moreUsernames: number;
  moreAddresses: number;
}

const LIST_MAX = 20;

interface Window {
  count: number;
  from: number;
  to: number;
  usernames: Set<string>;
  addresses: Set<string>;
  moreUsernames: number;
  moreAddresses: number;
}

const addCapped = (set: Set<string>, v: string): number => {
  if (set.has(v)) return 0;
  if (set.size >= LIST_MAX) return 1;
  set.add(v);
  return 0;
};

export class ThrottleAudit {
  readonly #open = new Map<string, Window>();

  constructor(
    /** How long a key's refusals are counted before their summary is written. */
    readonly windowMs = 60_000,
    /** Keys with an open window at once; refusals of more keys share the key `*`. */
    readonly maxOpen = 100,
  ) {}

  /**
   * Counts a refused attempt of `key` (by `username` from `address`). Returns true when it opens
   * a window: the caller audits it now. `summarize` is called when the window ends, only when
   * more refusals came within it.
   */
  refused(
    key: string,
    username: string,
    address: string,
    summarize: (s: ThrottleSummary) => void,
    now = Date.now(),
  ): boolean {
    const k = this.#open.has(key) || this.#open.size < this.maxOpen ? key : '*';
    const w = this.#open.get(k);
    if (w) {
      w.count++;
      w.to = now;
      w.moreUsernames += addCapped(w.usernames, username);
      w.moreAddresses += addCapped(w.addresses, address);
      return false;
    }
    const fresh: Window = {
      count: 1,
      from: now,
      to: now,
      usernames: new Set([username]),
      addresses: new Set([address]),
      moreUsernames: 0,
      moreAddresses: 0,
    };
    this.#open.set(k, fresh);
    const timer = setTimeout(() => {
      this.#open.delete(k);
      if (fresh.count > 1)
        summarize({
          count: fresh.count,
          from: new Date(fresh.from).toISOString(),
          to: new Date(fresh.to).toISOString(),
          usernames: [...fresh.usernames],
          addresses: [...fresh.addresses],
          moreUsernames: fresh.moreUsernames,
          moreAddresses: fresh.moreAddresses,
        });
    }, this.windowMs);
    timer.unref();
    return true;
  }
}
