import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, seconds, wholeNumber } from '../../src/cli/common.js';

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

/** `srs recordings list --timeout`: seconds in SRS_SEARCH_TIMEOUT_MS's range (0.1 to 3600), else exit 2. */
describe('CLI seconds options', () => {
  it('refuses words, signs, exponents, too many decimals and values out of range (exit 2, naming the flag)', () => {
    for (const value of [
      'abc',
      '',
      '0',
      '0.05',
      '3600.5',
      '3601',
      '-1',
      '+2',
      '1e3',
      '1.',
      '.5',
      '0.0001',
      '1,5',
      'Infinity',
      'NaN',
      '2s',
      ' 2',
    ]) {
      assert.throws(
        () => seconds('--timeout', value, 0.1, 3600),
        (err: unknown) =>
          err instanceof CliError &&
          err.exitCode === 2 &&
          err.message === '--timeout must be a number of seconds from 0.1 to 3600 (e.g. 30 or 0.5)',
        JSON.stringify(value),
      );
    }
  });

  it('takes seconds with up to three decimals, as milliseconds', () => {
    assert.equal(seconds('--timeout', '0.1', 0.1, 3600), 100);
    assert.equal(seconds('--timeout', '0.5', 0.1, 3600), 500);
    assert.equal(seconds('--timeout', '30', 0.1, 3600), 30_000);
    assert.equal(seconds('--timeout', '1.234', 0.1, 3600), 1234);
    assert.equal(seconds('--timeout', '3600', 0.1, 3600), 3_600_000);
  });
});
