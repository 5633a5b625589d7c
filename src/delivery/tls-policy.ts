import type { Config } from '../config.js';
import { DEFAULT_TLS_POLICY, type TlsPolicy } from '../config/tls-policy.js';

// The defaults and the message of a server below the policy, shared with the webhook, S3 and LDAP.
export { belowPolicyMessage, DEFAULT_TLS_POLICY } from '../config/tls-policy.js';

/**
 * The server's TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS; src/config/tls-policy.ts) on
 * delivery's TLS clients: FTPS (control and data connections), SMTP (notifications, journal) and
 * an S3 destination's https endpoint.
 * Both carry decrypted recordings; without it they took what Node takes, down to a TLS 1.2 server
 * that offers nothing better than AES128-SHA (RSA key exchange: no forward secrecy).
 */

/** The policy of `config` (its `security` settings), else the defaults. */
export const deliveryTlsPolicy = (config: Partial<Pick<Config, 'security'>>): TlsPolicy =>
  config.security
    ? { minVersion: config.security.tlsMinVersion, ciphers: config.security.tlsCiphers }
    : DEFAULT_TLS_POLICY;

/** An FTP or S3 destination with the policy its connections follow; any other kind as it is. */
export function withTlsPolicy<D extends { type?: string | undefined } | undefined>(d: D, tls: TlsPolicy): D {
  return d?.type === 'ftp' || d?.type === 's3' ? { ...d, tlsPolicy: tls } : d;
}
