import pg from 'pg';

/** What DatabaseHealth probes with: by default a connection of its own (see below). */
export interface Probe {
  query(text: string): Promise<unknown>;
}

/**
 * Whether the database answers, known without waiting on it: a `select 1` every `intervalMs`
 * (one at a time), and a probe that gives up after `timeoutMs`. A database that stalls (its
 * storage hangs, a partition that resets nothing) leaves queries waiting without an error; while
 * it does, new calls are refused with 503 and API requests answered 503 at once instead of
 * queueing behind it, and /healthz says so.
 *
 * The probe has a connection of its own, not one of the pool's: a pool busy for a moment under
 * load is not a database that does not answer.
 */
export class DatabaseHealth {
  #answering = true;
  #inflight: Promise<boolean> | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly probeWith: Probe,
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
    this.#inflight ??= this.probeWith.query('select 1').then(
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

/**
 * A probe on a connection of its own to `connectionString`, made again after it fails (a new one
 * must be ready within `connectTimeoutMs`). `end()` closes it.
 */
export function ownConnection(
  connectionString: string,
  connectTimeoutMs = 2000,
): Probe & { end(): Promise<void> } {
  let client: pg.Client | undefined;
  let ready: Promise<pg.Client> | undefined;
  const drop = (c: pg.Client) => {
    if (client === c) {
      client = undefined;
      ready = undefined;
    }
    void c.end().catch(() => undefined);
  };
  const connect = (): Promise<pg.Client> => {
    if (ready) return ready;
    const c = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs });
    c.on('error', () => drop(c));
    client = c;
    ready = c.connect().then(
      () => c,
      (err: unknown) => {
        drop(c);
        throw err;
      },
    );
    return ready;
  };
  return {
    async query(text) {
      const c = await connect();
      try {
        return await c.query(text);
      } catch (err) {
        drop(c);
        throw err;
      }
    },
    end() {
      const c = client;
      client = undefined;
      ready = undefined;
      // Not waited for: on a database that does not answer it would wait with it.
      void c?.end().catch(() => undefined);
      return Promise.resolve();
    },
  };
}
