/**
 * What `srs serve` prints when it refuses its configuration never holds a secret (the start error
 * goes to the service's log, read more widely than the config file):
 * - a password, passphrase or secret of the config file given as the wrong type (a number, a list,
 *   an object) is named, not shown. Before, `export.primary.password: expected string, got
 *   918273645`: the value was echoed whenever the secret sat below a section (the check looked at
 *   the section's name, `export`, not the key's);
 * - a config file or an S3 credentials file that is not valid JSON is named with the line, without
 *   the excerpt V8 puts in the message (`..."ssphrase":CFGPASSPHR"... is not valid JSON`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, serveEnv, SRS_BIN } from '../helpers/server.js';

describe('srs serve: a refused configuration never echoes a secret', { timeout: 180_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-e2e-cfgsecret-'));
    env = await serveEnv(join(dir, 'data'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const serve = async (configText: string, more: Record<string, string> = {}) => {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, configText);
    const r = await run(process.execPath, [SRS_BIN, 'serve'], {
      env: { ...env, SRS_CONFIG: file, ...more },
      timeoutMs: 90_000,
    });
    return { code: r.code, out: r.stdout + r.stderr };
  };

  it('names a secret of the wrong type without showing it', async () => {
    const config = {
      export: {
        enabled: true,
        primary: {
          type: 'sftp',
          host: 'backup.example.com',
          username: 'srs',
          password: 918273645,
          directory: '/x',
          hostKeySha256: 'SHA256:AAAA',
        },
        secondary: {
          type: 'sftp',
          host: 'backup2.example.com',
          username: 'srs',
          privateKeyFile: '/nonexistent-key',
          privateKeyPassphrase: 55667788,
          directory: '/x',
          hostKeySha256: 'SHA256:AAAA',
        },
      },
      notifications: {
        enabled: true,
        smtp: { host: 'smtp.example.com', password: ['SMTP-ARRAY-PW-55'] },
        from: 'rec@example.com',
      },
      directory: {
        url: 'ldap://ldap.example.com:389',
        bindDn: 'cn=reader',
        bindPassword: { pw: 'LDAP-OBJ-PW-77' },
        baseDn: 'dc=example',
      },
    };
    const { code, out } = await serve(JSON.stringify(config));
    assert.equal(code, 2, out);
    for (const setting of [
      'export.primary.password',
      'export.secondary.privateKeyPassphrase',
      'notifications.smtp.password',
      'directory.bindPassword',
    ])
      assert.ok(out.includes(`${setting}: expected string`), `${setting} named: ${out}`);
    for (const secret of ['918273645', '55667788', 'SMTP-ARRAY-PW-55', 'LDAP-OBJ-PW-77'])
      assert.ok(!out.includes(secret), `${secret} echoed: ${out}`);
  });

  it('names the line of a config file that is not valid JSON without quoting it', async () => {
    const { code, out } = await serve('{\n  "keys": {\n    "passphrase": CFGPASSPHRASE12345\n  }\n}\n');
    assert.equal(code, 2, out);
    assert.match(out, /cannot read config file .*: Unexpected token 'C' near line 3: not valid JSON/);
    assert.ok(!out.includes('CFGPASSPH'), `part of the passphrase echoed: ${out}`);
  });

  it('names an S3 credentials file that is not valid JSON without quoting it', async () => {
    const creds = join(dir, 's3-credentials.json');
    await writeFile(creds, '{"accessKeyId":"AKIAEXAMPLE","secretAccessKey":S3SECRETVALUE123}');
    const { code, out } = await serve('{}', {
      SRS_STORAGE: 's3',
      S3_BUCKET: 'recordings-test',
      S3_ENDPOINT: 'http://127.0.0.1:1',
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREDENTIALS_FILE: creds,
    });
    assert.notEqual(code, 0, out);
    assert.match(out, /s3-credentials\.json: not valid JSON/);
    assert.ok(!out.includes('S3SECRETVA'), `part of the secret key echoed: ${out}`);
  });
});
