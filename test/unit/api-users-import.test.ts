/**
 * Users as CSV over the real HTTP API and a real embedded Postgres: the download, and the import
 * (POST /users/import): a dry run that writes nothing, an import that creates and changes users as
 * the file says (passwords that sign in, disabled accounts that cannot, sessions ended by a new
 * password), audited user by user without a password or hash, a second import of the same file
 * that changes nothing, and bad files refused whole with every bad line named.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csvLine } from '../../src/csv.js';
import {
  addApiUser,
  type ApiHarness,
  type AuditItem,
  parseCsv,
  startApiHarness,
  USERS_CSV_HEADER,
} from '../helpers/api-harness.js';
import type { UserJson } from '../../web/src/views/users.js';

const HEAD = ['Username', 'Display Name', 'role', 'group', 'extra_groups', 'numbers', 'disabled', 'password'];
const FILE =
  csvLine([...HEAD, 'E-Mail', 'notify', 'attach']) +
  csvLine([
    'bob',
    '',
    'supervisor',
    'sales',
    '',
    '1001; 1002',
    '',
    'bob-new-password',
    'bob@example.com',
    'yes',
    '',
  ]) +
  csvLine([
    'carol',
    'Carol, "CC" Jones',
    '',
    'support',
    'sales; night shift',
    'Carol',
    'no',
    'carol-password',
    'carol@example.com',
    '',
    'yes',
  ]) +
  csvLine(['dave', 'Dave', 'record-only', '', '', '2001', 'yes', 'dave-password', '', 'no', '']) +
  csvLine(['erin', 'Erin', 'user', '', '', '', '', '', '', '', '']);

describe('users as CSV: download and import (real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let h: ApiHarness;
  const users = async () =>
    new Map(
      ((await h.call('GET', '/api/v1/users', { as: 'admin' })).json.items as UserJson[]).map((u) => [
        u.username,
        u,
      ]),
    );
  const importCsv = (csv: string, dryRun = false, as = 'admin') =>
    h.call('POST', '/api/v1/users/import', { as, body: { csv, dryRun } });
  const tryLogin = (username: string, password: string) =>
    h.call('POST', '/api/v1/login', { body: { username, password } });
  const audit = async (action: string) =>
    (await h.call('GET', `/api/v1/audit?action=${action}`, { as: 'admin' })).json.items as AuditItem[];

  before(async () => {
    h = await startApiHarness();
    await h.login('admin', 'first-admin-pw');
    await addApiUser(h, 'bob', { role: 'user', displayName: 'Bob', numbers: ['1001'] });
    await addApiUser(h, 'erin', { role: 'user', displayName: 'Erin' });
  });
  after(async () => {
    await h?.close();
  });

  it('a dry run says what the file would do and writes nothing', async () => {
    const r = await importCsv(FILE, true);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json, {
      dryRun: true,
      created: [
        { line: 3, username: 'carol', role: 'user' },
        { line: 4, username: 'dave', role: 'record-only' },
      ],
      updated: [
        { line: 2, username: 'bob', fields: ['role', 'group', 'numbers', 'email', 'notify', 'password'] },
      ],
      unchanged: [{ line: 5, username: 'erin' }],
      disabled: [],
    });
    const now = await users();
    assert.deepEqual([...now.keys()].sort(), ['admin', 'bob', 'erin']);
    assert.equal(now.get('bob')?.role, 'user');
    assert.equal((await audit('users.import')).length, 0);
    assert.equal((await h.call('GET', '/api/v1/me', { as: 'bob' })).status, 200, 'bob still signed in');
  });

  it('the import creates and changes users as the file says, audited user by user', async () => {
    const r = await importCsv(FILE);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.dryRun, false);
    const now = await users();
    const carol = now.get('carol') as UserJson;
    assert.deepEqual(
      [carol.displayName, carol.role, carol.group, carol.extraGroups, carol.numbers, carol.disabled],
      ['Carol, "CC" Jones', 'user', 'support', ['sales', 'night shift'], ['carol'], false],
    );
    assert.equal(now.get('dave')?.disabled, true);
    assert.equal(now.get('dave')?.role, 'record-only');
    const bob = now.get('bob') as UserJson;
    assert.deepEqual(
      [bob.role, bob.group, bob.numbers, bob.displayName],
      ['supervisor', 'sales', ['1001', '1002'], 'Bob'],
    );

    // Passwords from the file sign in; a disabled account cannot; bob's new password ended his session.
    assert.equal((await h.login('carol', 'carol-password')).status, 200);
    assert.equal((await tryLogin('dave', 'dave-password')).status, 401);
    assert.equal((await h.call('GET', '/api/v1/me', { as: 'bob' })).status, 401, 'old session of bob ended');
    assert.equal((await tryLogin('bob', 'bob-password')).status, 401);
    assert.equal((await h.login('bob', 'bob-new-password')).status, 200);

    const created = (await audit('user.create')).filter((e) => e.details.source === 'import');
    assert.deepEqual(created.map((e) => e.details.username).sort(), ['carol', 'dave']);
    const updates = (await audit('user.update')).filter((e) => e.details.source === 'import');
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0]?.details.changes, {
      role: { from: 'user', to: 'supervisor' },
      group: { from: null, to: 'sales' },
      numbers: { from: ['1001'], to: ['1001', '1002'] },
      password: 'set',
    });
    // The notification columns: bob's and carol's settings, audited as the API's changes are.
    const settingsOf = async (name: string) => {
      const id = (now.get(name) as UserJson).id;
      const {
        userId: _,
        username: __,
        ...rest
      } = (await h.call('GET', `/api/v1/users/${id}/notifications`, { as: 'admin' })).json;
      return rest;
    };
    assert.deepEqual(await settingsOf('bob'), { email: 'bob@example.com', enabled: true, attach: false });
    assert.deepEqual(await settingsOf('carol'), { email: 'carol@example.com', enabled: false, attach: true });
    assert.deepEqual(await settingsOf('dave'), { email: null, enabled: false, attach: false });
    const settings = (await audit('notification-settings.update')).filter(
      (e) => e.details.source === 'import',
    );
    assert.deepEqual(Object.fromEntries(settings.map((e) => [e.details.username, e.details.changes])), {
      bob: { email: { from: null, to: 'bob@example.com' }, enabled: { from: false, to: true } },
      carol: { email: { from: null, to: 'carol@example.com' }, attach: { from: false, to: true } },
    });
    const summary = await audit('users.import');
    assert.equal(summary.length, 1);
    assert.deepEqual(summary[0]?.details, { created: 2, updated: 1, unchanged: 1, userAgent: 'node' });
    const trail = JSON.stringify((await h.call('GET', '/api/v1/audit', { as: 'admin' })).json);
    for (const secret of ['carol-password', 'bob-new-password', 'dave-password', 'scrypt$'])
      assert.ok(!trail.includes(secret), `the audit trail holds ${secret}`);
  });

  it('the same file again changes nothing (passwords that match count as unchanged)', async () => {
    const r = await importCsv(FILE);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json.created, r.json.updated], [[], []]);
    assert.equal((r.json.unchanged as unknown[]).length, 4);
    assert.equal((await h.call('GET', '/api/v1/me', { as: 'bob' })).status, 200, 'bob stays signed in');
    assert.equal((await audit('user.update')).filter((e) => e.details.source === 'import').length, 1);
  });

  it('the download lists every user in the import columns, and imports back unchanged', async () => {
    const r = await h.call('GET', '/api/v1/users?format=csv', { as: 'admin' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/csv/);
    const text = r.buf.toString('utf8');
    const rows = parseCsv(text);
    assert.deepEqual(rows[0], USERS_CSV_HEADER);
    assert.deepEqual(
      rows.find((c) => c[0] === 'carol'),
      [
        'carol',
        'Carol, "CC" Jones',
        'user',
        'support',
        'sales; night shift',
        'carol',
        'no',
        'carol@example.com',
        'no',
        'yes',
      ],
    );
    assert.ok(!text.includes('scrypt'), 'no password hash in the download');
    const exported = await audit('users.export');
    assert.equal(exported.length, 1, 'the download is on the trail');
    assert.equal(exported[0]?.details.users, rows.length - 1);
    const back = await importCsv(text, true);
    assert.equal(back.status, 200, JSON.stringify(back.json));
    assert.deepEqual([back.json.created, back.json.updated], [[], []]);
    assert.equal((back.json.unchanged as unknown[]).length, rows.length - 1);
  });

  it('a bad file is refused whole, naming every bad line; nothing changes', async () => {
    const bad =
      csvLine(['username', 'role', 'password', 'numbers', 'email', 'notify']) +
      csvLine(['frank', 'user', 'frank-password', '3001']) +
      csvLine(['gina', 'boss', '', '']) +
      csvLine(['', 'user', '', '']) +
      csvLine(['frank', 'user', '', '']) +
      csvLine(['hank', 'user', 'short', '']) +
      csvLine(['bad name!', 'user', '', '']) +
      csvLine(['kim', 'user', '', '', '', 'yes']) +
      csvLine(['leo', 'user', '', '', 'leo@', '']) +
      csvLine(['max', 'user', '', '', '', 'maybe']);
    const r = await importCsv(bad);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error as string, /8 problems in the file; nothing was imported/);
    const lines = (r.json.rows as { line: number; message: string }[]).map((x) => [x.line, x.message]);
    assert.deepEqual(
      lines.map(([l]) => l),
      [3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.match(String(lines[0]?.[1]), /role/);
    assert.match(String(lines[1]?.[1]), /username: empty/);
    assert.match(String(lines[2]?.[1]), /also on line 2/);
    assert.match(String(lines[3]?.[1]), /password: at least 8 characters/);
    assert.match(String(lines[4]?.[1]), /username/);
    assert.match(String(lines[5]?.[1]), /notify: yes needs an email address/);
    assert.match(String(lines[6]?.[1]), /email: "leo@" is not a valid email address/);
    assert.match(String(lines[7]?.[1]), /notify: "maybe" is not yes or no/);
    assert.equal((await users()).has('frank'), false, 'the good row was not imported either');

    const unknownColumn = await importCsv(csvLine(['username', 'phone']) + csvLine(['ivan', '555']));
    assert.equal(unknownColumn.status, 400);
    assert.match(JSON.stringify(unknownColumn.json.rows), /unknown column \\"phone\\"/);
    const open = await importCsv('username,display_name\r\njack,"Jack\r\nkim,Kim\r\n');
    assert.equal(open.status, 400);
    assert.match(JSON.stringify(open.json.rows), /line 2: a quoted cell is never closed/);
    const empty = await importCsv('');
    assert.equal(empty.status, 400);
    assert.match(JSON.stringify(empty.json.rows), /header line is needed/);
    const noUsername = await importCsv(csvLine(['role']) + csvLine(['user']));
    assert.match(JSON.stringify(noUsername.json.rows), /no username column/);
    const twice = await importCsv(
      csvLine(['username', 'name', 'Display Name']) + csvLine(['olga', 'O', 'Olga']),
    );
    assert.match(JSON.stringify(twice.json.rows), /more than one column for display_name/);
    assert.deepEqual([...(await users()).keys()].sort(), ['admin', 'bob', 'carol', 'dave', 'erin']);
  });

  it('the writes are one transaction: a clash on the last user leaves the first uncreated', async () => {
    await assert.rejects(
      h.db.users.importUsers({
        create: [
          { username: 'lena', role: 'user', password: 'lena-password' },
          { username: 'erin', role: 'user' },
        ],
        update: [],
        subscriptions: [
          { username: 'erin', to: { email: 'erin@example.com', enabled: true, attach: false } },
        ],
      }),
      /user erin already exists/,
    );
    assert.equal((await users()).has('lena'), false);
    const erin = (await users()).get('erin') as UserJson;
    const settings = await h.call('GET', `/api/v1/users/${erin.id}/notifications`, { as: 'admin' });
    assert.equal(settings.json.email, null, 'no settings written either');
  });

  it('only admins may download or import', async () => {
    assert.equal((await h.call('GET', '/api/v1/users?format=csv', { as: 'erin' })).status, 403);
    assert.equal((await importCsv(FILE, true, 'erin')).status, 403);
    assert.equal((await h.call('GET', '/api/v1/users?format=csv')).status, 401);
  });

  it('reads a spreadsheet export with semicolons between cells (byte-order mark, CRLF, quoted lists)', async () => {
    const excel =
      '\uFEFFUsername;Display Name;Role;Additional Groups;Numbers\r\n' +
      'uma;"Uma; Ops";supervisor;"sales;night shift";4001\r\n';
    const r = await importCsv(excel);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.created, [{ line: 2, username: 'uma', role: 'supervisor' }]);
    const uma = (await users()).get('uma') as UserJson;
    assert.deepEqual(
      [uma.displayName, uma.extraGroups, uma.numbers],
      ['Uma; Ops', ['sales', 'night shift'], ['4001']],
    );
  });

  it('refuses a file that would leave no enabled admin', async () => {
    const r = await importCsv(csvLine(['username', 'role']) + csvLine(['admin', 'user']));
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.json.rows), /the import would leave no enabled admin/);
    assert.equal((await users()).get('admin')?.role, 'admin');
  });

  it('disableMissing: the users not in the file are disabled (never the caller), their sessions ended', async () => {
    const file = csvLine(['username']) + csvLine(['erin']);
    const dry = await h.call('POST', '/api/v1/users/import', {
      as: 'admin',
      body: { csv: file, dryRun: true, disableMissing: true },
    });
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.deepEqual(dry.json.disabled, [{ username: 'bob' }, { username: 'carol' }, { username: 'uma' }]);
    assert.equal((await users()).get('bob')?.disabled, false, 'a dry run disables nobody');
    assert.equal((await h.call('GET', '/api/v1/me', { as: 'bob' })).status, 200);

    const r = await h.call('POST', '/api/v1/users/import', {
      as: 'admin',
      body: { csv: file, disableMissing: true },
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const now = await users();
    assert.deepEqual(
      ['admin', 'bob', 'carol', 'dave', 'erin', 'uma'].map((u) => now.get(u)?.disabled),
      [false, true, true, true, false, true],
    );
    assert.equal((await h.call('GET', '/api/v1/me', { as: 'bob' })).status, 401, 'bob signed out');
    const off = (await audit('user.update')).filter(
      (e) => e.details.source === 'import' && e.details.username === 'carol',
    );
    assert.deepEqual(off[0]?.details.changes, { disabled: { from: false, to: true } });
    assert.equal((await audit('users.import'))[0]?.details.disabled, 3);
  });
});
