/**
 * The process series of /metrics, read against what this process really does: descriptors it
 * opens and closes, memory it touches, CPU it burns, an event loop it blocks, and the open-files
 * limit as a shell child of it reports it. The real server's figures: test/e2e/process-metrics.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { Metrics } from '../../src/api/metrics.js';
import { registerProcessMetrics } from '../../src/api/process-metrics.js';

const WINDOW_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('process metrics', () => {
  const m = new Metrics();
  const stop = registerProcessMetrics(m, { lagWindowMs: WINDOW_MS });
  after(stop);
  const scrape = async () => {
    const text = await m.render();
    const values = new Map<string, number>();
    for (const line of text.split('\n')) {
      const x = /^(\w+) (\S+)$/.exec(line);
      if (x) values.set(x[1] as string, Number(x[2]));
    }
    return { text, get: (name: string) => values.get(name) ?? assert.fail(`${name} missing:\n${text}`) };
  };

  it('declares each family with its type, under the client libraries’ names', async () => {
    const { text } = await scrape();
    for (const [name, type] of [
      ['process_cpu_seconds_total', 'counter'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_cpu_system_seconds_total', 'counter'],
      ['process_start_time_seconds', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_open_fds', 'gauge'],
      ['process_max_fds', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_heap_size_total_bytes', 'gauge'],
      ['nodejs_external_memory_bytes', 'gauge'],
      ['nodejs_eventloop_lag_max_seconds', 'gauge'],
      ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
      ['nodejs_eventloop_lag_mean_seconds', 'gauge'],
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
  });

  it('counts the descriptors this process opens and closes', async () => {
    const before = (await scrape()).get('process_open_fds');
    // A synchronous listing right after (its own descriptor not counted) sees the same number, or
    // a few less: the scrape's other reads (/proc/self/limits) are open at the same time.
    const listed = readdirSync('/proc/self/fd').length - 1;
    assert.ok(before >= listed && before <= listed + 3, `/metrics ${before}, listed ${listed}`);
    const files: FileHandle[] = [];
    for (let i = 0; i < 64; i++) files.push(await open('/proc/self/status', 'r'));
    const opened = (await scrape()).get('process_open_fds');
    for (const f of files) await f.close();
    const closed = (await scrape()).get('process_open_fds');
    assert.ok(Math.abs(opened - before - 64) <= 2, `64 opened: ${before} -> ${opened}`);
    assert.ok(Math.abs(closed - before) <= 2, `all closed: ${before} -> ${closed}`);
  });

  it('reports the open-files limit a child of this process is given', async () => {
    const shell = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    assert.ok(shell > 0);
    assert.equal((await scrape()).get('process_max_fds'), shell);
  });

  it('shows memory touched, the CPU burnt and the start time', async () => {
    const s0 = await scrape();
    const big = Buffer.alloc(256 << 20, 1);
    const t = Date.now();
    while (Date.now() - t < 300);
    const s1 = await scrape();
    assert.ok(
      s1.get('process_resident_memory_bytes') - s0.get('process_resident_memory_bytes') >= 200 << 20,
      'a 256 MiB buffer written shows in resident memory',
    );
    assert.ok(s1.get('nodejs_external_memory_bytes') - s0.get('nodejs_external_memory_bytes') >= 250 << 20);
    const burnt = s1.get('process_cpu_seconds_total') - s0.get('process_cpu_seconds_total');
    assert.ok(burnt >= 0.25 && burnt < 2, `300 ms of busy loop: ${burnt} CPU-s`);
    const parts = s1.get('process_cpu_user_seconds_total') + s1.get('process_cpu_system_seconds_total');
    assert.ok(
      Math.abs(s1.get('process_cpu_seconds_total') - parts) < 0.05,
      `total ${s1.get('process_cpu_seconds_total')}, user + system ${parts}`,
    );
    const started = s1.get('process_start_time_seconds');
    assert.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - 600, `start ${started}`);
    big.fill(0);
  });

  it('shows a blocked event loop in the window it happened in, and a quiet one after', async () => {
    await sleep(WINDOW_MS * 1.2);
    const t = Date.now();
    while (Date.now() - t < 300);
    // The window that held the block is the one scraped until the next rotation.
    let blocked = await scrape();
    for (let i = 0; i < 40 && blocked.get('nodejs_eventloop_lag_max_seconds') < 0.25; i++) {
      await sleep(WINDOW_MS / 10);
      blocked = await scrape();
    }
    const max = blocked.get('nodejs_eventloop_lag_max_seconds');
    assert.ok(max >= 0.25 && max < 1, `a 300 ms block: max lag ${max} s`);
    assert.ok(blocked.get('nodejs_eventloop_lag_mean_seconds') < max);
    await sleep(WINDOW_MS * 2.5);
    const quiet = await scrape();
    assert.ok(quiet.get('nodejs_eventloop_lag_max_seconds') < 0.1, 'the next windows are quiet');
    assert.ok(quiet.get('nodejs_eventloop_lag_p99_seconds') < 0.1);
  });
});
