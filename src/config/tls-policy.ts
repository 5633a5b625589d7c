/**
 * The TLS policy of every TLS endpoint of the server (SIP over TLS and HTTPS listeners, the SIP
 * edge's own TLS connections, a node's calls to its peers, FTPS and SMTP delivery, the webhook, S3,
 * LDAP): the lowest protocol version (SRS_TLS_MIN_VERSION) and the cipher list in OpenSSL's syntax
 * (SRS_TLS_CIPHERS). Checked at start against the OpenSSL that Node runs, so that a list it would
 * refuse or silently shorten is named there rather than found at the first handshake.
 */
import { createSecureContext, type SecureVersion } from 'node:tls';
import { z } from 'zod';

/**
 * TLS 1.3's suites, then in TLS 1.2 only ECDHE key exchange with AEAD ciphers (the Mozilla
 * "intermediate" list without DHE). Node's defaults also took AES128-SHA and the other
 * RSA-key-exchange and CBC suites: a recording of the SIP signalling (which carries the SRTP keys)
 * could then be read by whoever got the certificate's private key later.
 */
export const DEFAULT_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The lowest TLS version taken and the cipher list: what every TLS context of the server is given. */
export interface TlsPolicy {
  minVersion: SecureVersion;
  ciphers: string;
}

/** Whether OpenSSL makes a context of `ciphers` (it refuses a list that leaves no cipher). */
function opensslTakes(ciphers: string): boolean {
  try {
    createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}

/**
 * What is wrong with an OpenSSL cipher list, or undefined. OpenSSL skips a name it does not know
 * as long as another one matches: `ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA348` (a
 * typo) would quietly leave one suite. So each name is tried alone (operators such as `!aNULL`,
 * `-RSA`, `+AES` and `@SECLEVEL=2` take no cipher of their own and are tried with the list).
 */
export function cipherListProblem(list: string): string | undefined {
  const items = list.split(/[:, ]+/).filter((x) => x !== '');
  if (items.length === 0) return 'expected an OpenSSL cipher list (names separated by colons)';
  const unknown = items.filter((x) => !/^[!+\-@]/.test(x) && !opensslTakes(x));
  if (unknown.length > 0)
    return `OpenSSL (${process.versions.openssl}) knows no cipher ${unknown.map((x) => x.slice(0, 60)).join(', ')}`;
  if (!opensslTakes(items.join(':'))) return 'OpenSSL refuses the list: it leaves no cipher';
  return undefined;
}

/** SRS_TLS_CIPHERS: a list OpenSSL takes whole and name by name; colon-separated once read. */
export const cipherList = z
  .string({ error: 'expected an OpenSSL cipher list (names separated by colons)' })
  .superRefine((v, ctx) => {
    const problem = cipherListProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((v) =>
    v
      .split(/[:, ]+/)
      .filter((x) => x !== '')
      .join(':'),
  );

/** SRS_TLS_MIN_VERSION: TLS 1.2 or 1.3; TLS 1.0 and 1.1 are refused (RFC 8996 deprecates them). */
export const tlsMinVersion = z.enum(['TLSv1.2', 'TLSv1.3'], {
  error: 'expected TLSv1.2 or TLSv1.3 (TLS 1.0 and 1.1 are refused: RFC 8996 deprecates them)',
});

/** What a TLS client is held to when it is given no policy: the settings' defaults. */
export const DEFAULT_TLS_POLICY: TlsPolicy = { minVersion: 'TLSv1.2', ciphers: DEFAULT_TLS_CIPHERS };

/**
 * OpenSSL's answers when client and server share no protocol version or no cipher: a server whose
 * TLS falls short of the policy (or a policy the server does not reach).
 */
const BELOW_POLICY =
  /ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|SSLV3_ALERT_HANDSHAKE_FAILURE|NO_SHARED_CIPHER|NO_CIPHERS_AVAILABLE)|alert protocol version|alert handshake failure|no shared cipher|unsupported protocol/i;

/** `err` said as a server below the policy (`what`: "the FTPS server"), or undefined for another error. */
export function belowPolicyMessage(
  err: Error & { code?: string },
  tls: TlsPolicy,
  what: string,
): string | undefined {
  if (!BELOW_POLICY.test(`${err.code ?? ''} ${err.message}`)) return undefined;
  return (
    `${what} offers no TLS version or cipher that SRS_TLS_MIN_VERSION (${tls.minVersion}) and ` +
    `SRS_TLS_CIPHERS allow (${err.message.trim()}): upgrade its TLS (TLS 1.2 with ECDHE and AES-GCM or ` +
    'ChaCha20, or TLS 1.3), or widen SRS_TLS_MIN_VERSION / SRS_TLS_CIPHERS'
  );
}
