import type { ConnectionLimits, LimitCounters } from './limits.js';
import type { ByeFallbackCounters } from './bye-fallback.js';
import type { TlsContext } from './transport.js';

/** Public option and logger types of the embedded SIP edge. */

export interface EdgeLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
  debug(o: object, msg?: string): void;
}

export interface SipEdgeOptions {
  sip: {
    host: string;
    port: number;
    publicAddress?: string;
    transports?: ('udp' | 'tcp')[];
    /**
     * SIP over TLS on its own port (5061 by convention; 0 = any) with this PEM certificate and key,
     * client CA, lowest version and ciphers.
     */
    tls?: { port: number } & TlsContext;
    /** The version and ciphers of the TLS connections the edge opens; unset: those of `tls`. */
    tlsClient?: Pick<TlsContext, 'minVersion' | 'ciphers'>;
    /** TCP/TLS connection and header limits (src/sip/edge/limits.ts); defaults there. */
    limits?: Partial<ConnectionLimits>;
    /**
     * The source allowlist (SRS_SRC_ALLOW): TCP/TLS connections from other addresses are closed as
     * soon as they are accepted. Undefined: every address may connect.
     */
    allowSource?: ((address: string) => boolean) | undefined;
  };
  control: { host: string; port: number; secret: string };
  log: EdgeLogger;
  /** RFC 3261 timers in milliseconds: T1 (default 500) and T2 (default 4000). */
  timers?: { t1?: number; t2?: number };
}

export interface SipEdge {
  /** Bound SIP port (UDP and TCP share it); known after start, also when 0 was asked for. */
  readonly sipPort: number;
  /** Bound TLS port, 0 when TLS is off. */
  readonly tlsPort: number;
  /** Bound drachtio control port. */
  readonly controlPort: number;
  /** SIP responses sent, by status code (retransmissions included), for /metrics. */
  readonly responsesSent: ReadonlyMap<number, number>;
  /** TCP/TLS connections refused or closed by the limits, and open now (for /metrics). */
  readonly connectionLimits: Readonly<LimitCounters> & { readonly open: number };
  /** What followed BYEs whose remote target failed: resent to the INVITE's source, and after. */
  readonly byeFallback: Readonly<ByeFallbackCounters>;
  /** The verified client certificate subject of a mutual-TLS peer, if any. */
  tlsSubject(address: string, port: number): string | undefined;
  /**
   * Serve this certificate, key and client CA from the next TLS handshake on (a renewed
   * certificate); throws, keeping the ones in use, when they do not go together or TLS is off.
   */
  setTls(c: TlsContext): void;
  /** Stop listening, cancel timers and close app connections. Safe to call twice. */
  close(): Promise<void>;
}
