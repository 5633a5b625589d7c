/** The SIP transports' options and messages (src/sip/edge/transport.ts). */
import type tls from 'node:tls';
import type { EdgeLogger } from './types.js';
import type { ConnectionLimits } from './limits.js';

export type TransportName = 'udp' | 'tcp' | 'tls';

export interface Inbound {
  data: Buffer;
  transport: TransportName;
  remoteAddress: string;
  remotePort: number;
  /**
   * A stream that could not be framed: `data` is the head of the message it stopped at, to be
   * answered with this status (400, 513) when it names enough; the connection is then closed.
   */
  refused?: { status: 400 | 513; reason: string } | undefined;
}

/**
 * The TLS listener's certificate, key and client CA (PEM), and its protocol policy: the lowest
 * version and the cipher list (OpenSSL syntax) offered; unset: Node's defaults.
 */
export interface TlsContext {
  cert: string | Buffer;
  key: string | Buffer;
  /** Mutual TLS: client certificates must chain to this CA (PEM); the handshake fails otherwise. */
  ca?: string | Buffer | undefined;
  minVersion?: tls.SecureVersion | undefined;
  ciphers?: string | undefined;
}

/** The options of a TLS context for `context` (certificate, key, CA, version and ciphers). */
export function secureOptions(c: TlsContext): tls.SecureContextOptions {
  return {
    cert: c.cert,
    key: c.key,
    ...(c.ca ? { ca: c.ca } : {}),
    ...(c.minVersion ? { minVersion: c.minVersion } : {}),
    ...(c.ciphers ? { ciphers: c.ciphers, honorCipherOrder: true } : {}),
  };
}

/**
 * The lowest version and the ciphers of a TLS connection the edge opens (a BYE to an SRC's
 * Contact): the same policy as the listener's. Unset, Node's defaults took TLS 1.2 servers that
 * offer only RSA key exchange and CBC suites (AES128-SHA).
 */
export function clientPolicy(
  p: Pick<TlsContext, 'minVersion' | 'ciphers'> | undefined,
): Pick<tls.ConnectionOptions, 'minVersion' | 'ciphers'> {
  return {
    ...(p?.minVersion ? { minVersion: p.minVersion } : {}),
    ...(p?.ciphers ? { ciphers: p.ciphers } : {}),
  };
}

export interface TransportOptions {
  host: string;
  port: number;
  transports: TransportName[];
  /** SIP over TLS (RFC 3261 26.2.1) on its own port, usually 5061, when a certificate is given. */
  tls?: ({ host?: string; port: number } & TlsContext) | undefined;
  /** The version and ciphers of the TLS connections the edge opens; unset: those of `tls`. */
  tlsClient?: Pick<TlsContext, 'minVersion' | 'ciphers'> | undefined;
  /** Connection and header limits for TCP/TLS (src/sip/edge/limits.ts). */
  limits?: Partial<ConnectionLimits> | undefined;
  /**
   * The source allowlist (SRS_SRC_ALLOW): a TCP/TLS connection from an address it refuses is closed
   * as soon as it is accepted, so that it holds no connection slot. Undefined: every address.
   */
  allowSource?: ((address: string) => boolean) | undefined;
  /** Whether a dialog uses the connection to this peer: it is then not closed as idle. */
  inUse?: ((transport: TransportName, address: string, port: number) => boolean) | undefined;
  log: EdgeLogger;
  onMessage: (msg: Inbound) => void;
}
