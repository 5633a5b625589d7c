#!/usr/bin/env -S node --initial-heap-size=64
// The `srs` command. It runs the compiled JavaScript in dist/ (built by `npm install`, or by
// `npm start` when missing; `npm run build` rebuilds it). SRS_FROM_SOURCE=1 runs the TypeScript
// sources through tsx instead (the tests do, so that they exercise the code as edited; tsx is a
// dev dependency). V8 starts with a 64 MB heap (here, in `npm start` and in docker/Dockerfile):
// with V8's small default, the post-call pipeline's jobs (each alive for a few hundred ms) ran a
// full garbage collection every few recordings.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

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
  await import(cli.href);
}
