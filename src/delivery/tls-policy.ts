import type { Config } from '../config.js';
import { DEFAULT_TLS_CIPHERS, type TlsPolicy } from '../config/tls-policy.js';

/**
 * The server's TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS; src/config/tls-policy.ts) on
 * delivery's TLS clients: FTPS (control and data connections) and SMTP (notifications, journal).
 * Both carry decrypted recordings; without it they took what Node takes, down to a TLS 1.2 server
 * that offers nothing better than AES128-SHA (RSA key exchange: no forward secrecy).
 */

/** What a client is held to when it is given no policy: the settings' defaults. */
export const DEFAULT_TLS_POLICY: TlsPolicy = { minVersion: 'TLSv1.2', ciphers: DEFAULT_TLS_CIPHERS };

/** The policy of `config` (its `security` settings), else the defaults. */
export const deliveryTlsPolicy = (config: Partial<Pick<Config, 'security'>>): TlsPolicy =>
  config.security
    ? { minVersion: config.security.tlsMinVersion, ciphers: config.security.tlsCiphers }
    : DEFAULT_TLS_POLICY;

/** An FTP destination with the policy its connections follow; any other kind as it is. */
export function withTlsPolicy<D extends { type?: string | undefined } | undefined>(d: D, tls: TlsPolicy): D {
  return d?.type === 'ftp' ? { ...d, tlsPolicy: tls } : d;
}

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
