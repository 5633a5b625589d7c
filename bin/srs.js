#!/usr/bin/env -S node --initial-heap-size=64
// The `srs` command. It runs the compiled JavaScript in dist/ (built by `npm install`, or by
// `npm start` when missing or older than the sources; `npm run build` rebuilds it). SRS_FROM_SOURCE=1
// runs the TypeScript sources through tsx instead (the tests do, so that they exercise the code as
// edited; tsx is a dev dependency). V8 starts with a 64 MB heap (here, in `npm start` and in
// docker/Dockerfile): with V8's small default, the post-call pipeline's jobs (each alive for a few
// hundred ms) ran a full garbage collection every few recordings.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

/** A source file below `dir` modified after `builtMs`, if any (a checkout after `git pull`). */
function newerSource(dir, builtMs) {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const path = join(e.parentPath ?? e.path, e.name);
    if (statSync(path).mtimeMs > builtMs) return path;
  }
  return undefined;
}

if (process.env.SRS_FROM_SOURCE === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
} else {
  const cli = new URL('../dist/cli.js', import.meta.url);
  if (!existsSync(cli)) {
    process.stderr.write(
      'srs: dist/ is not built: run `npm run build` (or `npm install`) in the srs directory\n',
    );
    process.exit(1);
  }
  // In a source checkout (an installed package or the Docker image has no src/), say so when the
  // sources changed after the build: this command would run the old code without a word.
  const src = fileURLToPath(new URL('../src', import.meta.url));
  if (existsSync(src)) {
    const newer = newerSource(src, statSync(cli).mtimeMs);
    if (newer)
      process.stderr.write(
        `srs: warning: dist/ is older than the sources (${newer}): this runs the code as last built; run \`npm run build\` to run the sources as they are\n`,
      );
  }
  await import(cli.href);
}
