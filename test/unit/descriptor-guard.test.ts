/**
 * Descriptor admission's arithmetic: a new call fits when the larger of the descriptors counted
 * and the descriptors at start plus `perStream` per live stream, plus what the call needs, plus
 * the reserve, stay under the limit. The real server under a low limit: test/e2e/descriptor-limit.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reserveOf, startDescriptorGuard } from '../../src/recording/descriptor-guard.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('descriptor guard', () => {
  it('counts the live streams whose files are not open yet, and what is open beyond them', async () => {
    let open = 100;
    const g = await startDescriptorGuard({
      perStream: 2,
      intervalMs: 20,
      count: async () => open,
      limit: async () => 1000,
    });
    try {
      assert.equal(reserveOf(1000), 64);
      assert.equal(g.admit(2, 0), undefined);
      // 100 at start + 2 x 416 live streams + 4 for the call + 64 = 1000: fits exactly.
      assert.equal(g.admit(2, 416), undefined);
      assert.match(g.admit(2, 417) ?? '', /open files near the limit: about 934 descriptors held of 1000/);
      assert.equal(g.refusing(416), null);
      assert.notEqual(g.refusing(418), null);
      // Descriptors open beyond the calls' (the pipeline, connections) count once counted.
      open = 940;
      await sleep(80);
      assert.equal(g.state.open, 940);
      assert.match(
        g.admit(1, 0) ?? '',
        /about 940 descriptors held of 1000, a call needs 2 per stream and 64 stay free/,
      );
      open = 100;
      await sleep(80);
      assert.equal(g.admit(1, 0), undefined, 'taken again once they are closed');
    } finally {
      g.stop();
    }
  });

  it('takes every call where the limit is unknown (no /proc)', async () => {
    const g = await startDescriptorGuard({
      perStream: 3,
      count: async () => undefined,
      limit: async () => undefined,
    });
    assert.equal(g.admit(100, 100000), undefined);
    assert.equal(g.refusing(100000), null);
    g.stop();
  });

  it('reads this process’s own count and limit by default', async () => {
    const g = await startDescriptorGuard({ perStream: 2 });
    assert.ok((g.state.open ?? 0) > 0 && (g.state.max ?? 0) > (g.state.open ?? 0), JSON.stringify(g.state));
    g.stop();
  });
});
