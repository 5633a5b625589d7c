import type { Logger } from '../log.js';

/**
 * A service that runs one pass (`tick`) at a time: the next pass is scheduled when the current one
 * ends, so passes never overlap; `kick` asks for a pass now (after the current one, if any), and
 * `stop` waits for the pass in flight.
 */
export abstract class PeriodicService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private again = false;
  private loop: (() => void) | undefined;
  protected stopped = false;

  protected constructor(
    protected readonly log: Logger,
    private readonly what: string,
  ) {}

  /** One pass. */
  abstract tick(): Promise<unknown>;
  /**
   * What the loop runs each time (default: a pass). The next one is scheduled when it ends: a
   * service whose parts go at their own pace (export's destinations) returns before all of them end.
   */
  protected pass(): Promise<unknown> {
    return this.tick();
  }
  /** The pause between the end of a pass and the start of the next. */
  protected abstract pauseMs(): number;

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.again = false;
      this.running = this.pass()
        .catch((err: unknown) => this.log.error({ err: (err as Error).message }, `${this.what} pass failed`))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.again ? 0 : this.pauseMs());
        });
    };
    this.loop = loop;
    this.timer = setTimeout(loop, 0);
  }

  /**
   * Called by a pass that stopped at its batch size with more waiting: the next pass starts as soon
   * as this one ends, not after the pause, so a backlog drains at the speed of the work, not at one
   * batch per interval.
   */
  protected more(): void {
    this.again = true;
  }

  /** Runs a pass now (after the current one, if any): a manual retry need not wait for the interval. */
  kick(): void {
    if (!this.loop || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(this.loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
