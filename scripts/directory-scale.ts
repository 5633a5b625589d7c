/**
 * How long a directory sync takes at scale: a real OpenLDAP slapd loaded with N people (default
 * 5000: a number each, 50 departments, one admin group), the API harness on a real Postgres, then a
 * dry run, the first sync (every user created) and a second sync (nothing to change), timed over
 * HTTP. `npx tsx scripts/directory-scale.ts [N]`; the figures are in docs/access-security.md.
 */
import { directorySchema } from '../src/config/directory-schema.js';
import { ldapDirectory } from '../src/directory/ldap.js';
import { startApiHarness } from '../test/helpers/api-harness.js';
import {
  directorySettings,
  groupDn,
  groupLdif,
  personDn,
  personLdif,
  startSlapd,
} from '../test/helpers/slapd.js';

const n = Number(process.argv[2] ?? 5000);
if (!Number.isInteger(n) || n < 1) {
  console.error('usage: npx tsx scripts/directory-scale.ts [number of people, default 5000]');
  process.exit(2);
}
const people = Array.from({ length: n }, (_, i) =>
  personLdif({
    uid: `u${i}`,
    cn: `User ${i}`,
    password: 'directory-pw',
    mail: `u${i}@example.org`,
    phones: [`+1 555 ${String(i).padStart(5, '0')}`],
    department: `dept${i % 50}`,
  }),
);
let t = Date.now();
const slapd = await startSlapd([...people, groupLdif('admins', [personDn({ uid: 'u0' })])]);
console.log(`slapd loaded with ${n} people in ${Date.now() - t} ms`);
const config = directorySchema.parse(
  directorySettings(slapd, { roles: { admin: groupDn('admins') }, timeoutMs: 120_000 }),
);
const h = await startApiHarness(async () => ({ directory: ldapDirectory(config) }));
try {
  await h.login('admin', 'first-admin-pw');
  for (const [what, dryRun] of [
    ['dry run', true],
    ['first sync', false],
    ['sync, nothing changed', false],
  ] as const) {
    t = Date.now();
    const r = await h.call('POST', '/api/v1/users/sync', { as: 'admin', body: { dryRun } });
    const j = r.json as { created?: unknown[]; updated?: unknown[]; unchanged?: unknown[]; error?: string };
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${j.error ?? ''}`);
    console.log(
      `${what}: ${Date.now() - t} ms (${j.created?.length} created, ${j.updated?.length} changed, ${j.unchanged?.length} unchanged)`,
    );
  }
} finally {
  await h.close();
  await slapd.stop();
}
