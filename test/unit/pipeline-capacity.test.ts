import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dynamicGate, PipelineCapacity, tieredGate, type Backlog } from '../../src/pipeline/capacity.js';

/** A capacity with a hand-driven clock, CPU meter, live-call count and backlog. */
function rig(o: { maxBacklogSeconds?: number; cpuShare?: number } = {}) {
  const state = {
    cpu: 0,
    calls: 0,
    backlog: { jobs: 0, audioSeconds: 0, oldestSpoolStartedAt: null } as Backlog,
  };
  const c = new PipelineCapacity({
    cores: 2,
    maxConcurrency: 2,
    cpuShare: o.cpuShare ?? 0.5,
    maxBacklogSeconds: o.maxBacklogSeconds ?? 300,
    initialCostPerAudioMinute: 0.2,
    liveCalls: () => state.calls,
    backlog: async () => state.backlog,
    cpuSeconds: () => state.cpu,
  });
  return { c, state };
}

describe('pipeline capacity', () => {
  it('fits CPU per live call from windows without jobs, then the cost per audio-minute from windows with jobs', () => {
    const { c, state } = rig();
    const t0 = Math.ceil(performance.now()); // whole ms: the window sums stay exact
    state.calls = 100;
    c.tick(t0);
    // 10 s, 100 calls, 0.5 CPU s: 0.0005 cores per call (the starting guess): unchanged.
    state.cpu += 0.5;
    c.tick(t0 + 10_000);
    // 20 s more with 4 CPU s: 0.002 cores per call; the fit moves a third of the way, twice.
    state.cpu += 2;
    c.tick(t0 + 20_000);
    state.cpu += 2;
    c.tick(t0 + 30_000);
    const perCall = c.snapshot().coresPerLiveCall;
    assert.ok(perCall > 0.0009 && perCall < 0.002, `cores per call ${perCall}`);
    // A window with jobs: 60 audio-minutes stored with 10 CPU s beyond the calls' share.
    c.jobStarted();
    for (let i = 0; i < 60; i++) {
      c.jobFinished({ audioSeconds: 60, byeToStoredSeconds: 3 });
      if (i < 59) c.jobStarted();
    }
    state.cpu += 10 + perCall * 100 * 10;
    c.tick(t0 + 40_000);
    const cost = c.snapshot().costPerAudioMinute;
    // 10/60 = 0.167 s per audio-minute; the fit moves from 0.2 towards it.
    assert.ok(cost < 0.2 && cost > 0.167, `cost ${cost}`);
    assert.equal(c.latency.count, 60);
    assert.equal(c.latency.buckets[2], 60, '3 s falls in the 5 s bucket');
    assert.equal(c.latency.buckets[1], 0, 'not in the 2 s bucket');
  });

  it('jobs at once follow the live load, never below the reserved share', () => {
    const { c, state } = rig({ cpuShare: 0.5 });
    state.calls = 0;
    assert.equal(c.concurrency(), 2, 'idle: both cores');
    state.calls = 3000; // 0.0005 cores each: 1.5 cores of calls
    assert.equal(c.pipelineCores(), 1, 'the reserved share: half of 2 cores');
    assert.equal(c.concurrency(), 1);
    state.calls = 100_000;
    assert.equal(c.concurrency(), 1, 'never starved');
    assert.equal(c.borrowable(), 1, 'the other core lent in the background');
    assert.equal(c.snapshot().borrowable, 1);
    state.calls = 0;
    assert.equal(c.borrowable(), 0, 'nothing to borrow when every slot is reserved');
  });

  it('the tiered gate fills the reserved slots first, then lends background ones, in arrival order', async () => {
    let reserved = 1;
    let borrowed = 1;
    const gate = tieredGate(
      () => reserved,
      () => borrowed,
    );
    const a = await gate.acquire();
    const b = await gate.acquire();
    assert.deepEqual([a.background, b.background], [false, true]);
    const order: string[] = [];
    const pc = gate.acquire().then((s) => (order.push(`c:${s.background}`), s));
    const pd = gate.acquire().then((s) => (order.push(`d:${s.background}`), s));
    await Promise.resolve();
    assert.deepEqual(order, [], 'both tiers full: the third and fourth wait');
    b.release();
    const c = await pc;
    assert.deepEqual(order, ['c:true'], 'a background slot came back: the first waiter takes it');
    borrowed = 0;
    c.release();
    await Promise.resolve();
    assert.deepEqual(order, ['c:true'], 'no longer lent: the freed background slot is not handed on');
    a.release();
    a.release(); // a second release is ignored
    const d = await pd;
    assert.equal(d.background, false, 'the reserved slot');
    reserved = 2;
    const e = await gate.acquire();
    assert.equal(e.background, false, 'the reserved count rose');
    d.release();
    e.release();
  });

  it('a long recording waits for a reserved slot; later ones may still borrow', async () => {
    const gate = tieredGate(
      () => 1,
      () => 1,
    );
    const a = await gate.acquire();
    const order: string[] = [];
    const pLong = gate.acquire(false).then((s) => (order.push(`long:${s.background}`), s));
    const short = await gate.acquire();
    assert.equal(short.background, true, 'the free background slot goes to the one that may borrow');
    assert.deepEqual(order, [], 'the long one does not take a background slot');
    short.release();
    await Promise.resolve();
    assert.deepEqual(order, [], 'nor the one given back');
    a.release();
    const long = await pLong;
    assert.deepEqual(order, ['long:false'], 'it runs once a reserved slot is free');
    long.release();
  });

  it('refuses new calls only when the backlog would take longer than the limit to drain', async () => {
    const { c, state } = rig({ maxBacklogSeconds: 60 });
    // 2 cores, 0.2 CPU s per audio-minute: 600 audio-minutes need 60 s.
    state.backlog = {
      jobs: 590,
      audioSeconds: 590 * 60,
      oldestSpoolStartedAt: new Date(Date.now() - 90_000),
    };
    await c.refresh();
    assert.equal(c.refusal(), undefined);
    const s = c.snapshot();
    assert.ok(s.admitting && s.inUse > 0.95 && s.inUse < 1, `in use ${s.inUse}`);
    assert.ok(s.oldestSpoolAgeSeconds >= 89);
    state.backlog = { jobs: 610, audioSeconds: 610 * 60, oldestSpoolStartedAt: null };
    await c.refresh();
    assert.match(c.refusal() ?? '', /backlog needs 61 s to drain \(limit 60 s, SRS_MAX_BACKLOG_SECONDS\)/);
    assert.equal(c.snapshot().admitting, false);
    // A measured drain rate replaces the estimate: a saturated 10 s window storing 20 recordings of
    // 1 minute (2 a second) makes 610 queued recordings about 305 s.
    const t0 = Math.ceil(performance.now()); // whole ms: the window sums stay exact
    c.tick(t0);
    c.tick(t0 + 10_001);
    for (let i = 0; i < 20; i++) {
      c.jobStarted();
      c.jobFinished({ audioSeconds: 60, byeToStoredSeconds: 1 });
    }
    c.tick(t0 + 20_002);
    assert.ok(
      Math.abs(c.snapshot().drainJobsPerSecond - 2) < 0.01,
      `rate ${c.snapshot().drainJobsPerSecond}`,
    );
    assert.ok(Math.abs(c.backlogSeconds() - 305) < 2, `backlog ${c.backlogSeconds()} s`);
    const unbounded = rig({ maxBacklogSeconds: 0 });
    unbounded.state.backlog = state.backlog;
    await unbounded.c.refresh();
    assert.equal(unbounded.c.refusal(), undefined, '0 = never refuse');
  });

  it('the gate hands out at most its (moving) limit, in arrival order', async () => {
    let limit = 1;
    const gate = dynamicGate(() => limit);
    const order: number[] = [];
    const r1 = await gate.acquire();
    const p2 = gate.acquire().then((r) => (order.push(2), r));
    const p3 = gate.acquire().then((r) => (order.push(3), r));
    await Promise.resolve();
    assert.deepEqual(order, []);
    limit = 2;
    r1();
    const r2 = await p2;
    const r3 = await p3;
    assert.deepEqual(order, [2, 3], 'both admitted once the limit rose and a slot came back');
    r2();
    r2(); // a second release is ignored
    r3();
    const r4 = await gate.acquire();
    const r5 = await gate.acquire();
    r4();
    r5();
  });
});

describe('pipeline capacity: a step of the wall clock', () => {
  it('does not skew the per-call CPU fit (its windows are timed on the monotonic clock)', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { c, state } = rig();
    state.calls = 100;
    const before = c.snapshot().coresPerLiveCall;
    // A few CPU seconds, then the wall clock jumps 7 h ahead (NTP, a resumed VM), a second passes.
    state.cpu += 2;
    t.mock.timers.setTime(Date.now() + 7 * 3600_000);
    const until = performance.now() + 50;
    while (performance.now() < until);
    c.tick();
    c.tick();
    const after = c.snapshot().coresPerLiveCall;
    // Before, 100 calls x 7 h of "call seconds" went into the window: the fit fell to nothing.
    assert.equal(after, before);
  });
});
