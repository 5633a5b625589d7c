import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SRS_BIN, run } from '../helpers/server.js';

/**
 * `srs` usage errors exit 2, as docs/operations.md says (commander's own code is 1): an unknown
 * command or option, a missing required option or argument, on the program and on every
 * subcommand; help exits 0. Run through bin/srs.js.
 */
describe('srs usage errors', () => {
  const srs = (...args: string[]) =>
    run(process.execPath, [SRS_BIN, ...args], {
      env: process.env as Record<string, string>,
    });

  it('exit 2 with commander’s one-line message', async () => {
    for (const [args, message] of [
      [['bogus'], /unknown command 'bogus'/],
      [['--bogus'], /unknown option '--bogus'/],
      [['recordings', '--bogus'], /unknown option '--bogus'/],
      [['recordings', 'get', 'x'], /required option '--out <file>' not specified/],
      [['keys', 'activate'], /missing required argument 'fingerprint'/],
      [['storage', 'migrate', '--nope'], /unknown option '--nope'/],
      [[], /Usage: srs/],
    ] as const) {
      const r = await srs(...args);
      assert.equal(r.code, 2, `srs ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('help exits 0', async () => {
    for (const args of [['--help'], ['recordings', 'list', '--help'], ['help', 'node']]) {
      const r = await srs(...args);
      assert.equal(r.code, 0, `srs ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: srs/);
    }
  });
});
