import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CapacityError } from '../../src/errors.js';
import { PortPool } from '../../src/media/ports.js';

describe('PortPool', () => {
  it('hands out contiguous even ports spaced by 2', () => {
    const pool = new PortPool(20000, 20099);
    assert.equal(pool.size, 50);
    assert.deepEqual(pool.allocate(2), [20000, 20002]);
    assert.deepEqual(pool.allocate(3), [20004, 20006, 20008]);
    assert.equal(pool.available, 45);
  });

  it('keeps RTCP (port+1) inside the range', () => {
    assert.equal(new PortPool(20000, 20009).size, 5); // 20008 + 1 = 20009
    assert.equal(new PortPool(20000, 20010).size, 5); // 20010 + 1 would be outside
    assert.deepEqual(new PortPool(20000, 20001).allocate(1), [20000]);
  });

  it('rotates instead of reusing just-freed ports', () => {
    const pool = new PortPool(30000, 30019); // 10 even ports
    const a = pool.allocate(2);
    pool.release(a);
    assert.deepEqual(pool.allocate(2), [30004, 30006]);
    assert.deepEqual(pool.allocate(4), [30008, 30010, 30012, 30014]);
    // 30016, 30018 free at the end, then wrap round to 30000.
    assert.deepEqual(pool.allocate(2), [30016, 30018]);
    assert.deepEqual(pool.allocate(2), [30000, 30002]);
  });

  it('finds a contiguous run, never wrapping it round the end', () => {
    const pool = new PortPool(40000, 40011); // 6 ports: 40000..40010
    const all = pool.allocate(6);
    pool.release([all[0]!, all[5]!]); // 40000 and 40010 free, but not adjacent
    assert.throws(() => pool.allocate(2), CapacityError);
    pool.release([all[1]!]);
    assert.deepEqual(pool.allocate(2), [40000, 40002]);
  });

  it('throws CapacityError when full and recovers after release', () => {
    const pool = new PortPool(50000, 50007); // 4 ports
    const a = pool.allocate(2);
    const b = pool.allocate(2);
    assert.throws(
      () => pool.allocate(1),
      (err: unknown) => err instanceof CapacityError && err.code === 'ERR_CAPACITY',
    );
    pool.release(b);
    pool.release(b); // safe twice
    assert.equal(pool.available, 2);
    assert.deepEqual(pool.allocate(2), b);
    assert.deepEqual(a, [50000, 50002]);
  });

  it('ignores ports it does not own and validates its arguments', () => {
    const pool = new PortPool(10000, 10099);
    pool.release([1, 10001, 10000, 99999]);
    assert.equal(pool.available, 50);
    assert.throws(() => new PortPool(10001, 10099), RangeError);
    assert.throws(() => new PortPool(10000, 10000), RangeError);
    assert.throws(() => new PortPool(10000, 70000), RangeError);
    assert.throws(() => pool.allocate(0), RangeError);
    assert.throws(() => pool.allocate(51), CapacityError);
  });

  it('never hands out a port twice under churn', () => {
    const pool = new PortPool(20000, 20199); // 100 ports
    const held: number[][] = [];
    const owned = new Set<number>();
    let seed = 1;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let i = 0; i < 5000; i++) {
      if (held.length > 0 && (rand() < 0.45 || pool.available < 4)) {
        const ports = held.splice(Math.floor(rand() * held.length), 1)[0]!;
        for (const p of ports) owned.delete(p);
        pool.release(ports);
      } else {
        const ports = pool.allocate(2);
        assert.equal(ports[1], ports[0]! + 2);
        for (const p of ports) {
          assert.ok(!owned.has(p), `port ${p} handed out twice`);
          owned.add(p);
        }
        held.push(ports);
      }
    }
    assert.equal(pool.available, 100 - owned.size);
  });
});
