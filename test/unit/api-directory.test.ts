/**
 * Users from an LDAP directory over the real HTTP API, a real embedded Postgres and a real OpenLDAP
 * slapd: a dry run that writes nothing; a sync that creates the directory's people with the roles
 * of their groups, their numbers, group and address, links a local user of the same name, and
 * skips the people it cannot take; directory users signing in with their directory password only
 * (no local password can be set for them); the directory's later changes (a role taken away, a
 * number removed, a person deleted, a second entry with a taken username) synchronized, local
 * users never touched; and a directory that cannot be reached refusing its users' logins with 503
 * and the sync with 502 while local accounts still sign in.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { directorySchema } from '../../src/config/directory-schema.js';
import { ldapDirectory } from '../../src/directory/ldap.js';
import { csvLine } from '../../src/csv.js';
import { addApiUser, type ApiHarness, type AuditItem, startApiHarness } from '../helpers/api-harness.js';
import {
  directorySettings,
  groupDn as group,
  groupLdif,
  LDAP_SUFFIX,
  personDn,
  personLdif,
  startSlapd,
  type Slapd,
} from '../helpers/slapd.js';
import type { UserJson } from '../../web/src/views/users.js';

const ANN = { uid: 'ann', cn: 'Ann Lee', password: 'ann-directory-pw', mail: 'ann@example.org' };
const BOB = { uid: 'bob', cn: 'Bob Park', password: 'bob-directory-pw' };
const DORA = { uid: 'dora', cn: 'Dora Diaz', password: 'dora-directory-pw' };

describe('users from an LDAP directory (real slapd, real HTTP, real Postgres)', { timeout: 120000 }, () => {
  let slapd: Slapd;
  let h: ApiHarness;
  const users = async () =>
    new Map(
      ((await h.call('GET', '/api/v1/users', { as: 'admin' })).json.items as UserJson[]).map((u) => [
        u.username,
        u,
      ]),
    );
  const sync = (dryRun = false) => h.call('POST', '/api/v1/users/sync', { as: 'admin', body: { dryRun } });
  const tryLogin = (username: string, password: string) =>
    h.call('POST', '/api/v1/login', { body: { username, password } });
  const audit = async (action: string) =>
    (await h.call('GET', `/api/v1/audit?action=${action}`, { as: 'admin' })).json.items as AuditItem[];

  before(async () => {
    slapd = await startSlapd([
      personLdif({ ...ANN, phones: ['+1 (555) 010-0100'], department: 'sales' }),
      personLdif({ ...BOB, phones: ['+1 555 0200', '2002'], department: 'support' }),
      personLdif(DORA),
      // A uid the recorder refuses (a space): skipped, never half-made.
      personLdif({ uid: 'carl smith', cn: 'Carl Smith', password: 'carl-directory-pw' }),
      groupLdif('recorder-admins', [personDn(ANN)]),
      groupLdif('recorder-supervisors', [personDn(BOB)]),
    ]);
    const config = directorySchema.parse(
      directorySettings(slapd, {
        roles: { admin: group('recorder-admins'), supervisor: [group('recorder-supervisors')] },
      }),
    );
    h = await startApiHarness(async () => ({
      directory: ldapDirectory(config),
      directoryDisableMissing: true,
    }));
    await h.login('admin', 'first-admin-pw');
    // A local user already called dora, and one the directory does not know.
    await addApiUser(h, 'dora', { role: 'user', numbers: ['3003'] });
    await addApiUser(h, 'erin', { role: 'user' });
  });
  after(async () => {
    await h?.close();
    await slapd?.stop();
  });

  it('a dry run says what the sync would do and writes nothing', async () => {
    const r = await sync(true);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const j = r.json as Record<string, unknown>;
    assert.equal(j.dryRun, true);
    assert.equal(j.people, 4);
    assert.deepEqual(j.created, [
      { line: 1, username: 'ann', role: 'admin' },
      { line: 2, username: 'bob', role: 'supervisor' },
    ]);
    assert.deepEqual(j.updated, [
      { line: 3, username: 'dora', fields: ['displayName', 'numbers', 'directory'] },
    ]);
    assert.deepEqual(j.skipped, [
      {
        line: 4,
        username: 'carl smith',
        message: `uid=carl smith,ou=people,${LDAP_SUFFIX}: username: letters, digits and ._@- (1-64)`,
      },
    ]);
    assert.deepEqual([...(await users()).keys()].sort(), ['admin', 'dora', 'erin']);
    assert.equal((await audit('users.sync')).length, 0);
  });

  it('the sync creates and links the directory people, audited, and a second sync changes nothing', async () => {
    const r = await sync();
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const now = await users();
    const ann = now.get('ann') as UserJson;
    assert.deepEqual(
      [ann.displayName, ann.role, ann.group, ann.numbers, ann.directory],
      ['Ann Lee', 'admin', 'sales', ['+15550100100'], personDn(ANN)],
    );
    const bob = now.get('bob') as UserJson;
    assert.deepEqual([bob.role, bob.group, bob.numbers], ['supervisor', 'support', ['+15550200', '2002']]);
    const dora = now.get('dora') as UserJson;
    assert.deepEqual([dora.role, dora.numbers, dora.directory], ['user', [], personDn(DORA)]);
    assert.equal(now.get('erin')?.directory, null);
    assert.equal(now.has('carl smith'), false);

    // The directory's address became ann's notification address (notifications stay off).
    const csv = (await h.call('GET', '/api/v1/users?format=csv', { as: 'admin' })).buf.toString();
    assert.match(csv, /\nann,Ann Lee,admin,sales,,\+15550100100,no,ann@example\.org,no,no/);

    const [entry] = await audit('users.sync');
    const { directory, people, created, updated, unchanged, skipped } = entry?.details ?? {};
    assert.deepEqual(
      { directory, people, created, updated, unchanged, skipped },
      { directory: slapd.url, people: 4, created: 2, updated: 1, unchanged: 0, skipped: 1 },
    );
    const made = (await audit('user.create')).filter((e) => e.details.source === 'directory');
    assert.deepEqual(made.map((e) => e.details.username).sort(), ['ann', 'bob']);
    const linked = (await audit('user.update')).find((e) => e.details.source === 'directory');
    assert.deepEqual((linked?.details.changes as Record<string, unknown>).directory, {
      from: null,
      to: personDn(DORA),
    });

    const again = await sync();
    assert.equal(again.status, 200);
    assert.deepEqual([again.json.created, again.json.updated, again.json.disabled], [[], [], []]);
    assert.equal((again.json.unchanged as unknown[]).length, 3);
  });

  it('directory users sign in with their directory password only; no local password can be set', async () => {
    assert.equal((await h.login('ann', ANN.password)).status, 200);
    assert.equal((await tryLogin('ann', 'wrong-password')).status, 401);
    assert.equal((await tryLogin('ann', '')).status, 400, 'an empty password is refused before any bind');
    // dora's local password stopped working when she was linked to the directory.
    assert.equal((await tryLogin('dora', 'dora-password')).status, 401);
    assert.equal((await h.login('dora', DORA.password)).status, 200);
    const failed = await audit('login-failed');
    assert.ok(failed.some((e) => e.resourceId === 'ann' && e.details.reason === 'bad credentials'));

    const annId = (await users()).get('ann')?.id as string;
    const patch = await h.call('PATCH', `/api/v1/users/${annId}`, {
      as: 'admin',
      body: { password: 'a-local-password' },
    });
    assert.equal(patch.status, 400);
    assert.match(String(patch.json.error), /directory password/);
    const own = await h.call('POST', '/api/v1/me/password', {
      as: 'ann',
      body: { current: ANN.password, password: 'another-password' },
    });
    assert.equal(own.status, 400);
    const csv = csvLine(['username', 'password']) + csvLine(['ann', 'a-local-password']);
    const imp = await h.call('POST', '/api/v1/users/import', { as: 'admin', body: { csv } });
    assert.equal(imp.status, 400);
    assert.match(JSON.stringify(imp.json), /line 2|"line":2/);
    assert.equal((await tryLogin('ann', 'a-local-password')).status, 401);
  });

  it("the directory's changes are synchronized; local users are never touched", async () => {
    await slapd.modify(
      [
        `dn: ${group('recorder-supervisors')}`,
        'changetype: modify',
        'delete: member',
        `member: ${personDn(BOB)}`,
        '-',
        `add: member`,
        `member: ${personDn(ANN)}`,
        '',
        `dn: ${personDn(BOB)}`,
        'changetype: modify',
        'delete: telephoneNumber',
        '',
        `dn: ${personDn(DORA)}`,
        'changetype: delete',
        '',
        // bob moves to another branch of the tree: the same person, a new DN.
        `dn: ${personDn(BOB)}`,
        'changetype: moddn',
        `newrdn: uid=${BOB.uid}`,
        'deleteoldrdn: 1',
        `newsuperior: ou=staff,${LDAP_SUFFIX}`,
        '',
        // A second "ann" elsewhere in the tree: skipped, the first keeps her account.
        personLdif({ uid: 'ann', cn: 'Ann Other', password: 'x-directory-pw', ou: 'contractors' }).replace(
          /\n/,
          '\nchangetype: add\n',
        ),
      ].join('\n'),
    );
    const r = await sync();
    assert.equal(r.status, 200, JSON.stringify(r.json));
    // Lines are the directory's order of its answer.
    const updated = (r.json.updated as { username: string; fields: string[] }[]).map(
      ({ username, fields }) => ({
        username,
        fields,
      }),
    );
    assert.deepEqual(updated, [{ username: 'bob', fields: ['role', 'numbers', 'directory'] }]);
    assert.deepEqual(r.json.disabled, [{ username: 'dora' }]);
    assert.match(JSON.stringify(r.json.skipped), /ann is synchronized from uid=ann,ou=people/);
    const now = await users();
    assert.deepEqual(
      [now.get('bob')?.role, now.get('bob')?.numbers, now.get('bob')?.disabled, now.get('bob')?.directory],
      ['user', [], false, personDn({ uid: 'bob', ou: 'staff' })],
    );
    assert.equal((await h.login('bob', BOB.password)).status, 200, 'bob signs in at his new DN');
    assert.equal(now.get('ann')?.role, 'admin', 'the highest role of her groups');
    assert.equal(now.get('ann')?.displayName, 'Ann Lee');
    assert.equal(now.get('dora')?.disabled, true);
    assert.equal(now.get('erin')?.disabled, false, 'a local user is not the directory’s to disable');
    assert.equal(now.get('admin')?.disabled, false);
    assert.equal((await h.call('GET', '/api/v1/me', { as: 'dora' })).status, 401, 'her session ended');
    assert.equal((await tryLogin('dora', DORA.password)).status, 401);
  });

  it('a directory that cannot be reached: 503 for its users, 502 for the sync; local users sign in', async () => {
    await slapd.stop();
    const r = await tryLogin('ann', ANN.password);
    assert.equal(r.status, 503);
    assert.match(String(r.json.error), /directory cannot be reached/);
    const failed = await audit('login-failed');
    assert.ok(failed.some((e) => e.resourceId === 'ann' && e.details.reason === 'directory unreachable'));
    const s = await sync();
    assert.equal(s.status, 502);
    assert.match(String(s.json.error), new RegExp(`directory ${slapd.url}`));
    assert.equal((await h.login('erin', 'erin-password')).status, 200);
    assert.equal((await users()).get('ann')?.disabled, false, 'an unreachable directory disables nobody');
  });
});

describe('no directory configured', () => {
  it('POST /users/sync is 409 and says what to set', async () => {
    const h = await startApiHarness();
    try {
      await h.login('admin', 'first-admin-pw');
      const r = await h.call('POST', '/api/v1/users/sync', { as: 'admin', body: {} });
      assert.equal(r.status, 409);
      assert.match(String(r.json.error), /directory\.url/);
    } finally {
      await h.close();
    }
  });
});

describe('LDAPS, StartTLS and Active Directory’s disabled accounts (real slapd)', { timeout: 60000 }, () => {
  let slapd: Slapd;
  const settings = (more: Record<string, unknown>) => directorySchema.parse(directorySettings(slapd, more));
  before(async () => {
    slapd = await startSlapd([
      personLdif({ uid: 'fay', cn: 'Fay Wu', password: 'fay-directory-pw', userAccountControl: 514 }),
      personLdif({ uid: 'gil', cn: 'Gil Ray', password: 'gil-directory-pw', userAccountControl: 512 }),
      // Active Directory lists a large group's members on each member (memberOf), not on the group.
      personLdif({
        uid: 'hal',
        cn: 'Hal Kim',
        password: 'hal-directory-pw',
        userAccountControl: 512,
        memberOf: [`CN=Team Leads, OU=groups, ${LDAP_SUFFIX.toUpperCase()}`],
      }),
      groupLdif('team leads', [personDn({ uid: 'gil' })]),
    ]);
  });
  after(async () => {
    await slapd?.stop();
  });

  it('a sync over LDAPS with the CA file: the AD-disabled account is created disabled', async () => {
    const config = settings({
      url: slapd.ldapsUrl,
      caFile: slapd.certFile,
      roles: { supervisor: group('team leads') },
    });
    const h = await startApiHarness(async () => ({ directory: ldapDirectory(config) }));
    try {
      await h.login('admin', 'first-admin-pw');
      const r = await h.call('POST', '/api/v1/users/sync', { as: 'admin', body: {} });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const items = (await h.call('GET', '/api/v1/users', { as: 'admin' })).json.items as UserJson[];
      const by = new Map(items.map((u) => [u.username, u]));
      assert.deepEqual([by.get('fay')?.disabled, by.get('gil')?.disabled], [true, false]);
      // gil from the group's member list, hal from his own memberOf (another spelling of the DN).
      assert.deepEqual(
        ['fay', 'gil', 'hal'].map((u) => by.get(u)?.role),
        ['user', 'supervisor', 'supervisor'],
      );
      assert.equal(
        (await h.call('POST', '/api/v1/login', { body: { username: 'gil', password: 'gil-directory-pw' } }))
          .status,
        200,
      );
      assert.equal(
        (await h.call('POST', '/api/v1/login', { body: { username: 'fay', password: 'fay-directory-pw' } }))
          .status,
        401,
      );
    } finally {
      await h.close();
    }
  });

  it('StartTLS with the CA file works; a certificate nobody vouches for is refused', async () => {
    const tls = ldapDirectory(settings({ url: slapd.url, startTls: true, caFile: slapd.certFile }));
    assert.deepEqual((await tls.people()).map((p) => p.username).sort(), ['fay', 'gil', 'hal']);
    assert.equal(await tls.authenticate(personDn({ uid: 'gil' }), 'gil-directory-pw'), true);
    for (const untrusted of [
      settings({ url: slapd.ldapsUrl }),
      settings({ url: slapd.url, startTls: true }),
    ]) {
      await assert.rejects(ldapDirectory(untrusted).people(), (err: Error) => {
        assert.equal(err.name, 'DirectoryError');
        assert.match(err.message, /certificate/i);
        return true;
      });
      await assert.rejects(
        ldapDirectory(untrusted).authenticate(personDn({ uid: 'gil' }), 'gil-directory-pw'),
        /certificate/i,
      );
    }
  });
});

describe('a directory that accepts and never answers', () => {
  it('the bind and the search give up after timeoutMs with a DirectoryError, never hang', async () => {
    const silent = createServer((s) => s.on('data', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    try {
      const d = ldapDirectory(
        directorySchema.parse({
          url: `ldap://127.0.0.1:${port}`,
          baseDn: LDAP_SUFFIX,
          bindDn: 'cn=reader',
          bindPassword: 'x',
          timeoutMs: 300,
        }),
      );
      for (const attempt of [() => d.authenticate(personDn(ANN), ANN.password), () => d.people()]) {
        const t0 = Date.now();
        await assert.rejects(
          attempt(),
          (err: Error) => err.name === 'DirectoryError' && /timed out/i.test(err.message),
        );
        assert.ok(Date.now() - t0 < 3000, `gave up in ${Date.now() - t0} ms`);
      }
    } finally {
      silent.close();
    }
  });
});

describe('a directory that stops the search at its size limit', () => {
  it('the sync fails whole (never a partial list whose missing people would be disabled), saying what to change', async () => {
    const small = await startSlapd(
      ['x1', 'x2', 'x3'].map((uid) => personLdif({ uid, cn: uid, password: `${uid}-directory-pw` })),
      { readerSizeLimit: 2 },
    );
    try {
      const d = ldapDirectory(directorySchema.parse(directorySettings(small)));
      await assert.rejects(d.people(), (err: Error) => {
        assert.equal(err.name, 'DirectoryError');
        assert.match(err.message, /stopped at the directory's size limit, so nothing was changed/);
        assert.match(
          err.message,
          /limits dn\.exact="cn=recorder,ou=services,dc=example,dc=org" size=unlimited/,
        );
        return true;
      });
    } finally {
      await small.stop();
    }
  });
});
