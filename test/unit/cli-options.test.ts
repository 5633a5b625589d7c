import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, wholeNumber } from '../../src/cli/common.js';

/** `srs recordings list --limit/--offset`: digits only, in range, else one line and exit 2. */
describe('CLI whole-number options', () => {
  it('refuses signs, exponents, fractions, words and values out of range (exit 2, naming the flag)', () => {
    for (const [flag, value, min, max] of [
      ['--limit', 'abc', 1, 1_000_000],
      ['--limit', '0', 1, 1_000_000],
      ['--limit', '1e999', 1, 1_000_000],
      ['--limit', '2.5', 1, 1_000_000],
      ['--limit', '99999999999999999999', 1, 1_000_000],
      ['--limit', '1000001', 1, 1_000_000],
      ['--limit', '', 1, 1_000_000],
      ['--limit', ' 5', 1, 1_000_000],
      ['--offset', 'x', 0, 1_000_000_000],
      ['--offset', '-1', 0, 1_000_000_000],
      ['--offset', '1e3', 0, 1_000_000_000],
      ['--offset', '+3', 0, 1_000_000_000],
      ['--offset', '0x10', 0, 1_000_000_000],
    ] as const) {
      assert.throws(
        () => wholeNumber(flag, value, min, max),
        (err: unknown) =>
          err instanceof CliError &&
          err.exitCode === 2 &&
          err.message === `${flag} must be a whole number from ${min} to ${max}`,
        `${flag} ${JSON.stringify(value)}`,
      );
    }
  });

  it('takes plain digits in range, leading zeros included', () => {
    assert.equal(wholeNumber('--limit', '1', 1, 1_000_000), 1);
    assert.equal(wholeNumber('--limit', '1000000', 1, 1_000_000), 1_000_000);
    assert.equal(wholeNumber('--offset', '0', 0, 1_000_000_000), 0);
    assert.equal(wholeNumber('--offset', '007', 0, 1_000_000_000), 7);
  });
});
