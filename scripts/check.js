// The static checks `npm test` runs before its tests: the type check (tsc --noEmit), ESLint and
// Prettier. Each is one thread, so they run side by side (on the 2-core CI machine that takes the
// time of the longest instead of the sum). Each one's output is printed whole when it ends, in
// this order; the exit code is 1 when any of them failed.
// Usage: node scripts/check.js
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const checks = [
  ['type check', bin('tsc'), ['--noEmit']],
  ['eslint', bin('eslint'), ['.']],
  ['prettier', bin('prettier'), ['--check', '.']],
];

/** Runs one check; resolves to its exit code and its output (stdout and stderr as they came). */
function run([name, script, args]) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => out.push(b));
    child.on('error', (err) => resolve({ name, code: 1, out: `${err.message}\n`, ms: Date.now() - t0 }));
    child.on('close', (code, signal) =>
      resolve({
        name,
        code: code ?? (signal ? 1 : 0),
        out: Buffer.concat(out).toString(),
        ms: Date.now() - t0,
      }),
    );
  });
}

const results = await Promise.all(checks.map(run));
let failed = 0;
for (const r of results) {
  process.stdout.write(r.out);
  process.stdout.write(
    `check: ${r.name} ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code})`} in ${r.ms} ms\n`,
  );
  if (r.code !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
