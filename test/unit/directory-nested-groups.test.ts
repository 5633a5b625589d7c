/**
 * Roles from nested groups, against a real OpenLDAP slapd: a role group that holds other groups
 * gives its role to their members at any depth (groupOfNames member lists), to a person whose own
 * memberOf (Active Directory's way) names a group nested in it, and a cycle of groups ends; people
 * in no role group get the default role. Before nesting was followed, ann, bob and carl below were
 * all plain users.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { directorySchema } from '../../src/config/directory-schema.js';
import { DirectoryError, ldapDirectory } from '../../src/directory/ldap.js';
import {
  directorySettings,
  groupDn as group,
  groupLdif,
  personDn,
  personLdif,
  startSlapd,
  type Slapd,
} from '../helpers/slapd.js';

const ANN = { uid: 'ann', cn: 'Ann Lee', password: 'ann-directory-pw' };
const BOB = { uid: 'bob', cn: 'Bob Park', password: 'bob-directory-pw' };
const CARL = { uid: 'carl', cn: 'Carl Ito', password: 'carl-directory-pw' };
const DORA = { uid: 'dora', cn: 'Dora Diaz', password: 'dora-directory-pw' };

describe('directory roles through nested groups (real slapd)', { timeout: 60000 }, () => {
  let slapd: Slapd;

  before(async () => {
    slapd = await startSlapd([
      personLdif(ANN),
      personLdif(BOB),
      // Active Directory style: carl's own memberOf names a group nested in the supervisors'.
      personLdif({ ...CARL, userAccountControl: 512, memberOf: [group('night-shift')] }),
      personLdif(DORA),
      // admins -> team-leads -> ann, and team-leads -> night-leads -> bob -> (back to admins).
      groupLdif('recorder-admins', [group('team-leads')]),
      groupLdif('team-leads', [personDn(ANN), group('night-leads')]),
      groupLdif('night-leads', [personDn(BOB), group('recorder-admins')]),
      // supervisors -> floor -> night-shift (which lists nobody: membership is carl's memberOf).
      groupLdif('recorder-supervisors', [group('floor')]),
      groupLdif('floor', [group('night-shift')]),
      groupLdif('night-shift', [personDn({ uid: 'nobody-here' })]),
    ]);
  });
  after(async () => {
    await slapd?.stop();
  });

  it('members of groups nested in a role group get its role, at any depth, cycles included', async () => {
    const dir = ldapDirectory(
      directorySchema.parse(
        directorySettings(slapd, {
          roles: { admin: group('recorder-admins'), supervisor: group('recorder-supervisors') },
        }),
      ),
    );
    const people = await dir.people();
    const role = new Map(people.map((p) => [p.username, p.role]));
    assert.deepEqual(
      ['ann', 'bob', 'carl', 'dora'].map((u) => role.get(u)),
      ['admin', 'admin', 'supervisor', 'user'],
    );
  });

  it('a role group whose nesting passes the lookup bound fails the sync with what to do', async () => {
    // 5,001 groups chained under one role group: more lookups than a sync makes.
    const chain: string[] = [];
    for (let i = 0; i <= 5000; i++)
      chain.push(groupLdif(`chain-${i}`, [i < 5000 ? group(`chain-${i + 1}`) : personDn(DORA)]));
    await slapd.modify(chain.map((l) => l.replace(/\n/, '\nchangetype: add\n')).join('\n\n'));
    const dir = ldapDirectory(
      directorySchema.parse(directorySettings(slapd, { roles: { admin: group('chain-0') } })),
    );
    await assert.rejects(dir.people(), (err: Error) => {
      assert.ok(err instanceof DirectoryError, String(err));
      assert.match(err.message, /more than 5000 members that are not people .* directory\.roles/);
      return true;
    });
  });

  it('a role group that is not in the directory fails the sync by name (never: nobody has the role)', async () => {
    const dir = ldapDirectory(
      directorySchema.parse(directorySettings(slapd, { roles: { admin: group('no-such-group') } })),
    );
    await assert.rejects(
      dir.people(),
      /directory\.roles names cn=no-such-group,ou=groups,dc=example,dc=org, which is not in the directory/,
    );
  });
});
