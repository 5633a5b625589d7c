/**
 * `srs users` against a running `srs serve` and its embedded Postgres: set-password is the way back
 * in (the new password signs in, the old one and its session stop working), the CSV import and
 * export work as the console's (dry run writes nothing, bad lines named with exit 1), every change
 * is audited as `cli:<unix user>`, and bad input is a clear message with exit 2.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { csvLine, parseCsv } from '../../src/csv.js';
import type { AuditItem } from '../helpers/api-harness.js';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';

describe('srs users (CLI) on a running server', { timeout: 180000 }, () => {
  let server: TestServer;
  let dir: string;
  const srs = (args: string[], input = '') =>
    run(process.execPath, [SRS_BIN, ...args], { env: server.env, input });
  const http = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, init);
  const login = (username: string, password: string) =>
    http('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  const audit = async (action?: string) => {
    const q = action ? `?action=${action}` : '';
    const r = await http(`/audit${q}`, { headers: { authorization: `Bearer ${server.token}` } });
    return ((await r.json()) as { items: AuditItem[] }).items;
  };

  before(async () => {
    server = await startTestServer({ SRS_ADMIN_PASSWORD: 'first-admin-password' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
    dir = await mkdtemp(join(tmpdir(), 'srs-cli-users-'));
  });
  after(async () => {
    if (server?.proc.exitCode === null) await server.stop();
  });

  it('set-password: the new password signs in; the old one and its session stop working', async () => {
    const first = await login('admin', 'first-admin-password');
    assert.equal(first.status, 200);
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] as string;
    assert.equal((await http('/me', { headers: { cookie } })).status, 200);

    const r = await srs(['users', 'set-password', 'admin'], 'recovered-admin-pw\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /password of admin set; their sessions ended/);
    assert.equal((await login('admin', 'recovered-admin-pw')).status, 200);
    assert.equal((await login('admin', 'first-admin-password')).status, 401);
    assert.equal((await http('/me', { headers: { cookie } })).status, 401, 'the old session ended');

    const entry = (await audit('user.update')).find((e) => e.via === 'cli');
    assert.equal(entry?.actor, `cli:${userInfo().username}`);
    assert.deepEqual(entry?.details.changes, { password: 'set' });
    assert.ok(!JSON.stringify(await audit()).includes('recovered-admin-pw'), 'no password in the trail');
  });

  it('set-password refuses a short password (exit 2) and an unknown user (exit 1), changing nothing', async () => {
    const short = await srs(['users', 'set-password', 'admin'], 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /^srs: the password must have at least 8 and at most 200 characters/);
    const nobody = await srs(['users', 'set-password', 'nobody'], 'long-enough-pw\n');
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /^srs: no user nobody/);
    const missing = await srs(['users', 'set-password', 'admin', '--password-file', join(dir, 'none')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*none: ENOENT/);
    // A device or a FIFO is refused at once, not read without end (/dev/zero) or waited on (a FIFO).
    for (const file of ['/dev/zero', dir]) {
      const started = Date.now();
      const odd = await srs(['users', 'set-password', 'admin', '--password-file', file]);
      assert.equal(odd.code, 2, `${file}: ${odd.stderr}`);
      assert.match(odd.stderr, /cannot read .*(not a regular file|a directory)/);
      assert.ok(Date.now() - started < 15000, `${file}: answered in ${Date.now() - started} ms`);
    }
    const device = await srs(['users', 'import', '/dev/zero']);
    assert.equal(device.code, 2, device.stderr);
    assert.match(device.stderr, /cannot read \/dev\/zero: .*not a regular file/);
    assert.equal((await login('admin', 'recovered-admin-pw')).status, 200);
  });

  it('import: a dry run writes nothing; the import creates the users; export lists them', async () => {
    const file = join(dir, 'users.csv');
    await writeFile(
      file,
      csvLine(['username', 'role', 'group', 'email', 'notify', 'password']) +
        csvLine(['pat', 'supervisor', 'sales', 'pat@example.com', 'yes', 'pat-password']) +
        csvLine(['quinn', 'user', 'sales', '', '', '']),
    );
    const dry = await srs(['users', 'import', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /line 2: create pat \(supervisor\)\nline 3: create quinn \(user\)\n/);
    assert.match(dry.stdout, /dry run: would be 2 created, 0 changed, 0 unchanged; nothing written/);
    const listed = async () =>
      (JSON.parse((await srs(['users', 'list', '--json'])).stdout) as { username: string }[]).map(
        (u) => u.username,
      );
    assert.deepEqual(await listed(), ['admin']);

    const done = await srs(['users', 'import', file]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /imported: 2 created, 0 changed, 0 unchanged/);
    assert.deepEqual(await listed(), ['admin', 'pat', 'quinn']);
    assert.equal((await login('pat', 'pat-password')).status, 200);
    const summary = (await audit('users.import'))[0];
    assert.equal(summary?.actor, `cli:${userInfo().username}`);
    assert.deepEqual(
      { created: summary?.details.created, updated: summary?.details.updated },
      { created: 2, updated: 0 },
    );

    const out = await srs(['users', 'export']);
    assert.equal(out.code, 0, out.stderr);
    const exported = (await audit('users.export'))[0];
    assert.equal(exported?.actor, `cli:${userInfo().username}`);
    assert.equal(exported?.details.users, 3);
    const rows = parseCsv(out.stdout);
    assert.deepEqual(
      rows.find((c) => c[0] === 'pat'),
      ['pat', '', 'supervisor', 'sales', '', '', 'no', 'pat@example.com', 'yes', 'no'],
    );
    // What export wrote imports back as it is, from standard input.
    const back = await srs(['users', 'import', '-', '--dry-run'], out.stdout);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /would be 0 created, 0 changed, 3 unchanged/);
    // --disable-missing: the users not in the file, listed on a dry run.
    const only = csvLine(['username']) + csvLine(['admin']) + csvLine(['pat']);
    const sync = await srs(['users', 'import', '-', '--dry-run', '--disable-missing'], only);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /^disable quinn \(not in the file\)$/m);
    assert.match(sync.stdout, /would be 0 created, 0 changed, 2 unchanged, 1 disabled; nothing written/);
  });

  it('a bad file: every bad line on stderr, exit 1, nothing written; a missing file exit 2', async () => {
    const r = await srs(
      ['users', 'import', '-'],
      csvLine(['username', 'role']) +
        csvLine(['rae', 'user']) +
        csvLine(['sam', 'boss']) +
        csvLine(['rae', 'user']),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^line 3: role/m);
    assert.match(r.stderr, /^line 4: username rae is also on line 2$/m);
    assert.match(r.stderr, /^srs: 2 problems in the file; nothing was imported$/m);
    assert.equal(r.stdout, '');
    const list = JSON.parse((await srs(['users', 'list', '--json'])).stdout) as { username: string }[];
    assert.ok(!list.some((u) => u.username === 'rae'));
    const missing = await srs(['users', 'import', join(dir, 'nothing.csv')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^srs: cannot read .*nothing\.csv: ENOENT/);
  });
});
