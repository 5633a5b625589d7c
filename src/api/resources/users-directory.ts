import { z } from 'zod';
import { normalDn, type Directory } from '../../directory/ldap.js';
import type { User } from '../../store/users.js';
import type { RowCells } from './users-csv.js';
import { planRows, type ImportRowError } from './users-plan.js';
import {
  applyImport,
  resultOf,
  userBody,
  userPatch,
  type ImportDeps,
  type ImportResult,
} from './users-import.js';

/**
 * Users synchronized from an LDAP directory (reference seed 003's "synchronization against
 * external sources like AD, LDAP"): one way for the API (POST /users/sync), the CLI
 * (`srs users sync`) and the periodic sync. Each person the directory's filter finds is a row of
 * the users CSV import (the same checks, the same single transaction, the same audit, with
 * `source: directory`), linked to its entry by DN. The directory is the source of the fields it
 * maps: role (from group membership), display name, group, extra groups, numbers and the
 * notification address; an empty group or numbers attribute clears the field. A directory user has
 * no local password: they sign in with their directory password. A directory user whose entry is
 * gone is disabled (`disableMissing`), never deleted; local users are never touched by a sync.
 * A person the recorder cannot take (no username, a username it refuses, a rename, a second entry
 * with a username already synchronized, a bad address) is skipped with the reason, and their user,
 * if any, is left as it is. An entry moved in the tree (a new DN, the old one gone) keeps its user.
 */

/** What a sync did (or would do): an import's result, the people skipped and the directory asked. */
export interface SyncResult extends ImportResult {
  directory: string;
  /** People in the directory: what it returned under the filter. */
  people: number;
  skipped: ImportRowError[];
}

const dnField = z.string().min(3).max(1000);

export async function runDirectorySync(
  directory: Directory,
  o: { dryRun: boolean; disableMissing: boolean; keep?: string | null },
  deps: ImportDeps,
): Promise<SyncResult> {
  const people = await directory.people();
  const users = await deps.db.users.list();
  const byDn = new Map(users.filter((u) => u.directory).map((u) => [normalDn(u.directory as string), u]));
  const byName = new Map(users.map((u) => [u.username, u]));
  const skipped: ImportRowError[] = [];
  /** Users whose entry was found but skipped: a sync leaves them as they are, never disabled. */
  const keep: string[] = o.keep ? [o.keep] : [];
  const rows: { line: number; cells: RowCells }[] = [];
  const present = new Set(people.map((p) => normalDn(p.dn)));
  for (const [i, p] of people.entries()) {
    const line = i + 1;
    const linked = byDn.get(normalDn(p.dn));
    const other = byName.get(p.username);
    const skip = (message: string) => {
      skipped.push({ line, ...(p.username && { username: p.username }), message: `${p.dn}: ${message}` });
      for (const u of [linked, other]) if (u) keep.push(u.id);
    };
    if (!p.username) skip('no username attribute');
    else if (linked && linked.username !== p.username)
      skip(`user ${linked.username} is now ${p.username} in the directory; a username cannot change`);
    // Another entry with the username: a second one (skipped), unless the user's own entry is gone,
    // which is the same person moved in the tree (their DN follows).
    else if (
      other?.directory &&
      normalDn(other.directory) !== normalDn(p.dn) &&
      present.has(normalDn(other.directory))
    )
      skip(`user ${p.username} is synchronized from ${other.directory}`);
    else
      rows.push({
        line,
        cells: new Map([
          ['username', p.username],
          ['display_name', p.displayName],
          ['role', p.role],
          ['group', p.group],
          ['extra_groups', p.extraGroups.join(';')],
          ['numbers', p.numbers.join(';')],
          ['email', p.email],
          ['disabled', p.disabled ? 'yes' : ''],
          ['directory', p.dn],
        ]),
      });
  }
  const plan = await planRows(
    rows,
    {
      users,
      subscriptions: await deps.db.offload.allSubscriptions(),
      passwordHashOf: async () => null,
    },
    {
      create: userBody.extend({ directory: dnField }),
      patch: userPatch.extend({ directory: dnField.optional() }),
    },
    {
      disableMissing: o.disableMissing,
      disableOnly: (u: User) => u.directory !== null,
      keep,
      skipBadRows: true,
      blankClears: true,
    },
  );
  // The planner's reasons name the entry too.
  for (const s of plan.skipped) s.message = `${people[s.line - 1]?.dn ?? '?'}: ${s.message}`;
  plan.skipped.unshift(...skipped);
  if (!o.dryRun)
    await applyImport(plan, deps, {
      source: 'directory',
      action: 'users.sync',
      details: { directory: directory.url, people: people.length },
    });
  return {
    ...resultOf(plan, o.dryRun),
    directory: directory.url,
    people: people.length,
    skipped: plan.skipped.sort((a, b) => a.line - b.line),
  };
}
