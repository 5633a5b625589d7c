import { z } from 'zod';
import { integer, optionalString } from './values.js';

/**
 * The LDAP directory users are synchronized from (`directory` in the config file; reference seed
 * 003's "synchronization against external sources like AD, LDAP"). Zod only. Unset `url`: no
 * directory. The names of the recorder's roles are spelled out here (config imports nothing from
 * the store); src/store/user-model.ts holds the same list.
 */

const ROLE = z.enum(['record-only', 'user', 'supervisor', 'admin']);
const attribute = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'an LDAP attribute name');
const dnList = z.union([z.string().min(3), z.array(z.string().min(3)).min(1)]);

export const directorySchema = z
  .object({
    /** `ldap://host:389` (StartTLS with `startTls`) or `ldaps://host:636`. */
    url: optionalString.pipe(
      z
        .string()
        .regex(/^ldaps?:\/\/[^\s/]+\/?$/, 'an ldap:// or ldaps:// URL (host and port only)')
        .optional(),
    ),
    /** Upgrade an ldap:// connection with StartTLS before binding (refused if the server cannot). */
    startTls: z.boolean().default(false),
    /** CA bundle (PEM) the server's certificate must chain to; unset: the system's CAs. */
    caFile: optionalString,
    rejectUnauthorized: z.boolean().default(true),
    /** The account the recorder binds as to search (read-only is enough); unset: anonymous. */
    bindDn: optionalString,
    bindPassword: optionalString,
    bindPasswordFile: optionalString,
    /** Where people are searched (subtree) and which entries are people. */
    baseDn: z.string().default(''),
    filter: z.string().min(3).default('(objectClass=inetOrgPerson)'),
    /** Which attribute gives each field (Active Directory: sAMAccountName, displayName, mail, telephoneNumber/ipPhone, department). */
    attributes: z
      .strictObject({
        username: attribute.default('uid'),
        displayName: attribute.default('cn'),
        email: attribute.default('mail'),
        numbers: z.array(attribute).default(['telephoneNumber']),
        group: attribute.default('departmentNumber'),
        extraGroups: attribute.optional(),
      })
      .prefault({}),
    /**
     * Roles by group membership: role -> group DN(s) (groupOfNames `member`, groupOfUniqueNames
     * `uniqueMember`, posixGroup `memberUid`). The highest role a person holds wins; else `defaultRole`.
     */
    roles: z.partialRecord(ROLE, dnList).default({}),
    defaultRole: ROLE.default('user'),
    /** Synchronize every this many minutes (0: only on request, `srs users sync` or POST /users/sync). */
    syncMinutes: integer(0, 7 * 24 * 60).default(0),
    /** A directory user whose entry is gone (or out of the filter) is disabled, never deleted. */
    disableMissing: z.boolean().default(true),
    timeoutMs: integer(100, 120_000).default(10_000),
  })
  .refine((d) => !d.url || d.baseDn.trim() !== '', {
    message: 'required when directory.url is set',
    path: ['baseDn'],
  })
  .refine((d) => !(d.bindPassword || d.bindPasswordFile) || d.bindDn, {
    message: 'a bind password needs directory.bindDn',
    path: ['bindDn'],
  })
  .refine((d) => !d.startTls || d.url?.startsWith('ldap://'), {
    message: 'StartTLS upgrades an ldap:// URL (ldaps:// is TLS from the start)',
    path: ['startTls'],
  });

export type DirectoryConfig = z.infer<typeof directorySchema>;

/** The keys of `directory`, for the config file's unknown-key check. */
export const DIRECTORY_KEYS = [
  'url',
  'startTls',
  'caFile',
  'rejectUnauthorized',
  'bindDn',
  'bindPassword',
  'bindPasswordFile',
  'baseDn',
  'filter',
  'attributes',
  'roles',
  'defaultRole',
  'syncMinutes',
  'disableMissing',
  'timeoutMs',
];
