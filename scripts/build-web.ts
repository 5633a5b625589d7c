/**
 * Builds the web console into web/dist with esbuild's JavaScript API (esbuild comes with tsx):
 * web/src/main.ts -> app.js (one ES module, minified, with a source map), plus index.html and
 * style.css. `--if-missing` builds only when web/dist/app.js does not exist yet.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const web = fileURLToPath(new URL('../web/', import.meta.url));
const dist = join(web, 'dist');

if (process.argv.includes('--if-missing')) {
  const exists = await stat(join(dist, 'app.js')).then(
    () => true,
    () => false,
  );
  if (exists) process.exit(0);
}
const t0 = Date.now();
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
await copyFile(join(web, 'index.html'), join(dist, 'index.html'));
await copyFile(join(web, 'style.css'), join(dist, 'style.css'));
process.stdout.write(`web console built in ${dist} (${Date.now() - t0} ms)\n`);
