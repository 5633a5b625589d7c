/**
 * The data directory's lock (`pg.lock`) on a full disk, with the real CLI and embedded Postgres:
 * the data directory is a tmpfs filled up; `srs recordings list` fails with a message naming the
 * data directory and "no space left on device", and leaves no lock behind; once space is freed the
 * next command runs at once (an empty lock left there made it wait two minutes, silently). An
 * empty lock left by an older version is taken over after a few seconds; read-only, it says so,
 * naming the setting. Skipped, saying why,
 * where mounting a tmpfs is refused (not root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, statfs, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { openDatabase } from '../../src/store/db.js';
import { SRS_BIN, run } from '../helpers/server.js';

describe('data directory full: the lock file and the message', { timeout: 300_000 }, () => {
  let mount: string | undefined;
  let dir: string | undefined;
  after(async () => {
    if (mount) spawnSync('umount', ['-l', mount]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails naming the full data directory, leaves no lock, and the next command runs once space is back', async (t) => {
    dir = await mkdtemp(join(tmpdir(), 'srs-e2e-full-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', dir], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()}): needs root`);
      return;
    }
    mount = dir;
    const dataDir = join(dir, 'data');
    const env: Record<string, string> = { ...(process.env as Record<string, string>), SRS_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    // Killed after 60 s: the wait for a leftover lock was two minutes.
    const list = () =>
      run(process.execPath, [SRS_BIN, 'recordings', 'list', '--json'], { env, timeoutMs: 60_000 });
    // A data directory a server has used: its embedded Postgres initialised and migrated.
    await (await openDatabase({ dataDir, log: createLogger('silent') })).close();
    const first = await list();
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), []);

    // Fill every byte left.
    const filler = join(dir, 'filler');
    const st = await statfs(dir);
    await writeFile(filler, Buffer.alloc(Number(st.bavail) * Number(st.bsize))).catch(() => undefined);
    const full = await list();
    assert.notEqual(full.code, 0);
    assert.match(full.stderr, /the data directory .*data is full \(no space left on device/);
    assert.match(full.stderr, /SRS_DATA_DIR/);
    assert.equal(existsSync(join(dataDir, 'pg.lock')), false, 'no lock left behind');
    assert.deepEqual(
      (await readdir(dataDir)).filter((f) => f.startsWith('pg.lock')),
      [],
      'no temporary lock file left either',
    );

    await rm(filler);
    const back = await list();
    assert.equal(back.code, 0, `after space came back: ${back.stderr} (killed: ${back.code === null})`);
    assert.deepEqual(JSON.parse(back.stdout), []);

    // An empty lock from an older version, 10 s old: taken over, not waited on for two minutes.
    await writeFile(join(dataDir, 'pg.lock'), '');
    const past = new Date(Date.now() - 10_000);
    await utimes(join(dataDir, 'pg.lock'), past, past);
    const leftover = await list();
    assert.equal(
      leftover.code,
      0,
      `with an empty lock: ${leftover.stderr} (killed: ${leftover.code === null})`,
    );
    assert.equal(existsSync(join(dataDir, 'pg.lock')), false);

    // The same data directory read-only: said so, naming the setting.
    const ro = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
    assert.equal(ro.status, 0, ro.stderr);
    const readOnly = await list();
    assert.notEqual(readOnly.code, 0);
    assert.match(readOnly.stderr, /the data directory .*data is on a read-only file system .*SRS_DATA_DIR/);
    assert.equal(readOnly.stderr.trim().split('\n').length, 1, readOnly.stderr);
  });
});
