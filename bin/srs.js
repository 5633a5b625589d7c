#!/usr/bin/env -S node --initial-heap-size=64
// The `srs` command. The sources are TypeScript run through tsx's loader, so a fresh clone needs
// no build step: `npm install && npm start` is all. V8 starts with a 64 MB heap (here, in
// `npm start` and in docker/Dockerfile): with V8's small default, the post-call pipeline's jobs
// (each alive for a few hundred ms) ran a full garbage collection every few recordings.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
