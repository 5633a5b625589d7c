import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './delivery-fixtures.js';

/**
 * A real LDAP directory for the directory tests: Debian's OpenLDAP `slapd` (apt: slapd, ldap-utils)
 * on a free port of 127.0.0.1, with its own slapd.conf and MDB database in a temp dir, loaded with
 * `slapadd` before it starts. Changes while it runs go through `ldapmodify` as the root DN, as an
 * administrator would make them.
 */

const run = promisify(execFile);

export const LDAP_SUFFIX = 'dc=example,dc=org';
export const LDAP_ROOT = `cn=admin,${LDAP_SUFFIX}`;
export const LDAP_ROOT_PASSWORD = 'root-secret-pw';
/** A read-only account the recorder binds as to search. */
export const LDAP_READER = `cn=recorder,ou=services,${LDAP_SUFFIX}`;
export const LDAP_READER_PASSWORD = 'reader-secret-pw';

export interface Slapd {
  url: string;
  port: number;
  /** `ldaps://127.0.0.1:<port>` (TLS from the first byte); StartTLS is offered on `url` too. */
  ldapsUrl: string;
  /** The self-signed certificate (PEM) both serve, for `caFile`. */
  certFile: string;
  dir: string;
  /** Runs an LDIF of changes (changetype: add/modify/delete) as the root DN. */
  modify(ldif: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One person: `uid`, `cn`, optional `mail`, `telephoneNumber` (several), `departmentNumber`,
 * password; `userAccountControl` as Active Directory keeps it (2: the account is disabled).
 */
export interface Person {
  uid: string;
  cn: string;
  password: string;
  mail?: string;
  phones?: string[];
  department?: string;
  ou?: string;
  userAccountControl?: number;
  /** Group DNs as Active Directory lists them on the person (needs `userAccountControl` set). */
  memberOf?: string[];
}

export const personDn = (p: { uid: string; ou?: string }) =>
  `uid=${p.uid},ou=${p.ou ?? 'people'},${LDAP_SUFFIX}`;

export function personLdif(p: Person): string {
  const lines = [
    `dn: ${personDn(p)}`,
    'objectClass: inetOrgPerson',
    ...(p.userAccountControl !== undefined
      ? ['objectClass: srsTestAdAccount', `userAccountControl: ${p.userAccountControl}`]
      : []),
    ...(p.memberOf ?? []).map((g) => `memberOf: ${g}`),
    `uid: ${p.uid}`,
    `cn: ${p.cn}`,
    `sn: ${p.cn.split(' ').pop() ?? p.cn}`,
    `userPassword: ${p.password}`,
    ...(p.mail ? [`mail: ${p.mail}`] : []),
    ...(p.phones ?? []).map((t) => `telephoneNumber: ${t}`),
    ...(p.department ? [`departmentNumber: ${p.department}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

export const groupDn = (name: string) => `cn=${name},ou=groups,${LDAP_SUFFIX}`;

/** A groupOfNames `cn=<name>,ou=groups` with these member DNs. */
export function groupLdif(name: string, members: string[]): string {
  return [
    `dn: ${groupDn(name)}`,
    'objectClass: groupOfNames',
    `cn: ${name}`,
    ...members.map((m) => `member: ${m}`),
  ].join('\n');
}

const BASE = `dn: ${LDAP_SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=contractors,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: contractors

dn: ou=staff,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: staff

dn: ou=groups,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,${LDAP_SUFFIX}
objectClass: organizationalUnit
ou: services

dn: ${LDAP_READER}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: recorder
userPassword: ${LDAP_READER_PASSWORD}
`;

/** The `directory` settings for `s`: its reader account, the suffix, a 2 s timeout, then `more`. */
export function directorySettings(s: Slapd, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url: s.url,
    bindDn: LDAP_READER,
    bindPassword: LDAP_READER_PASSWORD,
    baseDn: LDAP_SUFFIX,
    timeoutMs: 2000,
    ...more,
  };
}

/** A config file in a temp dir with `directory` set to `settings`; its path. */
export async function directoryConfigFile(settings: Record<string, unknown>): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'srs-directory-config-')), 'config.json');
  await writeFile(file, JSON.stringify({ directory: settings }));
  return file;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts slapd with the base tree and `entries` (LDIF records, blank-line separated). */
export async function startSlapd(
  entries: string[],
  /**
   * How many entries one search may return to the reader account, paged or not. Default: no limit,
   * as an operator sets it for the recorder (slapd's own default stops every search at 500).
   */
  o: {
    readerSizeLimit?: number;
    /** slapd's TLSCipherSuite, a GnuTLS priority string (`NORMAL:-VERS-TLS1.3`: TLS 1.2 only). */
    tlsCipherSuite?: string;
  } = {},
): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'srs-slapd-'));
  await mkdir(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  // A self-signed certificate for 127.0.0.1: LDAPS and StartTLS (GnuTLS in Debian's slapd).
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2'],
    ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
  ]);
  // Active Directory's userAccountControl (its OID) on an auxiliary class of our own.
  const adSchema = join(dir, 'ad.schema');
  await writeFile(
    adSchema,
    [
      "attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch",
      '  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )',
      "attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch",
      '  SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )',
      "objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'srsTestAdAccount' AUXILIARY",
      '  MAY ( userAccountControl $ memberOf ) )',
      '',
    ].join('\n'),
  );
  await writeFile(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      `include ${adSchema}`,
      `TLSCertificateFile ${cert}`,
      `TLSCertificateKeyFile ${key}`,
      ...(o.tlsCipherSuite ? [`TLSCipherSuite ${o.tlsCipherSuite}`] : []),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${join(dir, 'slapd.pid')}`,
      // Anyone may bind (as themselves); only bound accounts read; passwords are never read back.
      'access to attrs=userPassword by anonymous auth by * none',
      'access to * by users read by anonymous auth',
      'database mdb',
      'maxsize 16777216',
      `suffix "${LDAP_SUFFIX}"`,
      `rootdn "${LDAP_ROOT}"`,
      `rootpw ${LDAP_ROOT_PASSWORD}`,
      `directory ${join(dir, 'db')}`,
      `limits dn.exact="${LDAP_READER}" size.soft=${o.readerSizeLimit ?? 'unlimited'} size.hard=${o.readerSizeLimit ?? 'unlimited'} size.prtotal=${o.readerSizeLimit ?? 'unlimited'}`,
      '',
    ].join('\n'),
  );
  const ldif = join(dir, 'seed.ldif');
  await writeFile(ldif, [BASE, ...entries].join('\n\n'));
  await run('slapadd', ['-f', conf, '-l', ldif]).catch((err: Error & { stderr?: string }) => {
    throw new Error(`slapadd failed (apt: slapd): ${err.stderr ?? err.message}`);
  });
  const port = await freePort();
  const tlsPort = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
  // -d 0: stay in the foreground (a child the test owns), logging nothing.
  const proc: ChildProcess = spawn('slapd', ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  for (let i = 0; !(await listening(port)) || !(await listening(tlsPort)); i++) {
    if (proc.exitCode !== null || i > 100) {
      proc.kill('SIGKILL');
      throw new Error(`slapd did not start on ${port}: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    url,
    port,
    ldapsUrl,
    certFile: cert,
    dir,
    async modify(changes: string) {
      const file = join(dir, `change-${Date.now()}.ldif`);
      await writeFile(file, changes);
      await run('ldapmodify', ['-x', '-H', url, '-D', LDAP_ROOT, '-w', LDAP_ROOT_PASSWORD, '-f', file]);
    },
    async stop() {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([gone, sleep(3000)]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
