/**
 * The LDAP directory as an operator runs it: `srs serve` with a config file naming a real OpenLDAP
 * slapd (its bind password in a file) synchronizes the users on its own (directory.syncMinutes),
 * audited as the system; a directory user signs in with the directory's password; `srs users sync`
 * takes the directory's later changes (a dry run first), audited as `cli:<unix user>`; set-password
 * refuses a directory user; a sync with the directory down, or with none configured, is a clear
 * message and exit code.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditItem } from '../helpers/api-harness.js';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';
import {
  directoryConfigFile,
  directorySettings,
  groupDn,
  groupLdif,
  LDAP_READER_PASSWORD,
  personDn,
  personLdif,
  startSlapd,
  type Slapd,
} from '../helpers/slapd.js';

const ANN = { uid: 'ann', cn: 'Ann Lee', password: 'ann-directory-pw', department: 'sales' };
const EVE = { uid: 'eve', cn: 'Eve Stone', password: 'eve-directory-pw', phones: ['4004'] };

describe('the LDAP directory with srs serve and srs users sync', { timeout: 180000 }, () => {
  let slapd: Slapd;
  let server: TestServer;
  const srs = (args: string[], env = server.env) => run(process.execPath, [SRS_BIN, ...args], { env });
  const http = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, init);
  const asAdmin = async (path: string) =>
    (await (await http(path, { headers: { authorization: `Bearer ${server.token}` } })).json()) as {
      items: (AuditItem & {
        username: string;
        role: string;
        directory: string | null;
        numbers: string[];
        disabled: boolean;
      })[];
    };
  const login = (username: string, password: string) =>
    http('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });

  before(async () => {
    slapd = await startSlapd([personLdif(ANN), groupLdif('recorder-admins', [personDn(ANN)])]);
    // The bind password from a file, as an operator keeps it.
    const secret = join(await mkdtemp(join(tmpdir(), 'srs-directory-')), 'ldap-password');
    await writeFile(secret, `${LDAP_READER_PASSWORD}\n`, { mode: 0o600 });
    const config = await directoryConfigFile(
      directorySettings(slapd, {
        bindPassword: undefined,
        bindPasswordFile: secret,
        roles: { admin: groupDn('recorder-admins') },
        syncMinutes: 60,
      }),
    );
    server = await startTestServer({ SRS_CONFIG: config, SRS_ADMIN_PASSWORD: 'first-admin-password' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    if (server?.proc.exitCode === null) await server.stop();
    await slapd?.stop();
  });

  it('the server synchronizes on its own, audited as the system; ann signs in with her directory password', async () => {
    await server.waitFor(/"msg":"directory sync"/, 20000);
    const ann = (await asAdmin('/users')).items.find((u) => u.username === 'ann');
    assert.equal(ann?.role, 'admin');
    assert.equal(ann?.directory, personDn(ANN));
    const [entry] = (await asAdmin('/audit?action=users.sync')).items;
    assert.deepEqual([entry?.actor, entry?.via, entry?.details.created], ['directory-sync', 'system', 1]);
    assert.equal((await login('ann', ANN.password)).status, 200);
    assert.equal((await login('ann', 'not-her-password')).status, 401);

    const metrics = await (
      await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
        headers: { authorization: `Bearer ${server.token}` },
      })
    ).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const synced = value('srs_directory_sync_last_success_timestamp_seconds');
    assert.ok(Math.abs(synced - Date.now() / 1000) < 60, `last sync at ${synced}`);
    assert.equal(value('srs_directory_sync_failures'), 0);
    assert.equal(value('srs_directory_sync_skipped'), 0);
  });

  it('srs users sync: a dry run says what would change, the sync writes it, audited as the CLI', async () => {
    await slapd.modify(personLdif(EVE).replace(/\n/, '\nchangetype: add\n'));
    const dry = await srs(['users', 'sync', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /line \d: create eve \(user\)/);
    assert.match(
      dry.stdout,
      /dry run: 2 people in ldap:\/\/127\.0\.0\.1:\d+; would be 1 created, 0 changed, 1 unchanged/,
    );
    assert.equal(
      (await asAdmin('/users')).items.some((u) => u.username === 'eve'),
      false,
    );

    const r = await srs(['users', 'sync']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /synchronized with ldap:\/\/127\.0\.0\.1:\d+: 2 people; 1 created, 0 changed, 1 unchanged/,
    );
    const eve = (await asAdmin('/users')).items.find((u) => u.username === 'eve');
    assert.deepEqual([eve?.role, eve?.numbers], ['user', ['4004']]);
    const entry = (await asAdmin('/audit?action=users.sync')).items.find((e) => e.via === 'cli');
    assert.equal(entry?.actor, `cli:${userInfo().username}`);
    assert.equal((await login('eve', EVE.password)).status, 200);
  });

  it('set-password refuses a directory user (exit 1)', async () => {
    const r = await run(process.execPath, [SRS_BIN, 'users', 'set-password', 'ann'], {
      env: server.env,
      input: 'a-local-password\n',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^srs: ann signs in with their directory password \(uid=ann,ou=people/);
  });

  it('a sync with the directory down exits 3, with none configured exits 2; nothing changes', async () => {
    await slapd.stop();
    const down = await srs(['users', 'sync']);
    assert.equal(down.code, 3);
    assert.match(down.stderr, /^srs: directory ldap:\/\/127\.0\.0\.1:\d+: bind as cn=recorder/);
    const { SRS_CONFIG: _, ...noConfig } = server.env;
    const none = await srs(['users', 'sync'], noConfig);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no directory is configured \(directory\.url in the config file\)/);
    const users = (await asAdmin('/users')).items;
    assert.deepEqual(
      users.filter((u) => u.disabled).map((u) => u.username),
      [],
    );
  });
});
