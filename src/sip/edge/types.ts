/** Public option and logger types of the embedded SIP edge. */

export interface EdgeLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
  debug(o: object, msg?: string): void;
}

export interface SipEdgeOptions {
  sip: { host: string; port: number; publicAddress?: string; transports?: ('udp' | 'tcp')[] };
  control: { host: string; port: number; secret: string };
  log: EdgeLogger;
  /** RFC 3261 timers in milliseconds: T1 (default 500) and T2 (default 4000). */
  timers?: { t1?: number; t2?: number };
}

export interface SipEdge {
  /** Bound SIP port (UDP and TCP share it); known after start, also when 0 was asked for. */
  readonly sipPort: number;
  /** Bound drachtio control port. */
  readonly controlPort: number;
  /** Stop listening, cancel timers and close app connections. Safe to call twice. */
  close(): Promise<void>;
}
