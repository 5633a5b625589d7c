// Builds what `srs` runs in production, in plain JavaScript so that it needs neither tsx nor the
// dev dependencies (it runs at `npm install`, `npm ci --omit=dev` included):
//   server   src/**/*.ts -> dist/ with tsc (tsconfig.build.json), plus the SQL migrations;
//   console  web/src/main.ts -> web/dist/app.js with esbuild (one ES module, minified, with a
//            source map), plus the files beside web/src (index.html, style.css, icons).
// Usage: node scripts/build.js [--server] [--web] [--if-missing]   (neither part named: both)
// `--if-missing` builds a part only when its output does not exist yet (`npm start`).
import { spawnSync } from 'node:child_process';
import { copyFile, cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = new Set(process.argv.slice(2));
const both = !args.has('--server') && !args.has('--web');
const ifMissing = args.has('--if-missing');
const exists = (p) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function buildServer() {
  const dist = join(root, 'dist');
  if (ifMissing && (await exists(join(dist, 'cli.js')))) return;
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
  if (ifMissing && (await exists(join(dist, 'app.js')))) return;
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
