/**
 * The live monitor's limits (docs/api.md, "Live monitor"): what one socket may ask of the database,
 * how many sockets one credential may hold, and the heartbeat that closes dead sockets.
 *
 * - A listen or a recording control on a live call writes audit rows (and reads settings) on the
 *   catalogue's pool, which also writes new calls' rows. A socket has one such operation in flight
 *   at a time (others: error `busy`), and a bucket of `OPERATION_BURST` operations refilled with one
 *   every `OPERATION_REFILL_MS` (beyond: error, rate). A socket refused `ABUSE_REFUSALS` times
 *   within `ABUSE_WINDOW_MS` is closed with 1008. Requests that cost no database (a call that does
 *   not exist, a channel it lacks) are answered as before and not counted.
 * - At most `maxPerPrincipal` sockets per user (else per session or API token); more are closed at
 *   once with `CLOSE_TOO_MANY_SOCKETS`.
 * - The server pings every socket every `pingMs`; one that has not answered the previous ping is
 *   terminated (a half-open or silent socket goes within two intervals).
 */
import type { WebSocket, WebSocketServer } from 'ws';
import type { Principal } from '../store/users.js';

/** Listen/control operations a socket may start at once before the refill rate applies. */
export const OPERATION_BURST = 10;
/** One more listen/control operation a socket may start per this many ms. */
export const OPERATION_REFILL_MS = 1000;
/** Refused listen/control requests within `ABUSE_WINDOW_MS` that close the socket (1008). */
export const ABUSE_REFUSALS = 50;
export const ABUSE_WINDOW_MS = 10_000;
/** Monitor sockets one user (or session, or API token) may hold at once, by default. */
export const DEFAULT_MAX_SOCKETS_PER_PRINCIPAL = 8;
/** Server ping interval by default. */
export const DEFAULT_PING_MS = 30_000;
/** Close code of a socket over its credential's cap (as 4401 is a revoked one's: 4000 + HTTP 429). */
export const CLOSE_TOO_MANY_SOCKETS = 4429;
/** Close code of a socket that keeps sending requests it is refused (policy violation). */
export const CLOSE_ABUSE = 1008;

/** Why a listen/control request was not started, and whether the socket is to be closed. */
export interface Refusal {
  status: 409 | 429;
  error: string;
  close: boolean;
}

/**
 * One socket's listen/control operations: one in flight, a token bucket, and the count of recent
 * refusals. `admit()` decides; `run()` holds the slot while an admitted operation lasts.
 */
export class OperationGate {
  #pending = false;
  #tokens = OPERATION_BURST;
  #refilledAt: number;
  #refusals = 0;
  #windowFrom: number;
  constructor(private readonly now: () => number = Date.now) {
    this.#refilledAt = now();
    this.#windowFrom = now();
  }

  /** null when the operation may start (a token taken), else why not. */
  admit(): Refusal | null {
    const now = this.now();
    const earned = Math.floor((now - this.#refilledAt) / OPERATION_REFILL_MS);
    if (earned > 0) {
      this.#tokens = Math.min(OPERATION_BURST, this.#tokens + earned);
      this.#refilledAt =
        this.#tokens === OPERATION_BURST ? now : this.#refilledAt + earned * OPERATION_REFILL_MS;
    }
    let refusal: Omit<Refusal, 'close'> | null = null;
    if (this.#pending)
      refusal = {
        status: 409,
        error: 'busy: the previous listen or control request of this connection is not answered yet',
      };
    else if (this.#tokens < 1)
      refusal = {
        status: 429,
        error:
          `too many listen or control requests: at most ${OPERATION_BURST} at once, then one per ` +
          `${OPERATION_REFILL_MS / 1000} s`,
      };
    if (!refusal) {
      this.#tokens--;
      return null;
    }
    if (now - this.#windowFrom > ABUSE_WINDOW_MS) {
      this.#windowFrom = now;
      this.#refusals = 0;
    }
    this.#refusals++;
    return { ...refusal, close: this.#refusals >= ABUSE_REFUSALS };
  }

  /** Runs an admitted operation; the socket's next one may start once it settles. */
  run(op: () => Promise<void>): Promise<void> {
    this.#pending = true;
    let p: Promise<void>;
    try {
      p = op();
    } catch (err) {
      p = Promise.reject(err as Error);
    }
    return p.finally(() => {
      this.#pending = false;
    });
  }
}

/** The sockets each credential holds (a user's sessions and tokens together), against a cap. */
export class SocketCounts {
  readonly #open = new Map<string, number>();
  constructor(readonly max: number) {}

  /** The key `who` is counted under: the user, else the session or token, else the name. */
  static keyOf(who: Principal): string {
    if (who.userId) return `user:${who.userId}`;
    if (who.sessionId) return `credential:${who.sessionId}`;
    return `name:${who.username}`;
  }

  /**
   * Takes a slot for `key`: the function that gives it back (once, whatever calls it), or null
   * when `key` holds `max` already.
   */
  take(key: string): (() => void) | null {
    const n = this.#open.get(key) ?? 0;
    if (n >= this.max) return null;
    this.#open.set(key, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left > 0) this.#open.set(key, left);
      else this.#open.delete(key);
    };
  }
}

/**
 * Pings every socket of `wss` every `intervalMs`; a socket that has not answered (pong) since the
 * previous ping is terminated, and `onDead` told. Returns the timer (unref'd).
 */
export function startHeartbeat(
  wss: WebSocketServer,
  intervalMs: number,
  onDead: (ws: WebSocket) => void,
): NodeJS.Timeout {
  const answered = new WeakSet<WebSocket>();
  const seen = new WeakSet<WebSocket>();
  const timer = setInterval(() => {
    for (const ws of wss.clients) {
      if (!seen.has(ws)) {
        // New since the last round: it starts with a clean slate.
        seen.add(ws);
        answered.add(ws);
        ws.on('pong', () => answered.add(ws));
      }
      if (!answered.has(ws)) {
        onDead(ws);
        ws.terminate();
        continue;
      }
      answered.delete(ws);
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }, intervalMs);
  timer.unref();
  return timer;
}
