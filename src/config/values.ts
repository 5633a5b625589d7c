/**
 * The value kinds of the configuration, one validator each, shared by every setting of that kind
 * (src/config/schema.ts, delivery-schema.ts, storage.ts, s3-destination.ts, cluster.ts). Each
 * takes what the environment gives (a string) or what the JSON config file gives (a number, a
 * boolean, a list), refuses anything else, and says in its message what is expected: the
 * setting's name and the value given are added by src/config/settings.ts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** A comma-separated env value as a list (a file's list stays as it is). */
export const patternList = (v: unknown): unknown =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '')
    : v;

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
/**
 * A decimal string (the environment) becomes its number; anything else but a number stays as it
 * is and fails the number check: `true`, null, "", " ", [5] and 0x1f90 are not numbers.
 */
const toNumber = (v: unknown): unknown =>
  typeof v === 'string' && DECIMAL.test(v.trim()) ? Number(v.trim()) : v;

function number(min: number, max: number, whole: boolean, what: string) {
  const error = `expected ${what} from ${min} to ${max}`;
  const n = z.number({ error });
  return z.preprocess(toNumber, (whole ? n.int({ error }) : n).min(min, { error }).max(max, { error }));
}
/** A whole number in [min, max]: every count, limit and integral duration. */
export const integer = (min: number, max: number, what = 'a whole number') => number(min, max, true, what);
/** A number in [min, max]: rates, shares and durations that may be fractional. */
export const decimal = (min: number, max: number) => number(min, max, false, 'a number');
/** A TCP or UDP port to listen on or connect to. */
export const port = integer(1, 65535, 'a port number');

const BOOL = 'expected true or false (or 1 or 0)';
/** `true`/`1` or `false`/`0` (env), or a JSON boolean. */
export const bool = z.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean({ error: BOOL }),
);

/** An optional string; empty counts as unset. */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** A word-like value (a region, a name): not blank and without spaces around it. */
export const word = z
  .string({ error: 'expected a non-empty text' })
  .regex(/^\S(.*\S)?$/, { error: 'expected a value without spaces around it' });

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`);
/** A DNS host name (RFC 1123); a dotted all-numeric one (999.1.1.1) is a bad address, not a name. */
const isHostName = (v: string): boolean => HOST_NAME.test(v) && !/^[\d.]+$/.test(v);
const HOST = 'expected an IP address or a host name';
/** An address put on the wire or resolved: an IPv4/IPv6 address or a DNS name. */
export const host = z.string({ error: HOST }).refine((v) => isIP(v) !== 0 || isHostName(v), { error: HOST });
export const optionalHost = optionalString.pipe(host.optional());
const IP = 'expected an IP address (e.g. 0.0.0.0, 192.0.2.10, ::)';
/** An IP address literal (what the media engine binds). */
export const ipAddress = z.string({ error: IP }).refine((v) => isIP(v) !== 0, { error: IP });

/** `any`, an address or a CIDR (the SRC allowlist). */
function isAddressOrCidr(e: string): boolean {
  const [addr, bits, extra] = e.split('/');
  const family = isIP(addr ?? '');
  const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  return family !== 0 && extra === undefined && okBits;
}
/** A list (comma-separated in the environment) of at least one item. */
export const list = <T extends z.ZodType>(item: T, what: string) =>
  z.preprocess(patternList, z.array(item).min(1, { error: `expected at least one ${what}` }));
/** SRS_SRC_ALLOW: addresses and CIDRs, or `any` alone. */
export const sourceAllowList = list(
  z.string().refine((e) => e === 'any' || isAddressOrCidr(e), {
    error: 'not an address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, ::1)',
  }),
  'address or CIDR (or any)',
).refine((l) => !l.includes('any') || l.length === 1, {
  error: '`any` stands alone (it opens recording to every source)',
});
/** SRS_TRUST_PROXY: proxy addresses (matched exactly, so no CIDR) or `loopback`; may be empty. */
export const proxyList = z.preprocess(
  patternList,
  z.array(
    z.string().refine((e) => e === 'loopback' || isIP(e) !== 0, {
      error: 'not a proxy address: give each address (e.g. 192.0.2.7) or loopback, no CIDR or name',
    }),
  ),
);
/**
 * SRS_FIELDS_FROM_SIP: custom field values taken from each SIPREC INVITE, as
 * `<field>=header:<Header-Name>` or `<field>=metadata:<element>` (the element's local name, in any
 * namespace, anywhere in the metadata).
 */
export const fieldSources = z.preprocess(
  patternList,
  z.array(
    z
      .string()
      .regex(
        /^[a-z][a-z0-9_]{0,39}=(header:[A-Za-z0-9!#$%&'*+.^_`|~-]+|metadata:[A-Za-z_][A-Za-z0-9._-]*)$/,
        {
          error:
            'not <field>=header:<Header-Name> or <field>=metadata:<element> (e.g. order_no=header:X-Order-Id)',
        },
      )
      .transform((e) => {
        const [field, source] = e.split('=') as [string, string];
        const at = source.indexOf(':');
        return { field, from: source.slice(0, at) as 'header' | 'metadata', name: source.slice(at + 1) };
      }),
  ),
);
/** SRS_HOOK_ENV: names of environment variables. */
export const envNameList = z.preprocess(
  patternList,
  z.array(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: 'not an environment variable name (letters, digits, _)',
    }),
  ),
);

/** `keep`, `<N>d` or `<N>h`; N up to 100 years (a date further away is invalid). */
const RETENTION = /^(?:keep|keep-all|([1-9]\d{0,5})([dh]))$/;
export const RETENTION_EXPECTED = 'use keep, <N>d (N up to 36500) or <N>h (N up to 876000)';
export function isRetentionPolicy(v: unknown): boolean {
  const m = typeof v === 'string' ? RETENTION.exec(v) : null;
  if (!m) return false;
  return m[1] === undefined || Number(m[1]) <= (m[2] === 'd' ? 36_500 : 876_000);
}
export const retentionPolicy = z.string({ error: RETENTION_EXPECTED }).refine(isRetentionPolicy, {
  error: RETENTION_EXPECTED,
});
/** `sales=90d,support=48h` (env) or { sales: '90d' } (file) -> { group: policy }, each group once. */
export const retentionGroups = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? (patternList(v) as string[]).map((x) => {
          const i = x.indexOf('=');
          return i < 0 ? [x, ''] : [x.slice(0, i).trim(), x.slice(i + 1).trim()];
        })
      : v && typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v)
        : null,
  z
    .array(z.tuple([z.string(), z.unknown()]), {
      error: 'expected group=policy pairs (an object in the file)',
    })
    .superRefine((entries, ctx) => {
      const seen = new Set<string>();
      for (const [name, policy] of entries) {
        const message =
          name === ''
            ? 'a group name is missing (use group=policy)'
            : seen.has(name)
              ? `group "${name}" is given twice`
              : isRetentionPolicy(policy)
                ? undefined
                : `group "${name}": ${RETENTION_EXPECTED}`;
        if (message) ctx.addIssue({ code: 'custom', message });
        seen.add(name);
      }
    })
    .transform((entries) => Object.fromEntries(entries) as Record<string, string>),
);

/** A Postgres connection URL (as pg reads it: postgres://user:pw@/db?host=/socket/dir is one too). */
export const postgresUrl = optionalString.pipe(
  z
    .string()
    .regex(/^(postgres(ql)?:\/\/|socket:)\S+$/, {
      error: 'expected a postgres:// or postgresql:// connection URL',
    })
    .optional(),
);

/** A console password: the length the API asks of every user's (src/api/resources/users.ts). */
export const password = optionalString.pipe(
  z
    .string()
    .min(8, { error: 'expected at least 8 characters (as for every console user)' })
    .max(200, { error: 'expected at most 200 characters' })
    .optional(),
);

/** An http(s) URL. */
export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
