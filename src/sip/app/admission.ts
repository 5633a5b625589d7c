/**
 * Admission: who may open a recording session and how much one source may ask for. Pure policy over
 * addresses and counters (no I/O): the SIP application asks it before it touches the media engine.
 *
 * - SRC allowlist (SRS_SRC_ALLOW): addresses and CIDRs; `any` opens it; unset = loopback and the
 *   private ranges (RFC 1918, RFC 4193, link-local), with a loud warning at start.
 * - Streams per session (488 + Warning over the limit), concurrent sessions and new sessions per
 *   second per source address (503 + Retry-After), and a server-wide "refuse calls" reason (disk
 *   below its floor, media engine down: 503).
 */
import { BlockList, isIP } from 'node:net';

/** The default allowlist when SRS_SRC_ALLOW is unset. */
export const DEFAULT_SRC_ALLOW: readonly string[] = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

/** A refusal: the SIP status, reason phrase and headers to send. */
export interface Refusal {
  status: number;
  reason: string;
  headers: Record<string, string>;
  /** Counter label for /metrics (`srs_sip_refused_total{reason}`). */
  counter: string;
}

export interface AdmissionOptions {
  /** undefined = DEFAULT_SRC_ALLOW; ['any'] = everyone. */
  srcAllow?: readonly string[] | undefined;
  maxStreamsPerSession: number;
  /** 0 = no limit. */
  maxSessionsPerSource: number;
  /** 0 = no limit. */
  maxCallsPerSecondPerSource: number;
  /** A reason to refuse every new call now (disk full, media engine down), or null. */
  refuseAll?: () => string | null;
}

const warning = (code: number, text: string): string => `${code} srs "${text.replace(/["\\\r\n]/g, ' ')}"`;

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 form. */
export function plainAddress(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? (m[1] as string) : addr;
}

export function compileAllowList(list: readonly string[]): ((addr: string) => boolean) | null {
  if (list.includes('any')) return null;
  const bl = new BlockList();
  for (const e of list) {
    const [addr = '', bits] = e.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(addr, type);
    else bl.addSubnet(addr, Number(bits), type);
  }
  return (addr) => {
    const a = plainAddress(addr);
    const family = isIP(a);
    if (family === 0) return false;
    return bl.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/** Private, loopback or link-local (an address that does not survive NAT). */
export function isPrivateAddress(addr: string): boolean {
  const check = compileAllowList(DEFAULT_SRC_ALLOW);
  return check !== null && check(addr);
}

/**
 * The SDP connection address the media engine latches a leg on, or undefined when it is unusable:
 * absent, unspecified (0.0.0.0, ::), not an IP literal, or private while the SRC's signalling
 * comes from a public address (the SRC is behind NAT: the first source is latched instead).
 */
export function usableMediaAddress(connection: string | null, sipSource: string): string | undefined {
  if (!connection) return undefined;
  const c = plainAddress(connection);
  if (isIP(c) === 0 || c === '0.0.0.0' || c === '::') return undefined;
  const src = plainAddress(sipSource);
  if (isPrivateAddress(c) && isIP(src) !== 0 && !isPrivateAddress(src)) return undefined;
  return c;
}

export interface Admission {
  /** The allowlist as configured (for the start-up log). */
  readonly allow: readonly string[];
  readonly open: boolean;
  /** Checked before the body is parsed: allowlist and the server-wide refusal. */
  checkSource(address: string): Refusal | null;
  /** Checked once the offer is parsed: streams, per-source sessions and rate. */
  checkSession(address: string, streams: number): Refusal | null;
  /** Streams (m-lines with a port) over SRS_MAX_STREAMS: for every offer, re-INVITE and UPDATE too. */
  checkStreams(streams: number): Refusal | null;
  /** A session from `address` started (true) or ended (false). */
  track(address: string, started: boolean): void;
  /** Refusals so far by counter label. */
  readonly refused: ReadonlyMap<string, number>;
}

export function createAdmission(o: AdmissionOptions): Admission {
  const allow = o.srcAllow ?? DEFAULT_SRC_ALLOW;
  const allowed = compileAllowList(allow);
  const live = new Map<string, number>();
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refused = new Map<string, number>();
  const refuse = (r: Refusal): Refusal => {
    refused.set(r.counter, (refused.get(r.counter) ?? 0) + 1);
    return r;
  };
  const rate = o.maxCallsPerSecondPerSource;
  const takeToken = (addr: string): boolean => {
    if (!(rate > 0)) return true;
    const now = performance.now();
    const burst = Math.max(1, rate);
    const b = buckets.get(addr) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    buckets.set(addr, b);
    if (buckets.size > 10_000) {
      // Full buckets carry no state: drop them so a spray of sources cannot grow the map.
      for (const [k, v] of buckets) if (v.tokens >= burst && k !== addr) buckets.delete(k);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };
  const checkStreams = (streams: number): Refusal | null => {
    if (streams > o.maxStreamsPerSession) {
      return refuse({
        status: 488,
        reason: 'Not Acceptable Here',
        headers: {
          Warning: warning(
            399,
            `${streams} streams offered; at most ${o.maxStreamsPerSession} per session (SRS_MAX_STREAMS)`,
          ),
        },
        counter: 'too-many-streams',
      });
    }
    return null;
  };
  return {
    allow,
    open: allowed === null,
    refused,
    checkSource(address) {
      const a = plainAddress(address);
      if (allowed && !allowed(a)) {
        return refuse({
          status: 403,
          reason: 'Forbidden',
          headers: { Warning: warning(399, `source ${a} is not allowed to record (SRS_SRC_ALLOW)`) },
          counter: 'source-not-allowed',
        });
      }
      const why = o.refuseAll?.() ?? null;
      if (why !== null) {
        return refuse({
          status: 503,
          reason: 'Service Unavailable',
          headers: { 'Retry-After': '30', Warning: warning(399, why) },
          counter: 'refusing-calls',
        });
      }
      return null;
    },
    checkStreams,
    checkSession(address, streams) {
      const a = plainAddress(address);
      const tooMany = checkStreams(streams);
      if (tooMany) return tooMany;
      if (o.maxSessionsPerSource > 0 && (live.get(a) ?? 0) >= o.maxSessionsPerSource) {
        return refuse({
          status: 503,
          reason: 'Service Unavailable',
          headers: {
            'Retry-After': '5',
            Warning: warning(399, `source ${a} has ${o.maxSessionsPerSource} sessions open (the limit)`),
          },
          counter: 'source-sessions',
        });
      }
      if (!takeToken(a)) {
        return refuse({
          status: 503,
          reason: 'Service Unavailable',
          headers: {
            'Retry-After': '1',
            Warning: warning(399, `source ${a} is over ${rate} new sessions per second`),
          },
          counter: 'source-rate',
        });
      }
      return null;
    },
    track(address, started) {
      const a = plainAddress(address);
      const n = (live.get(a) ?? 0) + (started ? 1 : -1);
      if (n <= 0) live.delete(a);
      else live.set(a, n);
    },
  };
}

/** Token bucket: `rate` new sessions a second with a burst of one second. */
export function rateLimiter(rate: number): () => boolean {
  if (!(rate > 0)) return () => true;
  const burst = Math.max(1, rate);
  let tokens = burst;
  let last = performance.now();
  return () => {
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}
