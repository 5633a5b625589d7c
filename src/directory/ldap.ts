import {
  Client,
  InvalidCredentialsError,
  NoSuchObjectError,
  SizeLimitExceededError,
  type Entry,
} from 'ldapts';
import type { DirectoryConfig } from '../config/directory-schema.js';
import { readSettingFile, readSettingFileText } from '../config/setting-file.js';
import { belowPolicyMessage, DEFAULT_TLS_POLICY, type TlsPolicy } from '../config/tls-policy.js';
import { SrsError } from '../errors.js';

/**
 * The LDAP directory (OpenLDAP, Active Directory, any LDAPv3 server) through `ldapts`: the people
 * the sync reads, their roles from group membership, and the password check of a directory user's
 * login (a simple bind as their DN, on a connection of its own). Nothing is written to the directory.
 */

/** The directory could not be reached or refused the recorder's own bind: not the user's fault. */
export class DirectoryError extends SrsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DIRECTORY', message, options);
  }
}

/** One person as the directory gives them, before any check: the values of the mapped attributes. */
export interface DirectoryPerson {
  dn: string;
  username: string;
  displayName: string;
  email: string;
  numbers: string[];
  group: string;
  extraGroups: string[];
  role: 'record-only' | 'user' | 'supervisor' | 'admin';
  /** Active Directory's userAccountControl says ACCOUNTDISABLE. */
  disabled: boolean;
}

export interface Directory {
  /** `ldap://host:port` (no credentials), for messages and the audit. */
  readonly url: string;
  /** Everyone the filter finds under the base DN (paged), with their role. */
  people(): Promise<DirectoryPerson[]>;
  /** Whether `password` is the password of `dn` (a bind as them); DirectoryError when unreachable. */
  authenticate(dn: string, password: string): Promise<boolean>;
}

/** A DN compared as LDAP does for ours: case and the spaces around `,` `=` `+` do not matter. */
export function normalDn(dn: string): string {
  return dn
    .trim()
    .replace(/\s*([,=+])\s*/g, '$1')
    .toLowerCase();
}

const RANK = ['record-only', 'user', 'supervisor', 'admin'] as const;
/** AD's userAccountControl flag ACCOUNTDISABLE. */
const ACCOUNT_DISABLE = 0x2;
/** Group entries a sync looks up at most while following nested role groups. */
const MAX_GROUP_LOOKUPS = 5000;

function values(e: Entry, attr: string): string[] {
  // Attribute names are case-insensitive; ldapts keys them as the server spelled them.
  const key = Object.keys(e).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key === undefined ? undefined : e[key];
  const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)).trim()).filter((x) => x);
}

/** A telephone number as the recorder matches numbers: `+1 (555) 010-0` -> `+15550100`. */
export const dialable = (n: string) => n.replace(/[\s().-]/g, '').toLowerCase();

/**
 * `policy`: the TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS) of ldaps:// and StartTLS;
 * default: the settings' defaults.
 */
export function ldapDirectory(c: DirectoryConfig, policy: TlsPolicy = DEFAULT_TLS_POLICY): Directory {
  if (!c.url) throw new DirectoryError('no directory configured (directory.url)');
  const url = c.url.replace(/\/$/, '');
  const tls = async () => ({
    minVersion: policy.minVersion,
    ciphers: policy.ciphers,
    rejectUnauthorized: c.rejectUnauthorized,
    ...(c.caFile && { ca: [await readSettingFile(c.caFile)] }),
  });
  const open = async (): Promise<Client> => {
    const client = new Client({
      url,
      timeout: c.timeoutMs,
      connectTimeout: c.timeoutMs,
      ...(url.startsWith('ldaps:') && { tlsOptions: await tls() }),
    });
    if (c.startTls) await client.startTLS(await tls());
    return client;
  };
  /** What went wrong talking to the directory, with the URL (never a password). */
  const unreachable = (what: string, err: unknown) =>
    new DirectoryError(`directory ${url}: ${what}: ${tlsProblem(err as Error) ?? (err as Error).message}`, {
      cause: err,
    });
  /**
   * A server below the TLS policy, in the FTPS/SMTP wording; OpenLDAP with GnuTLS sends no alert
   * when it shares no version or cipher, it hangs up: that is said with the settings to look at.
   */
  const tlsProblem = (err: Error) =>
    belowPolicyMessage(err, policy, 'the directory') ??
    (/disconnected before secure TLS connection was established/i.test(err.message)
      ? `${err.message}: the directory closed the TLS handshake; if it offers no TLS version or cipher ` +
        `that SRS_TLS_MIN_VERSION (${policy.minVersion}) and SRS_TLS_CIPHERS allow, upgrade its TLS ` +
        '(TLS 1.2 with ECDHE and AES-GCM or ChaCha20, or TLS 1.3), or widen SRS_TLS_MIN_VERSION / SRS_TLS_CIPHERS'
      : undefined);

  const bindReader = async (client: Client) => {
    const password =
      c.bindPassword ?? (c.bindPasswordFile ? (await readSettingFileText(c.bindPasswordFile)).trim() : '');
    if (c.bindDn) await client.bind(c.bindDn, password);
  };

  /** The member DNs (as written) and normalized memberUids of a group entry. */
  const members = async (client: Client, dn: string) => {
    const r = await client
      .search(dn, { scope: 'base', attributes: ['member', 'uniqueMember', 'memberUid'] })
      .catch((err: unknown) => {
        if (err instanceof NoSuchObjectError) return undefined;
        throw err;
      });
    const e = r?.searchEntries[0];
    if (!e) return undefined;
    return {
      dns: [...values(e, 'member'), ...values(e, 'uniqueMember')],
      uids: values(e, 'memberUid').map((u) => u.toLowerCase()),
    };
  };

  /**
   * A role group with the groups nested in it: every member DN and memberUid reached, and every
   * group DN reached (for a person's memberOf, which lists only their own groups). A member that is
   * not one of the people found is looked up as a possible group; cycles end at a group seen before.
   */
  const expand = async (client: Client, root: string, people: Set<string>, budget: { left: number }) => {
    const dns = new Set<string>();
    const uids = new Set<string>();
    const groups = new Set<string>([normalDn(root)]);
    let frontier = [root];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const g of frontier) {
        if (--budget.left < 0)
          throw new DirectoryError(
            `directory ${url}: the role groups hold more than ${MAX_GROUP_LOOKUPS} members that are not people under directory.filter (nested groups are followed): list people or groups directly in directory.roles`,
          );
        // A member that is gone (a group keeps the DN of a deleted person) adds nobody; a role
        // group that is not there is a mistake in directory.roles, never "nobody has the role".
        const m = await members(client, g);
        if (!m && g === root)
          throw new DirectoryError(
            `directory ${url}: directory.roles names ${root}, which is not in the directory`,
          );
        if (!m) continue;
        for (const u of m.uids) uids.add(u);
        for (const d of m.dns) {
          const n = normalDn(d);
          dns.add(n);
          if (people.has(n) || groups.has(n)) continue;
          groups.add(n);
          next.push(d);
        }
      }
      frontier = next;
    }
    return { dns, uids, groups };
  };

  return {
    url,
    async people() {
      let client: Client | undefined;
      try {
        client = await open();
        await bindReader(client);
      } catch (err) {
        await client?.unbind().catch(() => undefined);
        throw unreachable(c.bindDn ? `bind as ${c.bindDn}` : 'connect', err);
      }
      try {
        const a = c.attributes;
        const attrs = [
          ...[a.username, a.displayName, a.email, ...a.numbers, a.group],
          ...['userAccountControl', 'memberOf'],
        ];
        if (a.extraGroups) attrs.push(a.extraGroups);
        const found = await client.search(c.baseDn, {
          scope: 'sub',
          filter: c.filter,
          attributes: attrs,
          paged: { pageSize: 500 },
        });
        const people = new Set(found.searchEntries.map((e) => normalDn(e.dn)));
        const budget = { left: MAX_GROUP_LOOKUPS };
        const roleGroups: {
          role: (typeof RANK)[number];
          dns: Set<string>;
          uids: Set<string>;
          groups: Set<string>;
        }[] = [];
        for (const role of RANK) {
          const groups = c.roles[role];
          for (const dn of groups === undefined ? [] : Array.isArray(groups) ? groups : [groups])
            roleGroups.push({ role, ...(await expand(client, dn, people, budget)) });
        }
        return found.searchEntries.map((e) => {
          const username = values(e, a.username)[0] ?? '';
          // Membership from either side: the group's member lists (nested groups followed), or the
          // person's memberOf naming the role group or a group nested in it (Active Directory's, and
          // OpenLDAP's memberof overlay), which also covers AD groups too large to list their
          // members in one attribute (ranged retrieval past 1,500).
          const memberOf = new Set(values(e, 'memberOf').map(normalDn));
          const held = roleGroups
            .filter(
              (g) =>
                g.dns.has(normalDn(e.dn)) ||
                g.uids.has(username.toLowerCase()) ||
                [...memberOf].some((m) => g.groups.has(m)),
            )
            .map((g) => RANK.indexOf(g.role));
          const uac = Number(values(e, 'userAccountControl')[0] ?? 0);
          return {
            dn: e.dn,
            username,
            displayName: values(e, a.displayName)[0] ?? '',
            email: values(e, a.email)[0] ?? '',
            numbers: [...new Set(a.numbers.flatMap((n) => values(e, n)).map(dialable))],
            group: values(e, a.group)[0] ?? '',
            extraGroups: a.extraGroups ? values(e, a.extraGroups) : [],
            role: held.length > 0 ? RANK[Math.max(...held)]! : c.defaultRole,
            disabled: Number.isInteger(uac) && (uac & ACCOUNT_DISABLE) !== 0,
          };
        });
      } catch (err) {
        if (err instanceof DirectoryError) throw err;
        // Never a partial list: the people it leaves out would be taken for gone and disabled.
        if (err instanceof SizeLimitExceededError)
          throw new DirectoryError(
            `directory ${url}: the search under ${c.baseDn} stopped at the directory's size limit, so nothing was changed: let ${c.bindDn ?? 'the anonymous reader'} read every person (OpenLDAP: limits dn.exact="${c.bindDn ?? 'anonymous'}" size=unlimited size.prtotal=unlimited), or narrow directory.filter`,
            { cause: err },
          );
        throw unreachable(`search under ${c.baseDn}`, err);
      } finally {
        await client.unbind().catch(() => undefined);
      }
    },
    async authenticate(dn, password) {
      // An empty password is an unauthenticated bind (RFC 4513 5.1.2), which some servers accept.
      if (password === '') return false;
      let client: Client | undefined;
      try {
        client = await open();
        await client.bind(dn, password);
        return true;
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return false;
        throw unreachable('bind', err);
      } finally {
        await client?.unbind().catch(() => undefined);
      }
    },
  };
}
