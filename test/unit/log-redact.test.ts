/**
 * The log's safety net: a secret under one of the redacted keys never reaches a log line, at the
 * top of the logged object or nested. Before, pino's paths (`*.password` ...) covered one level
 * only: `log.info({ password })` and `log.info({ a: { b: { secret } } })` were written as given.
 * The logger runs in a child process (it writes to stdout), as `srs serve` runs it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../helpers/server.js';

const script = `
import { createLogger } from './src/log.ts';
const log = createLogger('trace');
log.info({ password: 'S1-password', token: 'S2-token', secret: 'S3-secret' }, 'top');
log.info({ a: { b: { passphrase: 'S4-passphrase', secretAccessKey: 'S5-s3' } } }, 'nested');
log.info({ req: { headers: { authorization: 'Bearer S6-bearer', cookie: 'srs_session=S7' } } }, 'headers');
log.info({ smtp: { bindPassword: 'S8-ldap', privateKeyPassphrase: 'S9-key' }, keySalt: 'S10-srtp' }, 'more');
log.info({ user: 'alice', count: 3 }, 'plain');
`;

describe('log: redacted keys', () => {
  it('never writes the value of a secret key at any of the first three levels', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
    }).toString();
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 5, out);
    for (let i = 1; i <= 10; i++)
      assert.ok(!out.includes(`S${i}-`) && !out.includes('=S7'), `S${i} written: ${out}`);
    assert.equal((out.match(/\[redacted\]/g) ?? []).length, 10, out);
    assert.match(lines[4] as string, /"user":"alice","count":3/);
  });
});
