import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';
import { sipp, waitForState, type ListedRecording } from '../helpers/sipp.js';

/**
 * The CLI finds the server's data as the server does and never creates any; Ctrl-C on the
 * terminal (SIGINT to the whole process group) stops the server cleanly, database last.
 */
describe('srs CLI data directory and a clean Ctrl-C', { timeout: 180000 }, () => {
  let server: TestServer;
  let elsewhere: string;
  let callId: string;
  /** The user's environment without any of the server's data settings. */
  let bareEnv: Record<string, string>;

  before(async () => {
    server = await startTestServer({}, undefined, { detached: true });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    elsewhere = await mkdtemp(join(tmpdir(), 'srs-cwd-'));
    bareEnv = { ...server.env };
    for (const k of ['SRS_DATA_DIR', 'SRS_CONFIG', 'DATABASE_URL']) delete bareEnv[k];
    callId = `cli-data-${process.pid}@srs-test`;
    const r = await sipp(`127.0.0.1:${server.sipPort}`, 'siprec-basic.xml', ['-cid_str', callId]);
    assert.equal(r.code, 0, `sipp failed\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);
    await waitForState(server, callId, 'stored');
  });
  after(async () => {
    if (server?.proc.exitCode === null) await server.stop();
  });

  const srs = (env: Record<string, string>, ...args: string[]) =>
    run(process.execPath, [SRS_BIN, ...args], { cwd: elsewhere, env });

  it('with no data directory found: exits non-zero, says where it looked, creates nothing', async () => {
    const r = await srs(bareEnv, 'recordings', 'list', '--json');
    assert.notEqual(r.code, 0, `exit ${r.code}: ${r.stdout}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^srs: no recording server data in /);
    assert.ok(r.stderr.includes(join(elsewhere, 'data')), r.stderr);
    assert.match(r.stderr, /default \.\/data/);
    assert.match(r.stderr, /--data-dir, SRS_DATA_DIR or dataDir in the config file/);
    assert.deepEqual(await readdir(elsewhere), [], 'the CLI created files');

    const named = await srs({ ...bareEnv, SRS_DATA_DIR: join(elsewhere, 'nothing') }, 'keys', 'list');
    assert.equal(named.code, 2);
    assert.match(named.stderr, /nothing \(from SRS_DATA_DIR\)/);
    assert.deepEqual(await readdir(elsewhere), []);
  });

  it('with SRS_DATA_DIR, --data-dir or the config file: the server data and its recordings', async () => {
    const viaEnv = await srs({ ...bareEnv, SRS_DATA_DIR: server.dataDir }, 'recordings', 'list', '--json');
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const rows = JSON.parse(viaEnv.stdout) as ListedRecording[];
    assert.ok(
      rows.some((r) => r.callId === callId && r.state === 'stored'),
      viaEnv.stdout.slice(0, 500),
    );
    const viaFlag = await srs(bareEnv, '--data-dir', server.dataDir, 'recordings', 'list', '--json');
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    assert.deepEqual(JSON.parse(viaFlag.stdout), rows);
    const config = join(elsewhere, 'srs.json');
    await writeFile(config, JSON.stringify({ dataDir: server.dataDir }));
    const viaFile = await srs(bareEnv, '--config', config, 'recordings', 'list', '--json');
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.deepEqual(JSON.parse(viaFile.stdout), rows);
  });

  it('refuses a --limit or --offset that is not a whole number in range, exit 2, listing nothing', async () => {
    const env = { ...bareEnv, SRS_DATA_DIR: server.dataDir };
    // Every shape of bad value is in test/unit/cli-options.test.ts; the real CLI for one of each flag.
    for (const [flag, value] of [
      ['--limit', '1e999'],
      ['--offset', 'x'],
    ] as const) {
      const r = await srs(env, 'recordings', 'list', '--json', flag, value);
      assert.equal(r.code, 2, `${flag} ${value}: exit ${r.code}: ${r.stdout.slice(0, 200)}`);
      assert.equal(r.stdout, '', `${flag} ${value}`);
      assert.match(
        r.stderr,
        new RegExp(`^srs: ${flag} must be a whole number from ${flag === '--limit' ? 1 : 0} to `),
      );
    }
    const ok = await srs(env, 'recordings', 'list', '--json', '--limit', '1', '--offset', '0');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as unknown[]).length, 1);
  });

  it('SIGINT to the process group (Ctrl-C): exit 0, no error lines, postgres stopped', async () => {
    const pid = server.proc.pid;
    assert.ok(pid);
    const exited = new Promise<number | null>((r) => server.proc.once('exit', (code) => r(code)));
    process.kill(-pid, 'SIGINT');
    const code = await exited;
    const out = server.output();
    assert.equal(code, 0, out.slice(-3000));
    const errors = out
      .split('\n')
      .filter((l) => /"level":(50|60)|\berror\b|FATAL|terminating connection/i.test(l));
    assert.deepEqual(errors, []);
    assert.match(out, /embedded postgres: stopped/);
  });
});
