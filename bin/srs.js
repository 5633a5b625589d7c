#!/usr/bin/env node
// The `srs` command. The sources are TypeScript run through tsx's loader, so a fresh clone needs
// no build step: `npm install && npm start` is all.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
