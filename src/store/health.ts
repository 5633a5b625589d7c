import type pg from 'pg';

/**
 * Whether the database answers, known without waiting on it: a `select 1` every `intervalMs`
 * (one at a time), and a probe that gives up after `timeoutMs`. A database that stalls (its
 * storage hangs, a partition that resets nothing) leaves queries waiting without an error; while
 * it does, new calls are refused with 503 and API requests answered 503 at once instead of
 * queueing behind it, and /healthz says so.
 */
export class DatabaseHealth {
  #answering = true;
  #inflight: Promise<boolean> | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly pool: Pick<pg.Pool, 'query'>,
    private readonly timeoutMs = 2000,
    intervalMs = 2000,
  ) {
    this.#timer = setInterval(() => void this.probe(), intervalMs);
    this.#timer.unref();
  }

  /** False once a probe has gone unanswered for timeoutMs (or failed), until one succeeds. */
  get answering(): boolean {
    return this.#answering;
  }

  /** Probes now (or joins the probe under way); resolves within timeoutMs. */
  probe(): Promise<boolean> {
    // Already known stalled, its probe still waiting: no second wait.
    if (this.#inflight && !this.#answering) return Promise.resolve(false);
    this.#inflight ??= this.pool.query('select 1').then(
      () => {
        this.#inflight = undefined;
        return (this.#answering = true);
      },
      () => {
        this.#inflight = undefined;
        return (this.#answering = false);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.#answering = false;
        resolve(false);
      }, this.timeoutMs);
    });
    return Promise.race([this.#inflight, late]).finally(() => clearTimeout(timer));
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
