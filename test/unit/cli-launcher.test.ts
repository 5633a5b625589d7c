import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SRS_BIN, run } from '../helpers/server.js';

/**
 * bin/srs.js, the `srs` command, runs dist/ as built. In a source checkout whose sources changed
 * after the build (a `git pull` without `npm run build`) it says so on stderr and still runs the
 * build; without dist/ it refuses with a message and exit code 1. Run on a copy of the launcher
 * beside a stand-in dist/cli.js, without SRS_FROM_SOURCE.
 */
describe('srs launcher: dist/ missing or older than the sources', () => {
  let dir: string;
  const env = (): Record<string, string> => {
    const e = { ...process.env } as Record<string, string>;
    delete e.SRS_FROM_SOURCE;
    return e;
  };
  const srs = () => run(process.execPath, [join(dir, 'bin', 'srs.js'), 'version'], { env: env() });
  const at = (path: string, ms: number) => utimes(path, new Date(ms), new Date(ms));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-launcher-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'src', 'pipeline'), { recursive: true });
    await copyFile(SRS_BIN, join(dir, 'bin', 'srs.js'));
    await writeFile(join(dir, 'src', 'pipeline', 'jobs.ts'), 'export {};\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start without dist/, with a message and exit code 1', async () => {
    const r = await srs();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /dist\/ is not built: run `npm run build`/);
  });

  it('runs the build; warns only when a source is newer than it', async () => {
    await mkdir(join(dir, 'dist'));
    const cli = join(dir, 'dist', 'cli.js');
    await writeFile(cli, "console.log('the build ran:', process.argv.slice(2).join(' '));\n");
    const now = Date.now();
    await at(cli, now - 60_000);
    await at(join(dir, 'src', 'pipeline', 'jobs.ts'), now - 120_000);
    let r = await srs();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'the build ran: version\n');
    assert.equal(r.stderr, '');

    await at(join(dir, 'src', 'pipeline', 'jobs.ts'), now);
    r = await srs();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'the build ran: version\n');
    assert.match(r.stderr, /^srs: warning: dist\/ is older than the sources \(.*jobs\.ts\).*npm run build/);
  });
});
