import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { readSettingFile, readSettingFileSync } from '../../src/config/setting-file.js';

/**
 * Files named in the settings (configuration, TLS PEMs, passwords, credentials, templates): a FIFO,
 * a device or a directory is refused at once, a file over the limit too, instead of a start that
 * waits for ever for a FIFO's writer or reads /dev/zero without end.
 */
describe('files named in the settings', () => {
  let dir = '';
  let fifo = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'srs-setting-file-'));
    fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a FIFO, a device, a directory and a file over the limit, at once', async () => {
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(2000, 0x41));
    const cases: [string, RegExp][] = [
      [fifo, /is not a regular file \(a FIFO, socket or device\)/],
      ['/dev/zero', /\/dev\/zero is not a regular file/],
      [dir, /is a directory/],
    ];
    for (const [path, re] of cases) {
      assert.throws(() => readSettingFileSync(path), re, path);
      await assert.rejects(readSettingFile(path), re, path);
    }
    assert.throws(() => readSettingFileSync(big, 1999), /is larger than 1999 bytes/);
    await assert.rejects(readSettingFile(big, 1999), /is larger than 1999 bytes/);
    assert.equal(readSettingFileSync(big, 2000).length, 2000);
    assert.equal((await readSettingFile(big, 2000)).length, 2000);
  });

  it('reads to the end, not to the size stat gives (a /proc file says 0)', async () => {
    assert.match(readSettingFileSync('/proc/self/status').toString(), /^Name:/);
    assert.match((await readSettingFile('/proc/self/status')).toString(), /^Name:/);
  });

  it('a FIFO as a TLS certificate is refused at start, naming the setting', () => {
    assert.throws(
      () => loadConfig({ SIP_TLS_CERT: fifo, SIP_TLS_KEY: fifo }),
      /SIP_TLS_CERT.*is not a regular file/,
    );
  });
});
