/**
 * A rejected promise nobody catches must not end the recorder (src/process-faults.ts): a real Node
 * process, with and without the handler `srs serve` installs, rejects a promise and then keeps a
 * timer due; with the handler it logs the rejection, counts it in /metrics' series and runs on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a script in a fresh Node process (TypeScript through tsx): its exit code and output. */
function node(script: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const SCRIPT = (install: boolean) => `
import { createLogger } from './src/log.ts';
import { keepRunningOnRejections } from './src/process-faults.ts';
import { Metrics } from './src/api/metrics.ts';
import { registerProcessMetrics } from './src/api/process-metrics.ts';
const m = new Metrics();
const stop = registerProcessMetrics(m);
if (${install}) keepRunningOnRejections(createLogger('info'));
void Promise.reject(new Error('one task failed'));
void Promise.reject(new Error('another task failed'));
setTimeout(async () => {
  const text = await m.render();
  console.log('still running;', text.split('\\n').find((l) => l.startsWith('srs_unhandled_rejections_total')));
  stop();
}, 200);
`;

describe('unhandled promise rejections (a real Node process)', () => {
  it('end the process without the handler', () => {
    const r = node(SCRIPT(false));
    assert.notEqual(r.code, 0);
    assert.match(r.out, /one task failed/);
    assert.doesNotMatch(r.out, /still running/);
  });

  it('are logged and counted with it, and the process runs on', () => {
    const r = node(SCRIPT(true));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /still running; srs_unhandled_rejections_total 2/);
    const logged = r.out.split('\n').filter((l) => l.includes('unhandled promise rejection'));
    assert.equal(logged.length, 2, r.out);
    assert.match(logged[0] ?? '', /"level":50/);
    assert.match(logged[0] ?? '', /one task failed/);
  });
});
