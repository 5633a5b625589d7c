/**
 * The delivery services' pass loop (src/delivery/periodic.ts): a pass that stops at its batch size
 * with more waiting starts the next at once, so a backlog drains at the speed of the work; a pass
 * with nothing more waits the interval; passes never overlap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeriodicService } from '../../src/delivery/periodic.js';
import { createLogger } from '../../src/log.js';

class Drain extends PeriodicService {
  passes = 0;
  inPass = 0;
  overlapped = false;
  constructor(
    public queue: number,
    private readonly batch: number,
  ) {
    super(createLogger('silent'), 'test item');
  }
  protected pauseMs(): number {
    return 60_000;
  }
  async tick(): Promise<void> {
    this.passes++;
    if (++this.inPass > 1) this.overlapped = true;
    await new Promise((r) => setTimeout(r, 2));
    const take = Math.min(this.batch, this.queue);
    this.queue -= take;
    if (take === this.batch) this.more();
    this.inPass--;
  }
}

describe('PeriodicService', () => {
  it('a full pass starts the next at once; the last one waits the interval', async () => {
    const s = new Drain(1050, 50);
    s.start();
    try {
      const t0 = Date.now();
      while (s.queue > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
      assert.equal(s.queue, 0, 'a backlog of 21 batches drained without waiting 60 s between them');
      await new Promise((r) => setTimeout(r, 100));
      // 21 full passes and the one that found nothing more; then it waits the 60 s interval.
      assert.equal(s.passes, 22);
      assert.equal(s.overlapped, false);
    } finally {
      await s.stop();
    }
  });
});
