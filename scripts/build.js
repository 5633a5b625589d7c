// Builds what `srs` runs in production, in plain JavaScript so that it needs neither tsx nor the
// dev dependencies (it runs at `npm install`, `npm ci --omit=dev` included):
//   server   src/**/*.ts -> dist/ with tsc (tsconfig.build.json), plus the SQL migrations;
//   console  web/src/main.ts -> web/dist/app.js with esbuild (one ES module, minified, with a
//            source map), plus the files beside web/src (index.html, style.css, icons).
// Usage: node scripts/build.js [--server] [--web] [--if-stale]   (neither part named: both)
// `--if-stale` builds a part only when its output is missing or older than a file of its sources
// (`npm start`: after a `git pull` it ran the previous build without a word).
import { spawnSync } from 'node:child_process';
import { copyFile, cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = new Set(process.argv.slice(2));
const both = !args.has('--server') && !args.has('--web');
const ifStale = args.has('--if-stale');
const exists = (p) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** The newest modification time (ms) of the files below `dir` (0 when there are none). */
async function newest(dir) {
  let t = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const st = await stat(join(e.parentPath ?? e.path, e.name));
    t = Math.max(t, st.mtimeMs);
  }
  return t;
}

/** Is `output` there and newer than every file below each of `sources` and each of `files`? */
async function current(output, sources, files = []) {
  const built = await stat(output).then(
    (st) => st.mtimeMs,
    () => undefined,
  );
  if (built === undefined) return false;
  for (const dir of sources) if ((await exists(dir)) && (await newest(dir)) > built) return false;
  for (const f of files) if ((await stat(f)).mtimeMs > built) return false;
  return true;
}

async function buildServer() {
  const dist = join(root, 'dist');
  if (ifStale && (await current(join(dist, 'cli.js'), [join(root, 'src')]))) return;
  // The Docker image installs dependencies before it copies the sources: nothing to build yet.
  if (!(await exists(join(root, 'src', 'cli.ts')))) return;
  const t0 = Date.now();
  await rm(dist, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('build: tsc failed\n');
    process.exit(1);
  }
  await cp(join(root, 'src', 'store', 'migrations'), join(dist, 'store', 'migrations'), { recursive: true });
  process.stdout.write(`server built in ${dist} (${Date.now() - t0} ms)\n`);
}

async function buildWeb() {
  const web = join(root, 'web');
  const dist = join(web, 'dist');
  if (ifStale) {
    const beside = (await readdir(web, { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(web, e.name));
    if (await current(join(dist, 'app.js'), [join(web, 'src')], beside)) return;
  }
  if (!(await exists(join(web, 'src', 'main.ts')))) return;
  const t0 = Date.now();
  const { build } = await import('esbuild');
  await mkdir(dist, { recursive: true });
  await build({
    entryPoints: [join(web, 'src', 'main.ts')],
    outfile: join(dist, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  // The page, its style sheet, icons: every file beside src/ is served as it is.
  for (const e of await readdir(web, { withFileTypes: true })) {
    if (e.isFile()) await copyFile(join(web, e.name), join(dist, e.name));
  }
  process.stdout.write(`web console built in ${dist} (${Date.now() - t0} ms)\n`);
}

if (both || args.has('--server')) await buildServer();
if (both || args.has('--web')) await buildWeb();
