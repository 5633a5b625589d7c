import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, SRS_BIN } from '../helpers/server.js';

/**
 * `srs serve` with a bad setting exits at once with one line naming it. A data directory under
 * /proc used to hang the server before its first log line (Node's mkdir -p spins there forever);
 * the rest of the refusals are in test/unit/config-bad-values.test.ts.
 */
describe('srs serve: a bad setting', () => {
  it('stops the start with exit code 2 and one line naming the setting and its value', async () => {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      SRS_DATA_DIR: `/proc/srs-e2e-${process.pid}/data`,
      SIP_HOST: '127.0.0.1',
      SIP_PORT: String(await freePort(true)),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(await freePort()),
      SRS_KEY_PASSPHRASE: 'e2e-secret-passphrase',
      LOG_LEVEL: 'info',
    };
    delete env.DATABASE_URL;
    const r = await run(process.execPath, [SRS_BIN, 'serve'], { env, timeoutMs: 30_000 });
    assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}; stdout: ${r.stdout.slice(-500)}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /^srs: .*SRS_DATA_DIR.*\/proc\/srs-e2e-\d+\/data/);
    assert.doesNotMatch(r.stdout, /SIPREC recording server ready/);
  });

  it('a FIFO as the configuration file: exit 2 and one line at once (was: waited for ever)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'srs-fifo-config-'));
    try {
      const fifo = join(dir, 'config.json');
      execFileSync('mkfifo', [fifo]);
      for (const args of [['--config', fifo, 'recordings', 'list'], ['serve']]) {
        const env = { ...(process.env as Record<string, string>), SRS_CONFIG: fifo, SRS_DATA_DIR: dir };
        const r = await run(process.execPath, [SRS_BIN, ...args], { env, timeoutMs: 30_000 });
        assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}; stderr: ${r.stderr}`);
        assert.match(r.stderr, /^srs: cannot read config file .*config\.json: .*is not a regular file/);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
